package collector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/kubelog/kubelog/internal/meta"
	"k8s.io/utils/clock"
)

// Resume is how far a container instance's log has been stored: the node
// timestamp (Unix nanoseconds) of the last line taken and how many lines with
// exactly that timestamp were taken.
type Resume struct {
	Timestamp int64
	Count     int
}

// Checkpoints persists resume points by key (tenant/cluster/container-ID).
// Methods may be called concurrently, for different keys and for the same one.
type Checkpoints interface {
	// Load returns the resume point saved under key; ok is false when there is
	// none.
	Load(ctx context.Context, key string) (r Resume, ok bool, err error)
	// Save records r under key, replacing what was there. The collector calls
	// it only after the sink acknowledged every entry up to r.
	Save(ctx context.Context, key string, r Resume) error
}

var (
	_ Checkpoints = (*MemoryCheckpoints)(nil)
	_ Checkpoints = (*SQLCheckpoints)(nil)
)

// MemoryCheckpoints keeps resume points in memory, for tests and for running
// without a metadata database. The zero value is ready to use.
type MemoryCheckpoints struct {
	mu sync.Mutex
	// m holds the resume points by key (guarded by mu).
	m map[string]Resume
}

// Load implements Checkpoints.
func (c *MemoryCheckpoints) Load(_ context.Context, key string) (Resume, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	return r, ok, nil
}

// Save implements Checkpoints.
func (c *MemoryCheckpoints) Save(_ context.Context, key string, r Resume) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]Resume)
	}
	c.m[key] = r
	return nil
}

// SQLCheckpoints keeps resume points in the metadata database's
// collector_checkpoints table.
type SQLCheckpoints struct {
	db    *sql.DB
	clock clock.PassiveClock
}

// NewSQLCheckpoints returns checkpoints stored in db, which the caller keeps
// open while they are used.
func NewSQLCheckpoints(db *meta.DB) *SQLCheckpoints {
	return &SQLCheckpoints{db: db.SQL(), clock: clock.RealClock{}}
}

// Load implements Checkpoints.
func (c *SQLCheckpoints) Load(ctx context.Context, key string) (Resume, bool, error) {
	var r Resume
	err := c.db.QueryRowContext(ctx, `SELECT ts, count FROM collector_checkpoints WHERE key = ?`, key).Scan(&r.Timestamp, &r.Count)
	if errors.Is(err, sql.ErrNoRows) {
		return Resume{}, false, nil
	}
	if err != nil {
		return Resume{}, false, fmt.Errorf("load checkpoint %s: %w", key, err)
	}
	return r, true, nil
}

// Save implements Checkpoints.
func (c *SQLCheckpoints) Save(ctx context.Context, key string, r Resume) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO collector_checkpoints (key, ts, count, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET ts = excluded.ts, count = excluded.count, updated_at = excluded.updated_at`,
		key, r.Timestamp, r.Count, c.clock.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", key, err)
	}
	return nil
}
