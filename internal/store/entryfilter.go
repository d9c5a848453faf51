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

// TokenBloom builds the token bloom filter of a set of lines, the filter a
// part block keeps, so that an EntryFilter can skip the set (an archived
// object) without reading it. The zero value is empty and ready; it is not
// safe for concurrent use.
type TokenBloom struct {
	set hashSet
	// recent holds the unmixed hashes of tokens added lately.
	recent [recentTokens]uint64
}

// Add adds a line's tokens and grams.
func (b *TokenBloom) Add(line []byte) { addLineTokens(line, &b.set, &b.recent) }

// Reset empties the filter, keeping its memory for reuse.
func (b *TokenBloom) Reset() {
	b.set.reset()
	clear(b.recent[:])
}

// Bytes encodes the filter.
func (b *TokenBloom) Bytes() []byte { return buildBloom(nil, &b.set, false) }

// NewEntryFilter compiles q's filters.
func NewEntryFilter(q Query) (*EntryFilter, error) {
	pl, err := newFilterPlan(q)
	if err != nil {
		return nil, err
	}
	return &EntryFilter{pl: pl}, nil
}

// newFilterPlan starts a plan for q: its time range end and its compiled line
// filters with the token and gram hashes a matching line must hold.
func newFilterPlan(q Query) (*plan, error) {
	pl := &plan{q: q, end: q.End}
	if pl.end == 0 {
		pl.end = math.MaxInt64
	}
	var err error
	if pl.matchers, err = logmodel.CompileMatchers(q.Matchers); err != nil {
		return nil, err
	}
	if pl.meta, err = logmodel.CompileMatchers(q.MetaFilters); err != nil {
		return nil, err
	}
	for _, f := range q.LineFilters {
		c, err := compileFilter(f)
		if err != nil {
			return nil, err
		}
		pl.filters = append(pl.filters, c)
		toks, grams, inner := c.hashes()
		pl.tokens = append(pl.tokens, toks...)
		pl.grams = append(pl.grams, grams...)
		pl.inner = append(pl.inner, inner...)
	}
	for _, tok := range q.RequiredTokens {
		for _, sub := range splitTokens(tok) {
			if indexableToken(sub) {
				pl.tokens = append(pl.tokens, tokenHash(sub))
			}
		}
	}
	return pl, nil
}

// MayMatchBloom reports whether lines whose TokenBloom is filter may hold a
// match: false when a token or gram every match needs is missing.
func (f *EntryFilter) MayMatchBloom(filter []byte) bool {
	for _, h := range f.pl.tokens {
		if !bloomMayContain(filter, h, false) {
			return false
		}
	}
	for _, h := range f.pl.grams {
		if !bloomMayContain(filter, h, false) {
			return false
		}
	}
	for _, h := range f.pl.inner {
		if !bloomMayContain(filter, h, false) {
			return false
		}
	}
	return true
}

// MatchLabels reports whether a stream's labels satisfy the matchers.
func (f *EntryFilter) MatchLabels(ls logmodel.Labels) bool {
	for _, m := range f.pl.matchers {
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
