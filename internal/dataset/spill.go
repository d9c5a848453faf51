package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Spill writes the generator's remaining entries to w, so that a benchmark
// can replay them with a Replay and measure ingest without paying for
// generation. Each entry is framed as: stream index (uvarint), timestamp
// (varint), line length (uvarint), line. It returns the raw line bytes written.
func (g *Generator) Spill(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var line, hdr []byte
	var raw int64
	for {
		si, ts, l, ok := g.next1(line[:0])
		if !ok {
			break
		}
		line = l
		hdr = binary.AppendUvarint(hdr[:0], uint64(si))
		hdr = binary.AppendVarint(hdr, ts)
		hdr = binary.AppendUvarint(hdr, uint64(len(line)))
		if _, err := bw.Write(hdr); err != nil {
			return raw, err
		}
		if _, err := bw.Write(line); err != nil {
			return raw, err
		}
		raw += int64(len(line))
	}
	return raw, bw.Flush()
}

// Replay yields the entries a Generator spilled, with the generator's
// stream labels. It parses frames straight from its own read buffer rather
// than through a bufio.Reader, since at millions of entries per second the
// per-byte reads cost more than the store's work on the same entry. It is
// not safe for concurrent use.
type Replay struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // the reader's error, once it gave one
	labels   []logmodel.Labels
}

// NewReplay reads spilled entries from r; labels are the generator's
// StreamLabels.
func NewReplay(r io.Reader, labels []logmodel.Labels) *Replay {
	return &Replay{r: r, buf: make([]byte, 1<<20), labels: labels}
}

// maxSpilledLine bounds a spilled line's length, so that a corrupt file
// cannot ask for a huge allocation.
const maxSpilledLine = 1 << 24

// maxFrameHeader is the longest a frame's header can be: three varints.
const maxFrameHeader = 3 * binary.MaxVarintLen64

// Batch holds replayed entries. Their lines share one buffer, so that a
// batch is filled by writing memory in sequence; filling the batch again
// overwrites the lines of its previous entries.
type Batch struct {
	Entries []logmodel.Entry
	lines   []byte
}

// Next fills b with up to n entries; at the end of the spill it holds what
// is left and Next returns io.EOF.
func (p *Replay) Next(b *Batch, n int) error {
	b.Entries, b.lines = b.Entries[:0], b.lines[:0]
	for len(b.Entries) < n {
		e, err := p.next(b)
		if err != nil {
			return err
		}
		b.Entries = append(b.Entries, e)
	}
	return nil
}

func (p *Replay) next(b *Batch) (logmodel.Entry, error) {
	if p.end-p.pos < maxFrameHeader {
		p.fill(maxFrameHeader)
	}
	if p.pos == p.end {
		if p.err == nil || errors.Is(p.err, io.EOF) {
			return logmodel.Entry{}, io.EOF
		}
		return logmodel.Entry{}, p.err
	}
	buf := p.buf[p.pos:p.end]
	si, k1 := binary.Uvarint(buf)
	ts, k2 := binary.Varint(buf[max(k1, 0):])
	n, k3 := binary.Uvarint(buf[max(k1, 0)+max(k2, 0):])
	if k1 <= 0 || k2 <= 0 || k3 <= 0 {
		return logmodel.Entry{}, p.frameError(k1, k2, k3)
	}
	if si >= uint64(len(p.labels)) || n > maxSpilledLine {
		return logmodel.Entry{}, fmt.Errorf("dataset: corrupt spill: stream %d, line length %d", si, n)
	}
	p.pos += k1 + k2 + k3
	if p.end-p.pos < int(n) {
		p.fill(int(n))
		if p.end-p.pos < int(n) {
			return logmodel.Entry{}, p.truncated()
		}
	}
	// When the buffer grows, earlier entries keep the old array.
	start := len(b.lines)
	b.lines = append(b.lines, p.buf[p.pos:p.pos+int(n)]...)
	p.pos += int(n)
	return logmodel.Entry{Labels: p.labels[si], Timestamp: ts, Line: b.lines[start:len(b.lines):len(b.lines)]}, nil
}

// fill reads until at least want bytes are buffered, the reader ends or it
// fails, growing the buffer if want exceeds it.
func (p *Replay) fill(want int) {
	copy(p.buf, p.buf[p.pos:p.end])
	p.end -= p.pos
	p.pos = 0
	if want > len(p.buf) {
		p.buf = append(p.buf, make([]byte, want-len(p.buf))...)
	}
	for p.end < want && p.err == nil {
		var k int
		k, p.err = p.r.Read(p.buf[p.end:])
		p.end += k
	}
}

// frameError explains a header that did not decode: cut short by the end of
// the data, or a varint that overflows.
func (p *Replay) frameError(k ...int) error {
	for _, v := range k {
		if v < 0 {
			return fmt.Errorf("dataset: corrupt spill: varint overflows 64 bits")
		}
	}
	return p.truncated()
}

// truncated reports a frame cut short: the reader's error if it failed,
// io.ErrUnexpectedEOF if it ended.
func (p *Replay) truncated() error {
	if p.err != nil && !errors.Is(p.err, io.EOF) {
		return p.err
	}
	return io.ErrUnexpectedEOF
}
