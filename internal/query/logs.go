package query

import (
	"context"
	"time"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/search"
	"github.com/kubelog/kubelog/internal/store"
)

// Page is one page of entries in the query's direction.
type Page struct {
	Entries []logmodel.Entry
	// HasMore says more entries match; Next continues after the last one.
	HasMore bool
	Next    logmodel.PageToken
	// Stats is the local store's work; Archive, with archived entries
	// asked for, the archive's.
	Stats   store.QueryStats
	Archive *archive.QueryStats
	// Took is how long the query ran.
	Took time.Duration
}

// Logs returns a page of the entries q selects, with the archived ones
// merged in when withArchive is set: in q's order, each entry once, and a
// page token that continues across the boundary between local and archived
// entries.
func (e *Engine) Logs(ctx context.Context, q store.Query, withArchive bool) (*Page, error) {
	start := time.Now()
	if withArchive && e.arch == nil {
		return nil, ErrNoArchive
	}
	res, err := e.st.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	p := &Page{}
	if withArchive {
		st, err := mergeArchive(ctx, e.arch, q, res)
		if err != nil {
			return nil, err
		}
		p.Archive = &st
	}
	p.Entries, p.HasMore, p.Next, p.Stats = res.Entries, res.HasMore, res.Next, res.Stats
	p.Took = time.Since(start)
	return p, nil
}

// Search is Logs for the entries of q that also satisfy a search
// expression; the expression's words let the store skip blocks that cannot
// hold them.
func (e *Engine) Search(ctx context.Context, q store.Query, expr search.Expr, withArchive bool) (*Page, error) {
	if _, all := expr.(search.MatchAll); !all {
		q.RequiredTokens = search.RequiredTokens(expr)
		q.Predicate = func(st *store.Stream, e *store.EntryView) bool {
			return expr.Match(searchRecord{labels: st.Labels, e: e})
		}
	}
	return e.Logs(ctx, q, withArchive)
}

// searchRecord lets a search expression see an entry: fields are stream
// labels, then structured metadata.
type searchRecord struct {
	labels logmodel.Labels
	e      *store.EntryView
}

func (s searchRecord) Line() []byte { return s.e.Line }

func (s searchRecord) Field(name string) (string, bool) {
	for _, l := range s.labels {
		if l.Name == name {
			return l.Value, true
		}
	}
	for _, l := range s.e.Metadata {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}

// Scan calls fn with every entry q selects, on Workers goroutines, in no
// particular order; fn must not keep st or e.
func (e *Engine) Scan(ctx context.Context, q store.Query, fn func(worker int, st *store.Stream, e *store.EntryView) error) (store.QueryStats, error) {
	return e.st.Scan(ctx, q, fn)
}

// Count counts the entries q selects, from block metadata where it can.
func (e *Engine) Count(ctx context.Context, q store.Query) (entries, bytes uint64, err error) {
	entries, bytes, _, err = e.st.Count(ctx, q)
	return entries, bytes, err
}
