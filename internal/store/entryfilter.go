package store

import (
	"math"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// EntryFilter applies a Query to entries that come from outside the store
// (archived objects), with the same semantics as Query: matchers, time
// range, page token, line and metadata filters, then the predicate. Build
// it with NewEntryFilter; Match may run concurrently.
type EntryFilter struct {
	pl *plan
}

// NewEntryFilter compiles q's filters.
func NewEntryFilter(q Query) (*EntryFilter, error) {
	pl := &plan{q: q, end: q.End}
	if pl.end == 0 {
		pl.end = math.MaxInt64
	}
	for _, f := range q.LineFilters {
		c, err := compileFilter(f)
		if err != nil {
			return nil, err
		}
		pl.filters = append(pl.filters, c)
	}
	return &EntryFilter{pl: pl}, nil
}

// MatchLabels reports whether a stream's labels satisfy the matchers.
func (f *EntryFilter) MatchLabels(ls logmodel.Labels) bool {
	for _, m := range f.pl.q.Matchers {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// InRange reports whether [minTs, maxTs] can hold an entry of the query: it
// overlaps the time range and does not lie wholly before the page token.
func (f *EntryFilter) InRange(minTs, maxTs int64) bool {
	return maxTs >= f.pl.q.Start && minTs < f.pl.end && !f.pl.beforePage(minTs, maxTs)
}

// Match reports whether e passes the query.
func (f *EntryFilter) Match(e *logmodel.Entry) bool {
	if !f.MatchLabels(e.Labels) {
		return false
	}
	sc := scanner{pl: f.pl}
	st := Stream{Labels: e.Labels, Tenant: f.pl.q.Tenant}
	v := EntryView{Timestamp: e.Timestamp, Seq: e.Cursor.Seq, Line: e.Line, Metadata: e.Metadata}
	return sc.accept(&st, &v)
}
