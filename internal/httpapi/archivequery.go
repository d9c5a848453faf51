package httpapi

import (
	"context"
	"strconv"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/store"
)

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

// parseIncludeArchive reads the include_archive parameter.
func (a *API) parseIncludeArchive(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("include_archive: %q is not true or false", s)
	}
	if b && a.archive == nil {
		return false, badRequest("include_archive: archiving is not configured on this server")
	}
	return b, nil
}

// mergeArchive adds the archive's entries for q to a local result: both
// sides are in q's order, entries still stored locally come once (an
// archived entry keeps its cursor), and the page token continues across the
// boundary between local data and the archive.
func (a *API) mergeArchive(ctx context.Context, q store.Query, res *store.Result) (archive.QueryStats, error) {
	return mergeArchive(ctx, a.archive, q, res)
}

func mergeArchive(ctx context.Context, m *archive.Manager, q store.Query, res *store.Result) (archive.QueryStats, error) {
	arch, more, st, err := m.Query(ctx, q)
	if err != nil {
		return st, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	res.Entries = mergeEntries(res.Entries, arch, q.Direction == logmodel.Backward)
	res.HasMore = res.HasMore || more || len(res.Entries) > limit
	if len(res.Entries) > limit {
		res.Entries = res.Entries[:limit]
	}
	if res.HasMore && len(res.Entries) > 0 {
		last := &res.Entries[len(res.Entries)-1]
		res.Next = logmodel.PageToken{Direction: q.Direction, Timestamp: last.Timestamp, Seq: last.Cursor.Seq}
	}
	return st, nil
}

// mergeEntries merges two lists sorted in the same order, dropping an entry
// of b whose cursor a already has.
func mergeEntries(a, b []logmodel.Entry, backward bool) []logmodel.Entry {
	if len(b) == 0 {
		return a
	}
	before := func(x, y *logmodel.Entry) bool {
		if backward {
			return logmodel.Before(y.Timestamp, y.Cursor.Seq, x.Timestamp, x.Cursor.Seq)
		}
		return logmodel.Before(x.Timestamp, x.Cursor.Seq, y.Timestamp, y.Cursor.Seq)
	}
	out := make([]logmodel.Entry, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && before(&a[i], &b[j])):
			out = append(out, a[i])
			i++
		case i < len(a) && a[i].Cursor.Seq == b[j].Cursor.Seq:
			out = append(out, a[i])
			i++
			j++
		default:
			out = append(out, b[j])
			j++
		}
	}
	return out
}
