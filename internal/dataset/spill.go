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
// stream labels. It is not safe for concurrent use.
type Replay struct {
	r      *bufio.Reader
	labels []logmodel.Labels
}

// NewReplay reads spilled entries from r; labels are the generator's
// StreamLabels.
func NewReplay(r io.Reader, labels []logmodel.Labels) *Replay {
	return &Replay{r: bufio.NewReaderSize(r, 1<<20), labels: labels}
}

// maxSpilledLine bounds a spilled line's length, so that a corrupt file
// cannot ask for a huge allocation.
const maxSpilledLine = 1 << 24

// Next fills dst (reusing its capacity and line buffers) with up to n
// entries and returns it; at the end of the spill it returns what it has and
// io.EOF.
func (p *Replay) Next(dst []logmodel.Entry, n int) ([]logmodel.Entry, error) {
	dst = dst[:0]
	for len(dst) < n {
		e, err := p.next(dst)
		if err != nil {
			return dst, err
		}
		dst = append(dst, e)
	}
	return dst, nil
}

func (p *Replay) next(dst []logmodel.Entry) (logmodel.Entry, error) {
	si, err := binary.ReadUvarint(p.r)
	if err != nil {
		return logmodel.Entry{}, err
	}
	ts, err := binary.ReadVarint(p.r)
	if err != nil {
		return logmodel.Entry{}, unexpected(err)
	}
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		return logmodel.Entry{}, unexpected(err)
	}
	if si >= uint64(len(p.labels)) || n > maxSpilledLine {
		return logmodel.Entry{}, fmt.Errorf("dataset: corrupt spill: stream %d, line length %d", si, n)
	}
	var line []byte
	if cap(dst) > len(dst) {
		line = dst[:len(dst)+1][len(dst)].Line[:0]
	}
	if cap(line) < int(n) {
		line = make([]byte, n)
	}
	line = line[:n]
	if _, err := io.ReadFull(p.r, line); err != nil {
		return logmodel.Entry{}, unexpected(err)
	}
	return logmodel.Entry{Labels: p.labels[si], Timestamp: ts, Line: line}, nil
}

// unexpected turns an end of file inside an entry into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
