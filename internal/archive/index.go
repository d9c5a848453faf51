package archive

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
)

// Object is one archived object as the index knows it.
type Object struct {
	Key        string            `json:"key"`
	PolicyID   string            `json:"policy_id"`
	JobID      string            `json:"job_id"`
	Bucket     string            `json:"bucket"`
	Size       int64             `json:"size"`
	RawBytes   int64             `json:"raw_bytes"`
	Lines      int64             `json:"line_count"`
	StartTime  time.Time         `json:"start_time"`
	EndTime    time.Time         `json:"end_time"`
	Cluster    string            `json:"cluster"`
	Namespace  string            `json:"namespace"`
	Pod        string            `json:"pod"`
	Container  string            `json:"container"`
	Labels     map[string]string `json:"labels"`
	ETag       string            `json:"etag"`
	CreatedAt  time.Time         `json:"created_at"`
	tenant     string
	streamHash string
	hour       int64
	bloom      []byte
}

// FirstTs and LastTs are the object's time range in Unix nanoseconds.
func (o *Object) FirstTs() int64 { return o.StartTime.UnixNano() }
func (o *Object) LastTs() int64  { return o.EndTime.UnixNano() }

// Index is the table of archived objects in the metadata database.
type Index struct {
	db *sql.DB
}

// NewIndex uses db.
func NewIndex(db *meta.DB) *Index { return &Index{db: db.SQL()} }

// putAll records objects in one transaction.
func (x *Index) putAll(ctx context.Context, objs []*Object) error {
	if len(objs) == 0 {
		return nil
	}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, o := range objs {
		if err := put(ctx, tx, o); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func put(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, o *Object) error {
	labels, _ := json.Marshal(o.Labels)
	_, err := db.ExecContext(ctx, `INSERT INTO archive_objects (policy_id, object_key, tenant, job_id, bucket, stream_hash, hour, cluster, namespace, pod, container, labels, first_ts, last_ts, lines, raw_bytes, size, md5, bloom, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (policy_id, object_key) DO UPDATE SET job_id = excluded.job_id, stream_hash = excluded.stream_hash, hour = excluded.hour, lines = excluded.lines, raw_bytes = excluded.raw_bytes, size = excluded.size, md5 = excluded.md5, bloom = excluded.bloom, created_at = excluded.created_at`,
		o.PolicyID, o.Key, o.tenant, o.JobID, o.Bucket, o.streamHash, o.hour, o.Cluster, o.Namespace, o.Pod, o.Container, string(labels),
		o.FirstTs(), o.LastTs(), o.Lines, o.RawBytes, o.Size, o.ETag, base64.StdEncoding.EncodeToString(o.bloom), o.CreatedAt.UnixNano())
	return err
}

// done returns the set of stream_hash/hour pairs a job has written.
func (x *Index) done(ctx context.Context, jobID string) (map[string]bool, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT stream_hash, hour FROM archive_objects WHERE job_id = ?`, jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var h string
		var hour int64
		if err := rows.Scan(&h, &hour); err != nil {
			return nil, err
		}
		out[doneKey(h, hour)] = true
	}
	return out, rows.Err()
}

func doneKey(streamHash string, hour int64) string {
	return streamHash + "/" + strconv.FormatInt(hour, 10)
}

const objectCols = `policy_id, object_key, tenant, job_id, bucket, stream_hash, hour, cluster, namespace, pod, container, labels, first_ts, last_ts, lines, raw_bytes, size, md5, bloom, created_at`

func scanObject(sc interface{ Scan(...any) error }) (Object, error) {
	var o Object
	var labels, bloom string
	var first, last, created int64
	if err := sc.Scan(&o.PolicyID, &o.Key, &o.tenant, &o.JobID, &o.Bucket, &o.streamHash, &o.hour, &o.Cluster, &o.Namespace, &o.Pod, &o.Container,
		&labels, &first, &last, &o.Lines, &o.RawBytes, &o.Size, &o.ETag, &bloom, &created); err != nil {
		return o, err
	}
	var err error
	if o.bloom, err = base64.StdEncoding.DecodeString(bloom); err != nil {
		return o, fmt.Errorf("archive index bloom: %w", err)
	}
	if err := json.Unmarshal([]byte(labels), &o.Labels); err != nil {
		return o, fmt.Errorf("archive index labels: %w", err)
	}
	o.StartTime, o.EndTime, o.CreatedAt = time.Unix(0, first).UTC(), time.Unix(0, last).UTC(), time.Unix(0, created).UTC()
	return o, nil
}

// Filter selects objects of a tenant.
type Filter struct {
	Tenant                             string
	PolicyID, JobID                    string
	Cluster, Namespace, Pod, Container string
	// Start and End select objects whose range overlaps [Start, End); zero
	// means unbounded.
	Start, End int64
	// After continues a listing after a NextCursor.
	After string
	Limit int
}

// ErrBadCursor is a listing cursor this index did not write.
var ErrBadCursor = errors.New("not a next_cursor returned by this API")

func encodeListCursor(o *Object) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(o.FirstTs(), 10) + "\x00" + o.PolicyID + "\x00" + o.Key))
}

func decodeListCursor(s string) (int64, string, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", "", ErrBadCursor
	}
	parts := strings.SplitN(string(raw), "\x00", 3)
	if len(parts) != 3 {
		return 0, "", "", ErrBadCursor
	}
	ts, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, "", "", ErrBadCursor
	}
	return ts, parts[1], parts[2], nil
}

// List returns objects in (first_ts, policy, key) order, with a cursor for
// the next page when there are more.
func (x *Index) List(ctx context.Context, f Filter) ([]Object, string, error) {
	where := []string{"tenant = ?"}
	args := []any{f.Tenant}
	for _, c := range []struct{ col, v string }{{"policy_id", f.PolicyID}, {"job_id", f.JobID}, {"cluster", f.Cluster}, {"namespace", f.Namespace}, {"pod", f.Pod}, {"container", f.Container}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.Start != 0 {
		where = append(where, "last_ts >= ?")
		args = append(args, f.Start)
	}
	if f.End != 0 {
		where = append(where, "first_ts < ?")
		args = append(args, f.End)
	}
	if f.After != "" {
		ts, pol, key, err := decodeListCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(first_ts > ? OR (first_ts = ? AND (policy_id > ? OR (policy_id = ? AND object_key > ?))))")
		args = append(args, ts, ts, pol, pol, key)
	}
	q := `SELECT ` + objectCols + ` FROM archive_objects WHERE ` + strings.Join(where, " AND ") + ` ORDER BY first_ts, policy_id, object_key` // #nosec G202 -- the clauses are constants with ? placeholders; values are bound
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit+1)
	}
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []Object{}
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
		next = encodeListCursor(&out[len(out)-1])
	}
	return out, next, nil
}

// Lookup returns the object with key in tenant, from any policy.
func (x *Index) Lookup(ctx context.Context, tenant, key string) (Object, error) {
	row := x.db.QueryRowContext(ctx, `SELECT `+objectCols+` FROM archive_objects WHERE tenant = ? AND object_key = ? ORDER BY created_at DESC LIMIT 1`, tenant, key)
	o, err := scanObject(row)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("archived object %q: %w", key, meta.ErrNotFound)
	}
	return o, err
}

// Totals are counts over a set of objects.
type Totals struct {
	Objects          int64   `json:"objects"`
	Bytes            int64   `json:"bytes"`
	RawBytes         int64   `json:"raw_bytes"`
	Lines            int64   `json:"lines"`
	CompressionRatio float64 `json:"compression_ratio"`
	OldestTime       string  `json:"oldest_time,omitempty"`
	NewestTime       string  `json:"newest_time,omitempty"`
}

// Stats sums a tenant's objects, grouped by column group ("" for all).
func (x *Index) Stats(ctx context.Context, tenant, group string) (map[string]Totals, error) {
	col := "''"
	switch group {
	case "policy_id", "namespace", "bucket":
		col = group
	case "":
	default:
		return nil, fmt.Errorf("BUG: archive stats group %q", group)
	}
	rows, err := x.db.QueryContext(ctx, `SELECT `+col+`, COUNT(*), COALESCE(SUM(size),0), COALESCE(SUM(raw_bytes),0), COALESCE(SUM(lines),0), COALESCE(MIN(first_ts),0), COALESCE(MAX(last_ts),0)
		FROM archive_objects WHERE tenant = ? OR ? = '' GROUP BY `+col, tenant, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Totals{}
	for rows.Next() {
		var k string
		var t Totals
		var oldest, newest int64
		if err := rows.Scan(&k, &t.Objects, &t.Bytes, &t.RawBytes, &t.Lines, &oldest, &newest); err != nil {
			return nil, err
		}
		if t.Bytes > 0 {
			t.CompressionRatio = float64(t.RawBytes) / float64(t.Bytes)
		}
		if t.Objects > 0 {
			t.OldestTime = time.Unix(0, oldest).UTC().Format(time.RFC3339Nano)
			t.NewestTime = time.Unix(0, newest).UTC().Format(time.RFC3339Nano)
		}
		out[k] = t
	}
	return out, rows.Err()
}
