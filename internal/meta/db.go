// Package meta is kubelog's metadata database: tenants, tokens and, as other
// packages add them, clusters, collection configs, jobs, archive policies,
// tail sessions and PodLogStreams. It is SQLite on disk (modernc.org/sqlite,
// pure Go) through database/sql, with SQL kept portable to PostgreSQL.
//
// Several processes may open the same file at once: the server and CLI verbs
// such as `kubelog token create`. The database runs in WAL mode, so readers
// never wait for the writer, and with a busy timeout, so writers queue for the
// write lock instead of failing with "database is locked".
//
// # Schema changes
//
// The schema is a numbered list of SQL files in migrations/, embedded in the
// binary: NNNN_short_name.sql, numbered from 0001 without gaps. Open applies
// the ones a database has not seen, in order, each in its own transaction,
// and records each in schema_migrations(version, applied_at). To add tables,
// add a file with the next number; never edit, renumber or delete a file that
// has been released. Write portable SQL: TEXT and BIGINT columns, timestamps
// as BIGINT Unix nanoseconds, no SQLite-only syntax. A package that owns the
// new tables reads and writes them through DB.SQL with `?` placeholders.
package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultTenant is the tenant every database starts with.
const DefaultTenant = "default"

// ErrNotFound is returned, wrapped, when a named row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned, wrapped, when a write would duplicate a unique key.
var ErrConflict = errors.New("conflict")

// busyTimeout is how long a statement waits for another connection or
// process to release the write lock before it fails.
const busyTimeout = 10 * time.Second

// maxOpenConns bounds the pool: each SQLite connection holds its own page
// cache and file descriptors.
const maxOpenConns = 16

// DB is an open metadata database. It is safe for concurrent use; Close must
// be called when done.
type DB struct {
	db *sql.DB
}

// Open opens the database at path, creating it if needed, applies pending
// migrations and makes sure the default tenant exists. It fails if the file
// was migrated by a newer kubelog than this one.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open metadata database: invalid path %q", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	// NORMAL is durable against process crashes in WAL mode; only a power
	// loss can lose the last commits.
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Deleted and overwritten content is zeroed, so that a secret replaced
	// by its sealed form does not linger in free pages.
	q.Add("_pragma", "secure_delete(1)")
	// Read-write transactions take the write lock at BEGIN, so two of them
	// queue under busy_timeout instead of one failing when it upgrades from
	// reading to writing. Read-only transactions (sql.TxOptions{ReadOnly:
	// true}) and plain queries do not take it.
	q.Set("_txlock", "immediate")
	// SQLite gives its -wal and -shm files the mode of the database file,
	// so creating that 0600 keeps all three private whatever the umask.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the database in the operator's data directory
	if err != nil {
		return nil, fmt.Errorf("open metadata database: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open metadata database: %w", err)
	}
	sqlDB, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(maxOpenConns)
	sqlDB.SetMaxIdleConns(4)
	d := &DB{db: sqlDB}
	if err := enableWAL(ctx, sqlDB); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	if err := migrate(ctx, sqlDB, ms); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("migrate metadata database %s: %w", path, err)
	}
	if _, err := d.EnsureTenant(ctx, DefaultTenant); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	return d, nil
}

// Scrub rewrites the database file and empties its write-ahead log, so
// that no copy of a value since replaced (a secret before it was sealed)
// remains in free pages or old log frames.
func (d *DB) Scrub(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("scrub metadata database: %w", err)
	}
	var busy, frames, done int
	if err := d.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("scrub metadata database: %w", err)
	}
	if busy != 0 {
		return errors.New("scrub metadata database: another connection kept the write-ahead log from being emptied")
	}
	return nil
}

// Close closes the database. Calls in flight may fail.
func (d *DB) Close() error {
	return d.db.Close()
}

// SQL returns the underlying pool, for packages that own their own tables
// (added as migrations in this package). Use `?` placeholders and portable
// SQL; run writes that read first in a transaction; do not call Close on it.
func (d *DB) SQL() *sql.DB {
	return d.db
}

// enableWAL puts the file in WAL mode, which then persists in the file for
// every connection. SQLite does not wait out busy_timeout when another
// connection holds a lock during the switch (as when several processes open a
// new file at once), so retry with backoff for up to busyTimeout.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	backoff := 5 * time.Millisecond
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %q after asking for WAL; put the database on a local filesystem", mode)
			}
			return nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return fmt.Errorf("enable WAL: %w", err)
		}
		wait := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- backoff jitter, not a secret
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// ConstraintKind maps a constraint violation to ErrConflict (unique or
// primary key) or ErrNotFound (a foreign key naming a missing row); other
// errors map to nil.
func ConstraintKind(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return ErrNotFound
	}
	return nil
}

// Nanos converts t to the BIGINT column form; the zero time is NULL.
func Nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// FromNanos converts a BIGINT column back; NULL is the zero time.
func FromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
