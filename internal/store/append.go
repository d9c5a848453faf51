package store

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// AppendResult reports what an Append did, entry by entry.
type AppendResult struct {
	// Cursors holds each input entry's cursor, aligned with the input. A
	// duplicate gets the zero cursor, as does a rejected entry.
	Cursors []logmodel.Cursor
	// Accepted counts stored entries; Duplicates counts retries of entries
	// already stored; Truncated counts lines cut to MaxLineBytes.
	Accepted, Duplicates, Truncated int
}

// ValidationError lists the entries an Append rejected; the others were
// stored. Callers can find it with errors.As.
type ValidationError struct {
	Rejected int
	// First describes the first rejection, naming the limit or field.
	First string
}

func (e *ValidationError) Error() string {
	if e.Rejected == 1 {
		return "1 entry rejected: " + e.First
	}
	return fmt.Sprintf("%d entries rejected; first: %s", e.Rejected, e.First)
}

// appendReq carries one validated batch to the writer goroutine.
type appendReq struct {
	t       *tenant
	streams []*Stream        // per row
	rows    []logmodel.Entry // the caller's entries when none was changed or rejected
	index   []int            // row -> input index; nil means the identity
	res     *AppendResult
	done    chan error
}

// input returns the input index of row i.
func (r *appendReq) input(i int) int {
	if r.index == nil {
		return i
	}
	return r.index[i]
}

// Append stores a batch of one tenant's entries and returns when they are
// durable under the configured fsync policy. Entries may be in any time order.
// An entry identical to a stored one of its stream (timestamp, line and
// metadata) is a retry and is stored once. Invalid entries are rejected and
// reported in a *ValidationError while the rest are stored. The entries must
// not be changed until Append returns.
func (s *Store) Append(ctx context.Context, tenantName string, entries []logmodel.Entry) (AppendResult, error) {
	res := AppendResult{Cursors: make([]logmodel.Cursor, len(entries))}
	if err := validTenant(tenantName); err != nil {
		return res, err
	}
	if len(entries) == 0 {
		return res, nil
	}
	s.mu.Lock()
	t := s.tenantLocked(tenantName)
	retention := s.retentionLocked(tenantName)
	s.mu.Unlock()
	now := s.cfg.Clock.Now()
	oldest := now.Add(-retention).UnixNano()
	newest := now.Add(s.cfg.MaxFuture).UnixNano()

	req := &appendReq{
		t: t, res: &res, done: make(chan error, 1),
		streams: make([]*Stream, 0, len(entries)),
	}
	// While every entry is stored as given, rows is the caller's slice
	// itself; the first rejected or changed entry makes it a copy with an
	// index back to the input.
	clean := true
	diverge := func(i int) {
		if !clean {
			return
		}
		clean = false
		req.rows = make([]logmodel.Entry, i, len(entries))
		copy(req.rows, entries[:i])
		req.index = make([]int, i, len(entries))
		for k := range req.index {
			req.index[k] = k
		}
	}
	var verr *ValidationError
	reject := func(i int, msg string) {
		diverge(i)
		if verr == nil {
			verr = &ValidationError{First: msg}
		}
		verr.Rejected++
	}
	var lastLabels logmodel.Labels
	var lastStream *Stream
	var lastErr string
	seen := newLabelCache(len(entries))
	for i := range entries {
		e := &entries[i]
		if lastStream == nil || !sameLabels(e.Labels, lastLabels) {
			lastLabels = e.Labels
			c := seen.slot(e.Labels)
			if c.labels == nil || !sameArray(c.labels, e.Labels) {
				c.labels, c.stream, c.err = e.Labels, nil, s.checkLabels(e.Labels)
				if c.err == "" {
					c.stream = t.stream(streamID(tenantName, e.Labels), e.Labels)
				}
			}
			lastStream, lastErr = c.stream, c.err
		}
		if lastErr != "" {
			reject(i, lastErr)
			continue
		}
		switch {
		case e.Timestamp < oldest:
			reject(i, fmt.Sprintf("timestamp %s is older than the retention of %s", time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano), retention))
			continue
		case e.Timestamp > newest:
			reject(i, fmt.Sprintf("timestamp %s is more than %s in the future", time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano), s.cfg.MaxFuture))
			continue
		}
		row := *e
		changed := false
		if len(row.Metadata) > 0 {
			if msg := s.checkMetadata(row.Metadata); msg != "" {
				reject(i, msg)
				continue
			}
			if !metadataSorted(row.Metadata) {
				row.Metadata = row.Metadata.Copy().Sort()
				changed = true
			}
		}
		if len(row.Line) > s.cfg.MaxLineBytes {
			row.Line = truncateLine(row.Line, s.cfg.MaxLineBytes)
			row.Metadata = withMeta(row.Metadata, logmodel.MetaTruncated, "true")
			res.Truncated++
			changed = true
		}
		if changed {
			diverge(i)
		}
		req.streams = append(req.streams, lastStream)
		if !clean {
			req.rows = append(req.rows, row)
			req.index = append(req.index, i)
		}
	}
	if clean {
		req.rows = entries
	}
	if len(req.rows) > 0 {
		if err := s.submit(ctx, req); err != nil {
			return res, err
		}
	}
	if verr != nil {
		return res, verr
	}
	return res, nil
}

func (s *Store) submit(ctx context.Context, req *appendReq) error {
	s.closeMu.RLock()
	if s.closed.Load() {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once queued the batch is written whatever the caller does, so wait for
	// the outcome rather than report a cancellation that did not happen.
	return <-req.done
}

// labelCache remembers, within one Append, the streams of recent label
// sets by the address of their array: senders interleave streams in a
// batch, each entry pointing at its stream's one label set, and hashing the
// labels again for every entry costs more than the rest of Append.
type labelCache struct {
	slots []labelCacheSlot
	shift uint
}

type labelCacheSlot struct {
	labels logmodel.Labels
	stream *Stream
	err    string // why the labels are invalid
}

// maxLabelCache bounds the slots of one Append's label cache; a batch of a
// few thousand entries rarely has more streams than that.
const maxLabelCache = 1024

// newLabelCache returns a cache with about one slot per entry of a batch
// of n, up to maxLabelCache.
func newLabelCache(n int) labelCache {
	bits := uint(0)
	for 1<<bits < min(n, maxLabelCache) {
		bits++
	}
	return labelCache{slots: make([]labelCacheSlot, 1<<bits), shift: 64 - bits}
}

// slot returns the slot for ls, which may hold another label set. Label
// arrays lie at regular strides in memory, so their addresses are mixed
// (Fibonacci hashing) before they pick a slot.
func (c *labelCache) slot(ls logmodel.Labels) *labelCacheSlot {
	var p uint64
	if len(ls) > 0 {
		p = uint64(uintptr(unsafe.Pointer(&ls[0]))) // #nosec G103 -- the address is only hashed, never turned back into a pointer
	}
	return &c.slots[(p*0x9e3779b97f4a7c15)>>c.shift&uint64(len(c.slots)-1)]
}

// sameArray reports whether a and b are the same slice of the same array.
func sameArray(a, b logmodel.Labels) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func sameLabels(a, b logmodel.Labels) bool {
	return sameArray(a, b) || a.Equal(b)
}

func streamID(tenant string, labels logmodel.Labels) uint64 {
	return labels.Hash() ^ mixHash(tokenHash(tenant))
}

func validTenant(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("tenant must be 1 to 63 characters, got %d", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '.' || c == '_' || c == '-'))) {
			return fmt.Errorf("tenant %q must match [a-z0-9][a-z0-9._-]{0,62}", name)
		}
	}
	return nil
}

// checkLabels returns "" for a valid label set, else the broken limit.
func (s *Store) checkLabels(ls logmodel.Labels) string {
	if len(ls) == 0 {
		return "stream has no labels"
	}
	if len(ls) > s.cfg.MaxLabels {
		return fmt.Sprintf("stream has %d labels, over the limit max_labels=%d", len(ls), s.cfg.MaxLabels)
	}
	for i, l := range ls {
		if !logmodel.ValidLabelName(l.Name) {
			return (&logmodel.ErrInvalidLabel{Name: l.Name}).Error()
		}
		if len(l.Name) > s.cfg.MaxLabelNameLen {
			return fmt.Sprintf("label name %.40q... is %d bytes, over the limit max_label_name_length=%d", l.Name, len(l.Name), s.cfg.MaxLabelNameLen)
		}
		if len(l.Value) > s.cfg.MaxLabelValueLen {
			return fmt.Sprintf("value of label %q is %d bytes, over the limit max_label_value_length=%d", l.Name, len(l.Value), s.cfg.MaxLabelValueLen)
		}
		if i > 0 && ls[i-1].Name >= l.Name {
			return fmt.Sprintf("labels must be sorted and unique (at %q)", l.Name)
		}
	}
	return ""
}

func (s *Store) checkMetadata(md logmodel.Labels) string {
	size := 0
	for _, l := range md {
		if l.Name == "" {
			return "structured metadata has an empty name"
		}
		size += len(l.Name) + len(l.Value)
	}
	if size > s.cfg.MaxMetadataBytes {
		return fmt.Sprintf("structured metadata is %d bytes, over the limit max_metadata_bytes=%d", size, s.cfg.MaxMetadataBytes)
	}
	return ""
}

func metadataSorted(md logmodel.Labels) bool {
	for i := 1; i < len(md); i++ {
		if md[i-1].Name >= md[i].Name {
			return false
		}
	}
	return true
}

func withMeta(md logmodel.Labels, name, value string) logmodel.Labels {
	out := make(logmodel.Labels, 0, len(md)+1)
	out = append(out, md...)
	out = append(out, logmodel.Label{Name: name, Value: value})
	return out.Sort()
}

// truncateLine cuts line to at most n bytes, backing off to a UTF-8 boundary
// when the line is valid UTF-8 there.
func truncateLine(line []byte, n int) []byte {
	cut := n
	for i := 0; i < utf8.UTFMax && cut-i > 0; i++ {
		if utf8.RuneStart(line[cut-i]) {
			if utf8.Valid(line[cut-i:min(len(line), cut-i+utf8.UTFMax)]) || i == 0 {
				cut -= i
			}
			break
		}
	}
	return line[:cut]
}
