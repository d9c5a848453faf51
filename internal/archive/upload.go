package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// encoded is an object encoded and waiting for its upload.
type encoded struct {
	g   *pending
	key ObjectKey
	// body is the compressed object, sum its hex MD5.
	body, bloom     []byte
	sum             string
	lines, raw      int64
	firstTs, lastTs int64
}

// jobBuffers are the Encoders and object buffers a job reuses from one
// object to the next, kept across garbage collections.
type jobBuffers struct {
	encoders *EncoderPool
	// bodies holds the buffers of uploaded objects.
	bodies chan []byte
}

func newJobBuffers(encoders, bodies int) *jobBuffers {
	return &jobBuffers{encoders: NewEncoderPool(encoders), bodies: make(chan []byte, bodies)}
}

// body returns a buffer for an object.
func (b *jobBuffers) body() []byte {
	select {
	case buf := <-b.bodies:
		return buf
	default:
		return nil
	}
}

// putBody keeps an uploaded object's buffer for another.
func (b *jobBuffers) putBody(buf []byte) {
	if cap(buf) > maxPooledBuffer {
		return
	}
	select {
	case b.bodies <- buf[:0]:
	default:
	}
}

// writeAll encodes, uploads, verifies and indexes the objects of one hour in
// a bounded pipeline: Workers goroutines encode (CPU), Uploads goroutines
// upload (I/O), and at most Uploads encoded objects wait between them.
func (m *Manager) writeAll(ctx context.Context, j *Job, p Policy, bs BlobStore, hour int64, todo []*pending, bufs *jobBuffers, prog *progressCounter) error {
	var mu sync.Mutex // guards firstErr and written
	var firstErr error
	var written []*Object
	var failed atomic.Bool
	fail := func(err error) {
		failed.Store(true)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	work := make(chan *pending, len(todo))
	for _, g := range todo {
		work <- g
	}
	close(work)
	queue := make(chan *encoded, m.cfg.Uploads)
	var encoders sync.WaitGroup
	for range min(m.st.Workers(), len(todo)) {
		encoders.Go(func() {
			for g := range work {
				if ctx.Err() != nil || failed.Load() {
					return
				}
				e, err := encodeObject(p, j.Tenant, hour, g, bufs)
				if err != nil {
					fail(err)
					return
				}
				queue <- e
			}
		})
	}
	go func() {
		encoders.Wait()
		close(queue)
	}()
	var uploaders sync.WaitGroup
	for range m.cfg.Uploads {
		uploaders.Go(func() {
			for e := range queue {
				o, err := m.uploadObject(ctx, j, p, bs, hour, e, prog)
				bufs.putBody(e.body)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				written = append(written, o)
				mu.Unlock()
			}
		})
	}
	uploaders.Wait()
	// Objects verified in the bucket are indexed even when a sibling failed,
	// so that a retry skips them.
	if err := m.index.putAll(context.WithoutCancel(ctx), written); err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// encodeObject sorts a stream's entries of one hour by (timestamp, cursor)
// and encodes them, with an Encoder and an object buffer from bufs; the
// caller returns the object's body to bufs.
func encodeObject(p Policy, tenant string, hour int64, g *pending, bufs *jobBuffers) (*encoded, error) {
	slices.SortFunc(g.rows, func(x, y row) int {
		if logmodel.Before(x.ts, x.seq, y.ts, y.seq) {
			return -1
		}
		if logmodel.Before(y.ts, y.seq, x.ts, x.seq) {
			return 1
		}
		return 0
	})
	enc, err := bufs.encoders.Get(p.Compression)
	if err != nil {
		return nil, err
	}
	defer enc.Release()
	for i := range g.rows {
		ent := g.entry(&g.rows[i])
		if err := enc.Write(&ent); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	ls := g.st.Labels
	key := ObjectKey{Prefix: p.Destination.Prefix, Tenant: tenant, Cluster: ls.Get("cluster"), Namespace: ls.Get("namespace"), Pod: ls.Get("pod"),
		Container: ls.Get("container"), Hour: hour, FirstTs: enc.FirstTs, LastTs: enc.LastTs, Compression: p.Compression}
	body := enc.Detach(bufs.body())
	return &encoded{g: g, key: key, body: body, bloom: enc.Bloom(), sum: md5Hex(body), lines: enc.Lines, raw: enc.Raw, firstTs: enc.FirstTs, lastTs: enc.LastTs}, nil
}

// uploadObject uploads and verifies one encoded object, and returns its
// index row.
func (m *Manager) uploadObject(ctx context.Context, j *Job, p Policy, bs BlobStore, hour int64, e *encoded, prog *progressCounter) (*Object, error) {
	key, sum, ls, body := e.key, e.sum, e.g.st.Labels, e.body
	labels, _ := json.Marshal(ls.Map())
	opts := PutOptions{
		ContentType: "application/x-ndjson",
		// The ETag of a single-part upload is the MD5 the server computed
		// of what it received, compared below with the MD5 of what was
		// sent: neither a Content-MD5 header nor a SHA-256 payload hash
		// would add to that check, and each would hash the body again.
		ETagChecked: true,
		Metadata: map[string]string{
			"First-Ts": logmodel.FormatTime(e.firstTs), "Last-Ts": logmodel.FormatTime(e.lastTs),
			"Lines": strconv.FormatInt(e.lines, 10), "Raw-Bytes": strconv.FormatInt(e.raw, 10), "Labels": string(labels),
		},
	}
	if p.Compression == CompressionZstd {
		opts.ContentEncoding = "zstd"
	} else {
		opts.ContentEncoding = "gzip"
	}
	k := key.String()
	info, err := bs.Put(ctx, k, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", k, err)
	}
	// A single-part upload's ETag is the MD5 the server computed; anything
	// else is checked in the bucket.
	if info.ETag != sum || info.Size != int64(len(body)) {
		if err := verifyObject(ctx, bs, k, int64(len(body)), sum); err != nil {
			return nil, err
		}
	}
	o := &Object{Key: k, PolicyID: p.ID, JobID: j.ID, Bucket: p.Destination.Bucket, Size: int64(len(body)), RawBytes: e.raw, Lines: e.lines,
		StartTime: time.Unix(0, e.firstTs).UTC(), EndTime: time.Unix(0, e.lastTs).UTC(), Cluster: key.Cluster, Namespace: key.Namespace,
		Pod: key.Pod, Container: key.Container, Labels: ls.Map(), ETag: sum, CreatedAt: m.cfg.Clock.Now().UTC(),
		tenant: j.Tenant, streamHash: streamHash(ls), hour: hour, bloom: e.bloom}
	prog.add(e.lines, e.raw, int64(len(body)))
	m.metrics.objects.WithLabelValues(j.Tenant).Inc()
	m.metrics.lines.WithLabelValues(j.Tenant).Add(float64(e.lines))
	m.metrics.bytes.WithLabelValues(j.Tenant, "raw").Add(float64(e.raw))
	m.metrics.bytes.WithLabelValues(j.Tenant, "compressed").Add(float64(len(body)))
	return o, nil
}
