package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// QueryStats describes the archive side of a query.
type QueryStats struct {
	// ObjectsConsidered are the indexed objects of the tenant overlapping
	// the time range; ObjectsFetched those downloaded after pruning by
	// labels, time, page position and token bloom filter.
	ObjectsConsidered int   `json:"archive_objects_considered"`
	ObjectsFetched    int   `json:"archive_objects_fetched"`
	BytesFetched      int64 `json:"archive_bytes_fetched"`
	LinesScanned      int64 `json:"archive_lines_scanned"`
}

// fetchBatch is how many objects a query downloads at once.
const fetchBatch = 8

// policyBlobs returns the cached blob store of a policy's destination.
func (m *Manager) policyBlobs(ctx context.Context, policyID string) (BlobStore, error) {
	p, err := m.policies.Get(ctx, "", policyID)
	if err != nil {
		return nil, err
	}
	key := p.ID + "@" + p.UpdatedAt.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string]BlobStore{}
	}
	if bs := m.blobs[key]; bs != nil {
		return bs, nil
	}
	bs, err := m.cfg.Blobs(p.Destination)
	if err != nil {
		return nil, err
	}
	m.blobs[key] = bs
	return bs, nil
}

// Query returns up to q.Limit archived entries that match q, in q's order
// after q.After, and whether more match. Objects are pruned by their indexed
// labels and time range before any is downloaded, and read in the query's
// order, in small parallel batches, until the limit is met.
func (m *Manager) Query(ctx context.Context, q store.Query) ([]logmodel.Entry, bool, QueryStats, error) {
	var stats QueryStats
	f, err := store.NewEntryFilter(q)
	if err != nil {
		return nil, false, stats, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	objs, _, err := m.index.List(ctx, Filter{Tenant: q.Tenant, Start: q.Start, End: q.End})
	if err != nil {
		return nil, false, stats, err
	}
	stats.ObjectsConsidered = len(objs)
	cands := objs[:0]
	for _, o := range objs {
		if f.InRange(o.FirstTs(), o.LastTs()) && f.MatchLabels(logmodel.NewLabels(o.Labels)) && f.MayMatchBloom(o.bloom) {
			cands = append(cands, o)
		}
	}
	backward := q.Direction == logmodel.Backward
	if backward {
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].LastTs() > cands[j].LastTs() })
	}
	better := func(a, b *logmodel.Entry) bool {
		if backward {
			return logmodel.Before(b.Timestamp, b.Cursor.Seq, a.Timestamp, a.Cursor.Seq)
		}
		return logmodel.Before(a.Timestamp, a.Cursor.Seq, b.Timestamp, b.Cursor.Seq)
	}
	var got []logmodel.Entry
	var statsMu sync.Mutex // guards stats while a batch downloads
	for i := 0; i < len(cands); i += fetchBatch {
		batch := cands[i:min(i+fetchBatch, len(cands))]
		if len(got) > limit {
			// Stop once no object left can hold an entry before the last kept.
			w := &got[limit]
			o := &batch[0]
			if (!backward && o.FirstTs() > w.Timestamp) || (backward && o.LastTs() < w.Timestamp) {
				break
			}
		}
		res := make([][]logmodel.Entry, len(batch))
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for k := range batch {
			wg.Go(func() {
				var bytes, lines int64
				res[k], bytes, lines, errs[k] = m.readObject(ctx, &batch[k], f)
				statsMu.Lock()
				stats.BytesFetched += bytes
				stats.LinesScanned += lines
				statsMu.Unlock()
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, false, stats, err
		}
		stats.ObjectsFetched += len(batch)
		for _, r := range res {
			got = append(got, r...)
		}
		sort.Slice(got, func(a, b int) bool { return better(&got[a], &got[b]) })
		if len(got) > limit+1 {
			got = got[:limit+1]
		}
	}
	m.metrics.fetched.WithLabelValues(q.Tenant).Add(float64(stats.ObjectsFetched))
	more := len(got) > limit
	if more {
		got = got[:limit]
	}
	return got, more, stats, nil
}

// readObject downloads an object and returns its entries that pass f, with
// the bytes downloaded and the lines read.
func (m *Manager) readObject(ctx context.Context, o *Object, f *store.EntryFilter) ([]logmodel.Entry, int64, int64, error) {
	bs, err := m.policyBlobs(ctx, o.PolicyID)
	if err != nil {
		return nil, 0, 0, err
	}
	obj, err := bs.Get(ctx, o.Key)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("archive read %s: %w", o.Key, err)
	}
	defer obj.Close()
	k, err := ParseObjectKey(o.Key)
	if err != nil {
		return nil, 0, 0, err
	}
	cr := &countingReader{r: obj}
	d, err := NewDecoder(cr, k.Compression)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("archive read %s: %w", o.Key, err)
	}
	defer d.Close()
	var out []logmodel.Entry
	var lines int64
	for {
		e, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("archive read %s: %w", o.Key, err)
		}
		lines++
		if f.Match(&e) {
			out = append(out, e)
		}
	}
	return out, cr.n, lines, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open returns an archived object of tenant and a reader of its compressed
// bytes; the reader must be closed. A key outside the tenant is not found.
func (m *Manager) Open(ctx context.Context, tenant, key string) (Object, io.ReadCloser, error) {
	o, err := m.index.Lookup(ctx, tenant, key)
	if err != nil {
		return o, nil, err
	}
	bs, err := m.policyBlobs(ctx, o.PolicyID)
	if err != nil {
		return o, nil, fmt.Errorf("the policy of archived object %q: %w", key, err)
	}
	obj, err := bs.Get(ctx, key)
	if err != nil {
		return o, nil, fmt.Errorf("read %s: %w", key, err)
	}
	return o, obj, nil
}
