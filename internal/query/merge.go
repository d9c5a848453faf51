package query

import (
	"context"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// mergeArchive adds the archive's entries for q to a local result: both
// sides are in q's order, entries still stored locally come once (an
// archived entry keeps its cursor), and the page token continues across the
// boundary between local data and the archive.
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
