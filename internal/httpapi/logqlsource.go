package httpapi

import (
	"context"
	"fmt"
	"math"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"

	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/store"
)

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

func (s storeSource) query(p logql.SelectParams) (store.Query, error) {
	q := store.Query{Tenant: s.tenant, Start: p.Start, End: p.End, Direction: p.Direction, Limit: p.Limit}
	for _, m := range p.Matchers {
		sm, err := store.NewMatcher(store.MatchType(m.Type), m.Name, m.Value)
		if err != nil {
			return q, err
		}
		q.Matchers = append(q.Matchers, sm)
	}
	for _, f := range p.Filters {
		var t store.LineFilterType
		switch f.Type {
		case logql.FilterContains:
			t = store.LineContains
		case logql.FilterNotContains:
			t = store.LineNotContains
		case logql.FilterRegexp:
			t = store.LineRegexp
		case logql.FilterNotRegexp:
			t = store.LineNotRegexp
		default:
			return q, fmt.Errorf("BUG: unknown pushed-down filter %v", f.Type)
		}
		q.LineFilters = append(q.LineFilters, store.LineFilter{Type: t, Value: f.Value})
	}
	return q, nil
}

// SelectLogs implements logql.Source.
func (s storeSource) SelectLogs(ctx context.Context, p logql.SelectParams, fn func(worker int, e *logql.Entry) error) error {
	q, err := s.query(p)
	if err != nil {
		return err
	}
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
func (s storeSource) CountStreams(ctx context.Context, ms []logql.Matcher, start, end int64) ([]logql.StreamCount, error) {
	q, err := s.query(logql.SelectParams{Matchers: ms})
	if err != nil {
		return nil, err
	}
	stats, _, err := s.st.StreamStats(ctx, s.tenant, q.Matchers, start, end)
	if err != nil {
		return nil, err
	}
	out := make([]logql.StreamCount, len(stats))
	for i, st := range stats {
		out[i] = logql.StreamCount{Labels: st.Stream.Labels, Entries: st.Entries, Bytes: st.Bytes}
	}
	return out, nil
}
