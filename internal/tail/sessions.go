package tail

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
)

// Session is a live-tail session as stored.
type Session struct {
	ID         string
	Tenant     string
	UserUUID   string
	Filter     string
	Service    string
	LastCursor string
	Active     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// QuotaError says which session quota a create would exceed.
type QuotaError struct {
	What  string
	Limit int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("quota exceeded: at most %d active tail sessions %s", e.Limit, e.What)
}

// Sessions stores tail sessions in the metadata database. It is safe for
// concurrent use, also by several processes sharing the database.
type Sessions struct {
	db  *sql.DB
	now func() time.Time
}

// NewSessions returns the session store of db.
func NewSessions(db *meta.DB, now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{db: db.SQL(), now: now}
}

const sessionColumns = `id, tenant, user_uuid, filter, service, last_cursor, active, created_at, updated_at`

func scanSession(row interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var active int
	var created, updated int64
	if err := row.Scan(&s.ID, &s.Tenant, &s.UserUUID, &s.Filter, &s.Service, &s.LastCursor, &active, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return s, meta.ErrNotFound
		}
		return s, err
	}
	s.Active = active != 0
	s.CreatedAt, s.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return s, nil
}

// Create stores a new active session, unless the tenant already has
// maxTenant active sessions or the user maxUser (0 means no limit), which is
// a *QuotaError. The tenant must exist.
func (ss *Sessions) Create(ctx context.Context, s Session, maxTenant, maxUser int) (Session, error) {
	var id [12]byte
	_, _ = rand.Read(id[:])
	s.ID = "ts_" + hex.EncodeToString(id[:])
	now := ss.now().UTC()
	s.CreatedAt, s.UpdatedAt, s.Active = now, now, true
	tx, err := ss.db.BeginTx(ctx, nil)
	if err != nil {
		return s, err
	}
	defer func() { _ = tx.Rollback() }()
	var nTenant, nUser int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tail_sessions WHERE tenant = ? AND active = 1`, s.Tenant).Scan(&nTenant); err != nil {
		return s, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tail_sessions WHERE tenant = ? AND user_uuid = ? AND active = 1`, s.Tenant, s.UserUUID).Scan(&nUser); err != nil {
		return s, err
	}
	if maxTenant > 0 && nTenant >= maxTenant {
		return s, &QuotaError{What: "per tenant", Limit: maxTenant}
	}
	if maxUser > 0 && nUser >= maxUser {
		return s, &QuotaError{What: "per user", Limit: maxUser}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tail_sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		s.ID, s.Tenant, s.UserUUID, s.Filter, s.Service, s.LastCursor, now.UnixNano(), now.UnixNano()); err != nil {
		return s, fmt.Errorf("create tail session: %w", err)
	}
	return s, tx.Commit()
}

// Get returns a session of the tenant; another tenant's is meta.ErrNotFound.
func (ss *Sessions) Get(ctx context.Context, tenant, id string) (Session, error) {
	return scanSession(ss.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM tail_sessions WHERE tenant = ? AND id = ?`, tenant, id))
}

// List returns the tenant's sessions, optionally of one user and by state,
// newest first.
func (ss *Sessions) List(ctx context.Context, tenant, userUUID string, active *bool) ([]Session, error) {
	q := `SELECT ` + sessionColumns + ` FROM tail_sessions WHERE tenant = ?`
	args := []any{tenant}
	if userUUID != "" {
		q += ` AND user_uuid = ?`
		args = append(args, userUUID)
	}
	if active != nil {
		q += ` AND active = ?`
		args = append(args, boolInt(*active))
	}
	rows, err := ss.db.QueryContext(ctx, q+` ORDER BY created_at DESC, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Update changes a session's filter and/or service (nil leaves a field).
func (ss *Sessions) Update(ctx context.Context, tenant, id string, filter, service *string) (Session, error) {
	s, err := ss.Get(ctx, tenant, id)
	if err != nil {
		return s, err
	}
	if filter != nil {
		s.Filter = *filter
	}
	if service != nil {
		s.Service = *service
	}
	s.UpdatedAt = ss.now().UTC()
	_, err = ss.db.ExecContext(ctx, `UPDATE tail_sessions SET filter = ?, service = ?, updated_at = ? WHERE tenant = ? AND id = ?`,
		s.Filter, s.Service, s.UpdatedAt.UnixNano(), tenant, id)
	return s, err
}

// End marks a session inactive.
func (ss *Sessions) End(ctx context.Context, tenant, id string) (Session, error) {
	s, err := ss.Get(ctx, tenant, id)
	if err != nil {
		return s, err
	}
	s.Active, s.UpdatedAt = false, ss.now().UTC()
	_, err = ss.db.ExecContext(ctx, `UPDATE tail_sessions SET active = 0, updated_at = ? WHERE tenant = ? AND id = ?`, s.UpdatedAt.UnixNano(), tenant, id)
	return s, err
}

// SaveCursor records the cursor of the last entry delivered.
func (ss *Sessions) SaveCursor(ctx context.Context, tenant, id, cursor string) error {
	_, err := ss.db.ExecContext(ctx, `UPDATE tail_sessions SET last_cursor = ?, updated_at = ? WHERE tenant = ? AND id = ?`,
		cursor, ss.now().UTC().UnixNano(), tenant, id)
	return err
}
