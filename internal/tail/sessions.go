package tail

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
	"k8s.io/utils/clock"
)

// Session is a live-tail session as stored.
type Session struct {
	ID         string
	Tenant     string
	UserUUID   string
	Filter     string
	Service    string
	LastCursor string
	// Ended is set once the session is deleted; it never streams again.
	Ended bool
	// Active says the session is receiving entries: it has not ended and a
	// client is connected to its stream, or it is new (ConnectGrace) and
	// its first client has not come yet. A session whose client has gone
	// is not active until a client connects again.
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectGrace is how long a new session counts as active before its first
// client connects.
const ConnectGrace = time.Minute

// QuotaError says which session quota a create would exceed.
type QuotaError struct {
	What  string
	Limit int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("quota exceeded: at most %d active tail sessions %s", e.Limit, e.What)
}

// Sessions stores tail sessions in the metadata database, and knows which
// have a client connected to this process. It is safe for concurrent use;
// several processes may share the database.
type Sessions struct {
	db    *sql.DB
	clock clock.PassiveClock

	mu sync.Mutex
	// clients counts the connected clients by session ID; left holds the
	// sessions whose clients have all gone (guarded by mu).
	clients map[string]int
	left    map[string]bool
}

// NewSessions returns the session store of db.
func NewSessions(db *meta.DB, clk clock.PassiveClock) *Sessions {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Sessions{db: db.SQL(), clock: clk, clients: map[string]int{}, left: map[string]bool{}}
}

// Attach records a client connected to the session's stream until the
// returned function is called.
func (ss *Sessions) Attach(id string) (detach func()) {
	ss.mu.Lock()
	ss.clients[id]++
	delete(ss.left, id)
	ss.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			ss.mu.Lock()
			if ss.clients[id]--; ss.clients[id] <= 0 {
				delete(ss.clients, id)
				ss.left[id] = true
			}
			ss.mu.Unlock()
		})
	}
}

// activate sets s.Active from the stored state and the connected clients.
func (ss *Sessions) activate(s *Session, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.Active = !s.Ended && (ss.clients[s.ID] > 0 || (!ss.left[s.ID] && now.Sub(s.CreatedAt) < ConnectGrace))
}

const sessionColumns = `id, tenant, user_uuid, filter, service, last_cursor, active, created_at, updated_at`

func (ss *Sessions) scan(row interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var active int
	var created, updated int64
	if err := row.Scan(&s.ID, &s.Tenant, &s.UserUUID, &s.Filter, &s.Service, &s.LastCursor, &active, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return s, meta.ErrNotFound
		}
		return s, err
	}
	s.Ended = active == 0
	s.CreatedAt, s.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	ss.activate(&s, ss.clock.Now())
	return s, nil
}

// Create stores a new session, unless the tenant already has maxTenant
// active sessions or the user maxUser (0 means no limit), which is a
// *QuotaError. The tenant must exist.
func (ss *Sessions) Create(ctx context.Context, s Session, maxTenant, maxUser int) (Session, error) {
	var id [12]byte
	_, _ = rand.Read(id[:])
	s.ID = "ts_" + hex.EncodeToString(id[:])
	now := ss.clock.Now().UTC()
	s.CreatedAt, s.UpdatedAt, s.Active, s.Ended = now, now, true, false
	tx, err := ss.db.BeginTx(ctx, nil)
	if err != nil {
		return s, err
	}
	defer func() { _ = tx.Rollback() }()
	open, err := ss.query(ctx, tx, `SELECT `+sessionColumns+` FROM tail_sessions WHERE tenant = ? AND active = 1`, s.Tenant)
	if err != nil {
		return s, err
	}
	var nTenant, nUser int
	for _, o := range open {
		if o.Active {
			nTenant++
			if o.UserUUID == s.UserUUID {
				nUser++
			}
		}
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

// query returns the sessions a query selects.
func (ss *Sessions) query(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]Session, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		s, err := ss.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Get returns a session of the tenant; another tenant's is meta.ErrNotFound.
func (ss *Sessions) Get(ctx context.Context, tenant, id string) (Session, error) {
	return ss.scan(ss.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM tail_sessions WHERE tenant = ? AND id = ?`, tenant, id))
}

// List returns the tenant's sessions, optionally of one user and by
// whether they are active, newest first.
func (ss *Sessions) List(ctx context.Context, tenant, userUUID string, active *bool) ([]Session, error) {
	q := `SELECT ` + sessionColumns + ` FROM tail_sessions WHERE tenant = ?`
	args := []any{tenant}
	if userUUID != "" {
		q += ` AND user_uuid = ?`
		args = append(args, userUUID)
	}
	if active != nil && *active {
		q += ` AND active = 1`
	}
	all, err := ss.query(ctx, ss.db, q+` ORDER BY created_at DESC, id`, args...)
	if err != nil || active == nil {
		return all, err
	}
	out := all[:0]
	for _, s := range all {
		if s.Active == *active {
			out = append(out, s)
		}
	}
	return out, nil
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
	s.UpdatedAt = ss.clock.Now().UTC()
	_, err = ss.db.ExecContext(ctx, `UPDATE tail_sessions SET filter = ?, service = ?, updated_at = ? WHERE tenant = ? AND id = ?`,
		s.Filter, s.Service, s.UpdatedAt.UnixNano(), tenant, id)
	return s, err
}

// End ends a session: it is no longer active and never streams again.
func (ss *Sessions) End(ctx context.Context, tenant, id string) (Session, error) {
	s, err := ss.Get(ctx, tenant, id)
	if err != nil {
		return s, err
	}
	s.Active, s.Ended, s.UpdatedAt = false, true, ss.clock.Now().UTC()
	_, err = ss.db.ExecContext(ctx, `UPDATE tail_sessions SET active = 0, updated_at = ? WHERE tenant = ? AND id = ?`, s.UpdatedAt.UnixNano(), tenant, id)
	return s, err
}

// SaveCursor records the cursor of the last entry delivered.
func (ss *Sessions) SaveCursor(ctx context.Context, tenant, id, cursor string) error {
	_, err := ss.db.ExecContext(ctx, `UPDATE tail_sessions SET last_cursor = ?, updated_at = ? WHERE tenant = ? AND id = ?`,
		cursor, ss.clock.Now().UTC().UnixNano(), tenant, id)
	return err
}
