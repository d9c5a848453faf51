package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
)

// Job statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// ValidStatus reports whether s is a job status.
func ValidStatus(s string) bool {
	switch s {
	case StatusPending, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Progress is what a job has done so far.
type Progress struct {
	Objects         int64   `json:"objects"`
	Lines           int64   `json:"lines"`
	RawBytes        int64   `json:"raw_bytes"`
	CompressedBytes int64   `json:"compressed_bytes"`
	TotalLines      int64   `json:"total_lines"`
	Percent         float64 `json:"percent"`
}

// Job is one run of a policy over a time range.
type Job struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	PolicyID string `json:"policy_id"`
	Status   string `json:"status"`
	// StartTime and EndTime bound the entries archived: [start, end).
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	Progress  Progress  `json:"progress"`
	// ManifestKey names the manifest object, once written.
	ManifestKey string `json:"manifest_key,omitempty"`
	// DeletedEntries counts local entries removed after verification
	// (delete_after_archive).
	DeletedEntries int64      `json:"deleted_entries"`
	Error          string     `json:"error"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	snapshotSeq    uint64
}

// jobState is the progress column: the fields that change while a job runs.
type jobState struct {
	Progress       Progress `json:"progress"`
	ManifestKey    string   `json:"manifest_key,omitempty"`
	DeletedEntries int64    `json:"deleted_entries,omitempty"`
}

// Jobs stores jobs in the metadata database.
type Jobs struct {
	db *sql.DB
}

// NewJobs uses db.
func NewJobs(db *meta.DB) *Jobs { return &Jobs{db: db.SQL()} }

func (s *Jobs) create(ctx context.Context, j *Job) error {
	st, _ := json.Marshal(jobState{Progress: j.Progress})
	_, err := s.db.ExecContext(ctx, `INSERT INTO archive_jobs (id, tenant, policy_id, status, range_start, range_end, snapshot_seq, progress, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Tenant, j.PolicyID, j.Status, j.StartTime.UnixNano(), j.EndTime.UnixNano(), int64(j.snapshotSeq), string(st), j.CreatedAt.UnixNano())
	return err
}

// save writes a job's status, progress, error and times.
func (s *Jobs) save(ctx context.Context, j *Job) error {
	st, _ := json.Marshal(jobState{Progress: j.Progress, ManifestKey: j.ManifestKey, DeletedEntries: j.DeletedEntries})
	var started, finished int64
	if j.StartedAt != nil {
		started = j.StartedAt.UnixNano()
	}
	if j.FinishedAt != nil {
		finished = j.FinishedAt.UnixNano()
	}
	_, err := s.db.ExecContext(ctx, `UPDATE archive_jobs SET status = ?, progress = ?, error = ?, started_at = ?, finished_at = ? WHERE id = ?`,
		j.Status, string(st), j.Error, started, finished, j.ID)
	return err
}

const jobCols = `id, tenant, policy_id, status, range_start, range_end, snapshot_seq, progress, error, created_at, started_at, finished_at`

func scanJob(sc interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var rs, re, snap, created, started, finished int64
	var state string
	if err := sc.Scan(&j.ID, &j.Tenant, &j.PolicyID, &j.Status, &rs, &re, &snap, &state, &j.Error, &created, &started, &finished); err != nil {
		return j, err
	}
	var st jobState
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return j, fmt.Errorf("archive job state: %w", err)
	}
	j.Progress, j.ManifestKey, j.DeletedEntries = st.Progress, st.ManifestKey, st.DeletedEntries
	j.StartTime, j.EndTime, j.CreatedAt = time.Unix(0, rs).UTC(), time.Unix(0, re).UTC(), time.Unix(0, created).UTC()
	j.snapshotSeq = uint64(snap)
	if started > 0 {
		t := time.Unix(0, started).UTC()
		j.StartedAt = &t
	}
	if finished > 0 {
		t := time.Unix(0, finished).UTC()
		j.FinishedAt = &t
	}
	return j, nil
}

// Get returns a job of tenant ("" for any tenant).
func (s *Jobs) Get(ctx context.Context, tenant, id string) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM archive_jobs WHERE id = ? AND (tenant = ? OR ? = '')`, id, tenant, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("archive job %q: %w", id, meta.ErrNotFound)
	}
	return j, err
}

// JobFilter selects jobs.
type JobFilter struct {
	Tenant   string
	PolicyID string
	Statuses []string
	Limit    int
}

// List returns jobs, newest first.
func (s *Jobs) List(ctx context.Context, f JobFilter) ([]Job, error) {
	where := []string{"(tenant = ? OR ? = '')"}
	args := []any{f.Tenant, f.Tenant}
	if f.PolicyID != "" {
		where = append(where, "policy_id = ?")
		args = append(args, f.PolicyID)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(f.Statuses)-1)+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	q := `SELECT ` + jobCols + ` FROM archive_jobs WHERE ` + strings.Join(where, " AND ") + ` ORDER BY created_at DESC, id` // #nosec G202 -- the clauses are constants with ? placeholders; values are bound
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
