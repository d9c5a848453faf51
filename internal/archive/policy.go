// Package archive writes a tenant's logs to S3-compatible object storage as
// open files (NDJSON, zstd or gzip, one object per stream and hour), and
// reads them back: policies say what to archive and where, jobs do it on a
// schedule or on demand and resume after a crash, an index of the objects in
// the metadata database serves listings, statistics and query pruning
// without LIST calls.
package archive

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// Redacted replaces secrets in answers.
const Redacted = "<redacted>"

// Destination is where a policy writes: an S3-compatible bucket.
type Destination struct {
	// Endpoint is host[:port], or a URL whose scheme sets TLS.
	Endpoint        string `json:"endpoint"`
	Region          string `json:"region"`
	Bucket          string `json:"bucket"`
	Prefix          string `json:"prefix"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	PathStyle       bool   `json:"path_style"`
	TLS             bool   `json:"tls"`
}

// Policy selects a tenant's logs older than an age and archives them on a
// schedule.
type Policy struct {
	ID                 string      `json:"id"`
	Name               string      `json:"name"`
	Tenant             string      `json:"tenant"`
	Selector           string      `json:"selector"`
	OlderThan          string      `json:"older_than"`
	Schedule           string      `json:"schedule"`
	Compression        string      `json:"compression"`
	Destination        Destination `json:"destination"`
	DeleteAfterArchive bool        `json:"delete_after_archive"`
	Enabled            bool        `json:"enabled"`
	CreatedAt          time.Time   `json:"created_at"`
	UpdatedAt          time.Time   `json:"updated_at"`
	// ArchivedUntil is the end of the range archived so far: the next
	// scheduled job starts there.
	ArchivedUntil time.Time `json:"archived_until,omitzero"`
	LastRunAt     time.Time `json:"last_run_at,omitzero"`
}

// Redact returns p with its secret replaced.
func (p Policy) Redact() Policy {
	if p.Destination.SecretAccessKey != "" {
		p.Destination.SecretAccessKey = Redacted
	}
	return p
}

// FieldError is a bad policy field; the API answers 400 with it.
type FieldError struct {
	Field   string
	Message string
	// ID is the API's error id when it is more specific than bad_request
	// (endpoint_unreachable, endpoint_refused_by_policy).
	ID string
	// Cause is what went wrong underneath, for the server log only.
	Cause error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Normalize fills defaults and checks every field but the bucket's
// reachability (see CheckDestination).
func (p *Policy) Normalize() error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 128 {
		return fieldErr("name", "must be 1 to 128 characters")
	}
	if _, err := p.Matchers(); err != nil {
		return err
	}
	if p.OlderThan == "" {
		p.OlderThan = "7d"
	}
	if _, err := p.Age(); err != nil {
		return err
	}
	if p.Schedule == "" {
		p.Schedule = "@daily"
	}
	if _, err := ParseSchedule(p.Schedule); err != nil {
		return fieldErr("schedule", "%v", err)
	}
	if p.Compression == "" {
		p.Compression = CompressionZstd
	}
	if p.Compression != CompressionZstd && p.Compression != CompressionGzip {
		return fieldErr("compression", "%q is not zstd or gzip", p.Compression)
	}
	d := &p.Destination
	d.Prefix = strings.Trim(d.Prefix, "/")
	if strings.Contains(d.Prefix, "//") {
		return fieldErr("destination.prefix", "must not contain an empty path component")
	}
	if d.Endpoint == "" {
		return fieldErr("destination.endpoint", "is required")
	}
	if d.Bucket == "" {
		return fieldErr("destination.bucket", "is required")
	}
	if d.AccessKeyID == "" {
		return fieldErr("destination.access_key_id", "is required")
	}
	if d.SecretAccessKey == "" || d.SecretAccessKey == Redacted {
		return fieldErr("destination.secret_access_key", "is required")
	}
	return nil
}

// Matchers parses the selector into store matchers.
func (p *Policy) Matchers() ([]logmodel.Matcher, error) {
	if strings.TrimSpace(p.Selector) == "" {
		return nil, fieldErr("selector", "is required, a LogQL stream selector such as {namespace=\"pay\"}")
	}
	expr, err := logql.ParseExpr(p.Selector)
	if err != nil {
		return nil, fieldErr("selector", "%v", err)
	}
	le, ok := expr.(*logql.LogExpr)
	if !ok || len(le.Pipeline) > 0 {
		return nil, fieldErr("selector", "must be a stream selector only, such as {namespace=\"pay\"}")
	}
	return le.Matchers, nil
}

// Age parses older_than.
func (p *Policy) Age() (time.Duration, error) {
	d, err := timeparse.ParseDuration(p.OlderThan)
	if err != nil || d < 0 {
		return 0, fieldErr("older_than", "%q is not a duration such as 7d, 12h or 0", p.OlderThan)
	}
	return d, nil
}

// Policies stores policies in the metadata database, with each secret
// access key sealed by the keyring.
type Policies struct {
	db   *sql.DB
	keys *secrets.Keyring
}

// NewPolicies uses db, sealing secrets with keys.
func NewPolicies(db *meta.DB, keys *secrets.Keyring) *Policies {
	return &Policies{db: db.SQL(), keys: keys}
}

// secretPlace is the additional data that binds a sealed secret access key
// to its policy.
func secretPlace(id string) string { return "archive_policies.secret_access_key:" + id }

// spec returns the stored form of p: its JSON, with the secret sealed.
func (s *Policies) spec(p *Policy) (string, error) {
	q := *p
	sealed, err := s.keys.Seal([]byte(p.Destination.SecretAccessKey), secretPlace(p.ID))
	if err != nil {
		return "", fmt.Errorf("archive policy %s: seal the secret access key: %w", p.ID, err)
	}
	q.Destination.SecretAccessKey = sealed
	b, err := json.Marshal(q)
	return string(b), err
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Create stores a new policy, giving it an id and times.
func (s *Policies) Create(ctx context.Context, p *Policy, now time.Time) error {
	p.ID = newID("ap_")
	p.CreatedAt, p.UpdatedAt = now.UTC(), now.UTC()
	spec, err := s.spec(p)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO archive_policies (id, tenant, name, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, p.Tenant, p.Name, spec, now.UnixNano(), now.UnixNano())
	if errors.Is(meta.ConstraintKind(err), meta.ErrConflict) {
		return fmt.Errorf("archive policy %q already exists: %w", p.Name, meta.ErrConflict)
	}
	return err
}

// Update replaces a policy's definition, keeping its id, creation time and
// progress.
func (s *Policies) Update(ctx context.Context, p *Policy, now time.Time) error {
	p.UpdatedAt = now.UTC()
	spec, err := s.spec(p)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE archive_policies SET name = ?, spec = ?, updated_at = ? WHERE id = ? AND tenant = ?`,
		p.Name, spec, now.UnixNano(), p.ID, p.Tenant)
	if err != nil {
		if errors.Is(meta.ConstraintKind(err), meta.ErrConflict) {
			return fmt.Errorf("archive policy %q already exists: %w", p.Name, meta.ErrConflict)
		}
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("archive policy %q: %w", p.ID, meta.ErrNotFound)
	}
	return nil
}

// Delete removes a policy of tenant.
func (s *Policies) Delete(ctx context.Context, tenant, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM archive_policies WHERE id = ? AND tenant = ?`, id, tenant)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("archive policy %q: %w", id, meta.ErrNotFound)
	}
	return nil
}

const policyCols = `spec, archived_until, last_run_at`

// scan reads a policy row and opens its secret.
func (s *Policies) scan(sc interface{ Scan(...any) error }) (Policy, error) {
	var p Policy
	var spec string
	var until, last int64
	if err := sc.Scan(&spec, &until, &last); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(spec), &p); err != nil {
		return p, fmt.Errorf("archive policy spec: %w", err)
	}
	if secrets.IsSealed(p.Destination.SecretAccessKey) {
		plain, err := s.keys.Open(p.Destination.SecretAccessKey, secretPlace(p.ID))
		if err != nil {
			return p, fmt.Errorf("archive policy %s: open the secret access key: %w", p.ID, err)
		}
		p.Destination.SecretAccessKey = string(plain)
	}
	if until > 0 {
		p.ArchivedUntil = time.Unix(0, until).UTC()
	}
	if last > 0 {
		p.LastRunAt = time.Unix(0, last).UTC()
	}
	return p, nil
}

// Reseal seals every stored secret access key with the keyring's current
// key: the plain-text ones of earlier versions, and those sealed with an
// older key. It returns how many rows changed.
func (s *Policies) Reseal(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, spec FROM archive_policies`)
	if err != nil {
		return 0, err
	}
	type row struct{ id, spec string }
	var stale []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.spec); err != nil {
			rows.Close()
			return 0, err
		}
		stale = append(stale, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range stale {
		var spec map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.spec), &spec); err != nil {
			return n, fmt.Errorf("archive policy %s spec: %w", r.id, err)
		}
		var d map[string]any
		if err := json.Unmarshal(spec["destination"], &d); err != nil {
			return n, fmt.Errorf("archive policy %s destination: %w", r.id, err)
		}
		old, _ := d["secret_access_key"].(string)
		sealed, changed, err := s.keys.Reseal(old, secretPlace(r.id))
		if err != nil {
			return n, fmt.Errorf("archive policy %s: %w", r.id, err)
		}
		if !changed {
			continue
		}
		d["secret_access_key"] = sealed
		if spec["destination"], err = json.Marshal(d); err != nil {
			return n, err
		}
		b, err := json.Marshal(spec)
		if err != nil {
			return n, err
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE archive_policies SET spec = ? WHERE id = ?`, string(b), r.id); err != nil {
			return n, fmt.Errorf("archive policy %s: %w", r.id, err)
		}
		n++
	}
	return n, nil
}

// Get returns one policy of tenant; tenant "" means any.
func (s *Policies) Get(ctx context.Context, tenant, id string) (Policy, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+policyCols+` FROM archive_policies WHERE id = ? AND (tenant = ? OR ? = '')`, id, tenant, tenant)
	p, err := s.scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("archive policy %q: %w", id, meta.ErrNotFound)
	}
	return p, err
}

// List returns tenant's policies ("" for every tenant's), oldest first.
func (s *Policies) List(ctx context.Context, tenant string) ([]Policy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+policyCols+` FROM archive_policies WHERE tenant = ? OR ? = '' ORDER BY created_at, id`, tenant, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Policy{}
	for rows.Next() {
		p, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// markRun records that a job of the policy started at now.
func (s *Policies) markRun(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE archive_policies SET last_run_at = ? WHERE id = ?`, now.UnixNano(), id)
	return err
}

// advance moves the policy's archived_until forward to until.
func (s *Policies) advance(ctx context.Context, id string, until int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE archive_policies SET archived_until = ? WHERE id = ? AND archived_until < ?`, until, id, until)
	return err
}
