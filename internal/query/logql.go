package query

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"

	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/store"
)

// LogQL returns a LogQL engine over the tenant's entries, the archived
// ones too with withArchive: the entry point of instant, range and log
// queries.
func (e *Engine) LogQL(tenant string, withArchive bool) (*logql.Engine, error) {
	src := storeSource{st: e.st, tenant: tenant}
	if !withArchive {
		return logql.NewEngine(src, e.logql)
	}
	if e.arch == nil {
		return nil, ErrNoArchive
	}
	src.arch = e.arch
	return logql.NewEngine(archiveSource{src}, e.logql)
}

// LogQLSelection is the store query of a log query's stream selector and
// the line filters it pushes down, for a follow of the query.
func LogQLSelection(tenant string, expr logql.Expr) store.Query {
	ms, fs := logql.Pushdown(expr)
	return store.Query{Tenant: tenant, Matchers: ms, LineFilters: fs}
}

// Entries flattens a log query's streams into entries in the direction by
// (timestamp, cursor), the order of every other entry listing.
func Entries(v logql.Streams, dir logmodel.Direction) []logmodel.Entry {
	var ents []logmodel.Entry
	for _, s := range v {
		for _, e := range s.Entries {
			ents = append(ents, logmodel.Entry{Labels: s.Labels, Timestamp: e.Timestamp, Line: []byte(e.Line), Metadata: e.Metadata, Cursor: e.Cursor})
		}
	}
	slices.SortFunc(ents, func(x, y logmodel.Entry) int {
		c := cmp.Or(cmp.Compare(x.Timestamp, y.Timestamp), cmp.Compare(x.Cursor.Seq, y.Cursor.Seq))
		if dir == logmodel.Backward {
			return -c
		}
		return c
	})
	return ents
}

// storeSource serves one tenant's entries to the LogQL engine, pushing the
// matchers, the time range and the line filters down into the store, where
// bloom filters and literal searches skip what cannot match.
type storeSource struct {
	st     *store.Store
	tenant string
	// arch, when set, adds archived entries (include_archive=true).
	arch *archive.Manager
}

var _ logql.Source = storeSource{}

func (s storeSource) Workers() int { return s.st.Workers() }

func (s storeSource) query(p logql.SelectParams) store.Query {
	return store.Query{Tenant: s.tenant, Matchers: p.Matchers, LineFilters: p.Filters, Start: p.Start, End: p.End, Direction: p.Direction, Limit: p.Limit}
}

// SelectLogs implements logql.Source.
func (s storeSource) SelectLogs(ctx context.Context, p logql.SelectParams, fn func(worker int, e *logql.Entry) error) error {
	q := s.query(p)
	if p.Limit > 0 {
		res, err := s.st.Query(ctx, q)
		if err != nil {
			return err
		}
		if s.arch != nil {
			if _, err := mergeArchive(ctx, s.arch, q, res); err != nil {
				return err
			}
		}
		var ent logql.Entry // reused, as Scan's below: fn keeps no pointer to it
		for i := range res.Entries {
			e := &res.Entries[i]
			ent = logql.Entry{Labels: e.Labels, Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata, Cursor: e.Cursor}
			if err := fn(0, &ent); err != nil {
				return err
			}
		}
		return nil
	}
	var archived []logmodel.Entry
	var err error
	var seen map[uint64]bool
	if s.arch != nil {
		q.Limit = math.MaxInt32
		if archived, _, _, err = s.arch.Query(ctx, q); err != nil {
			return err
		}
		seen = make(map[uint64]bool, len(archived))
		for i := range archived {
			seen[archived[i].Cursor.Seq] = true
		}
	}
	entries := make([]logql.Entry, s.st.Workers())
	_, err = s.st.Scan(ctx, q, func(w int, st *store.Stream, e *store.EntryView) error {
		if seen[e.Seq] {
			return nil
		}
		ent := &entries[w]
		ent.Labels, ent.Timestamp, ent.Line, ent.Metadata, ent.Cursor = st.Labels, e.Timestamp, e.Line, e.Metadata, logmodel.Cursor{Seq: e.Seq}
		return fn(w, ent)
	})
	if err != nil {
		return err
	}
	for i := range archived {
		e := &archived[i]
		if err := fn(0, &logql.Entry{Labels: e.Labels, Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata, Cursor: e.Cursor}); err != nil {
			return err
		}
	}
	return nil
}

var _ logql.Counter = storeSource{}

// CountStreams implements logql.Counter from block metadata.
func (s storeSource) CountStreams(ctx context.Context, ms []logmodel.Matcher, start, end int64) ([]logql.StreamCount, error) {
	stats, _, err := s.st.StreamStats(ctx, s.tenant, ms, start, end)
	if err != nil {
		return nil, err
	}
	out := make([]logql.StreamCount, len(stats))
	for i, st := range stats {
		out[i] = logql.StreamCount{Labels: st.Stream.Labels, Entries: st.Entries, Bytes: st.Bytes}
	}
	return out, nil
}

// archiveSource is a storeSource that reads the archive too. It is not a
// logql.Counter: counts from local block metadata would miss the archive, so
// metric queries read the entries.
type archiveSource struct {
	src storeSource
}

var _ logql.Source = archiveSource{}

func (s archiveSource) Workers() int { return s.src.Workers() }

// SelectLogs implements logql.Source.
func (s archiveSource) SelectLogs(ctx context.Context, p logql.SelectParams, fn func(worker int, e *logql.Entry) error) error {
	return s.src.SelectLogs(ctx, p, fn)
}
