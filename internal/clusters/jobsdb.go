package clusters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
)

// Job kinds.
const (
	KindOnce       = "once"
	KindContinuous = "continuous"
	KindBulk       = "bulk"
)

// Job statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// JobRequest is what a job collects.
type JobRequest struct {
	// Namespace holds the pods; empty in a bulk job means every namespace.
	Namespace string `json:"namespace,omitempty"`
	// Pods names pods; when empty, LabelSelector selects them.
	Pods          []string `json:"pods,omitempty"`
	LabelSelector string   `json:"label_selector,omitempty"`
	// Containers names containers; empty means all.
	Containers []string  `json:"containers,omitempty"`
	SinceTime  time.Time `json:"since_time,omitzero"`
	TailLines  int64     `json:"tail_lines,omitempty"`
	Previous   bool      `json:"previous,omitempty"`
}

// PodProgress is what a job did for one container.
type PodProgress struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Lines     int64  `json:"lines"`
	Bytes     int64  `json:"bytes"`
	// Status is running, succeeded or failed.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Job is a collection job.
type Job struct {
	ID, Tenant, ClusterID string
	Kind                  string
	Request               JobRequest
	Status                string
	Lines, Bytes          int64
	Errors                []string
	Progress              []PodProgress
	CreatedAt             time.Time
	StartedAt, EndedAt    time.Time
}

// Finished reports whether the job ended.
func (j Job) Finished() bool {
	return j.Status == StatusSucceeded || j.Status == StatusFailed || j.Status == StatusCancelled
}

const jobColumns = `id, tenant, cluster_id, kind, request, status, lines, bytes, errors, progress, created_at, started_at, ended_at`

func scanJob(s scanner) (Job, error) {
	var j Job
	var req, errs, prog string
	var created, started, ended sql.NullInt64
	if err := s.Scan(&j.ID, &j.Tenant, &j.ClusterID, &j.Kind, &req, &j.Status, &j.Lines, &j.Bytes, &errs, &prog, &created, &started, &ended); err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(req), &j.Request); err != nil {
		return j, fmt.Errorf("request of job %s: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(errs), &j.Errors); err != nil {
		return j, fmt.Errorf("errors of job %s: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(prog), &j.Progress); err != nil {
		return j, fmt.Errorf("progress of job %s: %w", j.ID, err)
	}
	j.CreatedAt, j.StartedAt, j.EndedAt = meta.FromNanos(created), meta.FromNanos(started), meta.FromNanos(ended)
	return j, nil
}

func jobJSON(j Job) (req, errs, prog string) {
	r, _ := json.Marshal(j.Request)
	if j.Errors == nil {
		j.Errors = []string{}
	}
	e, _ := json.Marshal(j.Errors)
	if j.Progress == nil {
		j.Progress = []PodProgress{}
	}
	p, _ := json.Marshal(j.Progress)
	return string(r), string(e), string(p)
}

// insertJob inserts j.
func (d *db) insertJob(ctx context.Context, j Job) error {
	req, errs, prog := jobJSON(j)
	_, err := d.sql.ExecContext(ctx, `INSERT INTO collect_jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Tenant, j.ClusterID, j.Kind, req, j.Status, j.Lines, j.Bytes, errs, prog,
		j.CreatedAt.UnixNano(), meta.Nanos(j.StartedAt), meta.Nanos(j.EndedAt))
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	return nil
}

// saveJob writes j's state.
func (d *db) saveJob(ctx context.Context, j Job) error {
	_, errs, prog := jobJSON(j)
	_, err := d.sql.ExecContext(ctx, `UPDATE collect_jobs SET status = ?, lines = ?, bytes = ?, errors = ?, progress = ?, started_at = ?, ended_at = ? WHERE id = ?`,
		j.Status, j.Lines, j.Bytes, errs, prog, meta.Nanos(j.StartedAt), meta.Nanos(j.EndedAt), j.ID)
	if err != nil {
		return fmt.Errorf("save job %s: %w", j.ID, err)
	}
	return nil
}

// getJob returns a job of the tenant ("" for any).
func (d *db) getJob(ctx context.Context, tenant, id string) (Job, error) {
	q, args := `SELECT `+jobColumns+` FROM collect_jobs WHERE id = ?`, []any{id}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	j, err := scanJob(d.sql.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("job %s: %w", id, meta.ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("get job: %w", err)
	}
	return j, nil
}

// JobFilter selects jobs; empty fields match all.
type JobFilter struct {
	Tenant, ClusterID, Status string
}

// listJobs returns the jobs matching f, newest first.
func (d *db) listJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	q, args := `SELECT `+jobColumns+` FROM collect_jobs WHERE 1 = 1`, []any(nil)
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"cluster_id", f.ClusterID}, {"status", f.Status}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	rows, err := d.sql.QueryContext(ctx, q+` ORDER BY created_at DESC, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
