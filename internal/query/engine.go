// Package query answers the questions kubelog's surfaces ask of the local
// engine: entries with cursor paging, search, LogQL, stats and volume,
// series and labels, and follows (replay, then live). The HTTP API, the
// deployment-logs service, the CLI's server mode and the bench all go
// through an Engine, so that a surface parses requests and writes answers
// and the planning lives in one place: the store queries, the adapter that
// feeds the store to LogQL, the merge of local and archived entries and the
// aggregation of stats.
//
// An Engine is safe for concurrent use.
package query

import (
	"context"
	"errors"
	"time"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/tail"
)

// ErrNoArchive is returned for a query that asks for archived entries on a
// server without an archive.
var ErrNoArchive = errors.New("archiving is not configured on this server")

// Deps are what an Engine reads from. Store and Hub are required.
type Deps struct {
	Store *store.Store
	// Hub fans committed entries out to follows.
	Hub *tail.Hub
	// Archive adds archived entries to queries that ask for them; nil
	// means the server has no archive.
	Archive *archive.Manager
	// LogQL configures the LogQL engine; the zero value means
	// logql.DefaultConfig.
	LogQL *logql.Config
}

// Engine answers queries. Create it with New.
type Engine struct {
	st    *store.Store
	hub   *tail.Hub
	arch  *archive.Manager
	logql logql.Config
}

// New builds an Engine.
func New(d Deps) (*Engine, error) {
	if d.Store == nil || d.Hub == nil {
		return nil, errors.New("query: Store and Hub are required")
	}
	e := &Engine{st: d.Store, hub: d.Hub, arch: d.Archive, logql: logql.DefaultConfig()}
	if d.LogQL != nil {
		e.logql = *d.LogQL
	}
	return e, nil
}

// HasArchive reports whether queries can read archived entries.
func (e *Engine) HasArchive() bool { return e.arch != nil }

// Workers is how many goroutines a scan runs on, the worker numbers Scan
// passes.
func (e *Engine) Workers() int { return e.st.Workers() }

// Append stores a tenant's entries: the write path, so that a surface that
// ingests needs nothing else of the store.
func (e *Engine) Append(ctx context.Context, tenant string, entries []logmodel.Entry) (store.AppendResult, error) {
	return e.st.Append(ctx, tenant, entries)
}

// Health reports the store's condition: nil, or a *store.HealthError.
func (e *Engine) Health() error { return e.st.Health() }

// Storage returns the storage statistics of a tenant, or of all with "".
func (e *Engine) Storage(tenant string) store.Stats { return e.st.Stats(tenant) }

// Tenants lists the tenants that hold entries.
func (e *Engine) Tenants() []string { return e.st.Tenants() }

// Retention returns a tenant's retention.
func (e *Engine) Retention(tenant string) time.Duration { return e.st.Retention(tenant) }

// SetRetention sets a tenant's retention; 0 or less restores the default.
func (e *Engine) SetRetention(tenant string, d time.Duration) { e.st.SetRetention(tenant, d) }

// LastCursor is the cursor of the tenant's newest entry: a follow from it
// delivers only what is appended later.
func (e *Engine) LastCursor(tenant string) logmodel.Cursor { return e.st.LastCursor(tenant) }

// Compact flushes the head into parts and runs the store's maintenance
// (merges and retention) at once.
func (e *Engine) Compact(ctx context.Context) error {
	if err := e.st.Flush(ctx); err != nil {
		return err
	}
	return e.st.RunMaintenance(ctx)
}

// Follow delivers every entry after spec.Cursor that spec.Query selects, in
// cursor order: first those stored, then live ones as they are committed,
// never skipping or repeating one, until ctx ends or deliver fails.
func (e *Engine) Follow(ctx context.Context, spec tail.FollowSpec, deliver func(tail.Event) error) error {
	return e.hub.Follow(ctx, e.st, spec, deliver)
}
