package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// The write-ahead log is a sequence of segment files wal/<16-digit number>.wal.
// A segment is a sequence of records:
//
//	u32 LE   payload length
//	u32 LE   CRC-32C of the payload
//	payload  u8 kind (2 = entries); tenant string; entries, each: uvarint
//	         stream index, varint timestamp, uvarint seq, uvarint n, n ×
//	         (name, value) metadata, string line; then the stream table:
//	         uvarint streams, per stream: u64 id, uvarint n, n × (name, value);
//	         then u32 LE entry count and u32 LE offset of the stream table.
//
// Strings are uvarint length + bytes. The stream table comes last so that the
// record is written in one pass. A segment is never appended to after a restart; a torn record at the end of
// the last segment is cut off.
const (
	walRecordEntries = 2
	walHeaderSize    = 8
	maxWALRecord     = 256 << 20
)

func walSegmentName(n uint64) string { return fmt.Sprintf("%016d.wal", n) }

// listWALSegments returns the segment numbers in dir, ascending.
func listWALSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".wal") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, ".wal"), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// walRecord is a decoded entries record.
type walRecord struct {
	tenant  string
	streams []walStream
	entries []walEntry
}

type walStream struct {
	id     uint64
	labels logmodel.Labels
}

type walEntry struct {
	stream int
	ts     int64
	seq    uint64
	md     logmodel.Labels
	line   []byte
}

// walEncoder appends records to a buffer. It is owned by the writer
// goroutine.
type walEncoder struct {
	buf    []byte
	start  int // where the current record's frame begins
	tenant string
	// limit caps a record's payload: 0 means maxWALRecord, which replay
	// accepts; tests set less.
	limit   int
	streams map[uint64]int
	nStream int
	sbuf    []byte
	nEntry  int
	lastID  uint64 // the last stream added and its index, to skip the map
	lastIdx int
}

// begin starts a record for tenant at the end of buf.
func (e *walEncoder) begin(buf []byte, tenant string) {
	if e.streams == nil {
		e.streams = make(map[uint64]int)
	}
	clear(e.streams)
	e.nStream, e.nEntry, e.lastIdx = 0, 0, -1
	e.sbuf = e.sbuf[:0]
	e.start, e.tenant = len(buf), tenant
	buf = append(buf, make([]byte, walHeaderSize)...)
	buf = append(buf, walRecordEntries)
	e.buf = appendString(buf, tenant)
}

// add appends an entry. An entry that would take the record past its limit
// goes into a new record of the same tenant: replay treats a longer one as torn.
// Config.Validate keeps every entry under half of maxWALRecord, so a record
// under half its limit takes any entry without measuring it.
func (e *walEncoder) add(s *Stream, ts int64, seq uint64, md logmodel.Labels, line []byte) {
	limit := e.limit
	if limit <= 0 {
		limit = maxWALRecord
	}
	if b := e.payloadBound(); e.nEntry > 0 && b > limit/2 && b+walEntryBound(s, md, line) > limit {
		e.begin(e.finish(), e.tenant)
	}
	idx, ok := e.lastIdx, e.lastIdx >= 0 && e.lastID == s.ID
	if !ok {
		idx, ok = e.streams[s.ID]
	}
	if !ok {
		idx = e.nStream
		e.streams[s.ID] = idx
		e.nStream++
		e.sbuf = binary.LittleEndian.AppendUint64(e.sbuf, s.ID)
		e.sbuf = binary.AppendUvarint(e.sbuf, uint64(len(s.Labels)))
		for _, l := range s.Labels {
			e.sbuf = appendString(e.sbuf, l.Name)
			e.sbuf = appendString(e.sbuf, l.Value)
		}
	}
	e.lastID, e.lastIdx = s.ID, idx
	b := binary.AppendUvarint(e.buf, uint64(idx))
	b = binary.AppendVarint(b, ts)
	b = binary.AppendUvarint(b, seq)
	b = binary.AppendUvarint(b, uint64(len(md)))
	for _, l := range md {
		b = appendString(b, l.Name)
		b = appendString(b, l.Value)
	}
	b = binary.AppendUvarint(b, uint64(len(line)))
	e.buf = append(b, line...)
	e.nEntry++
}

// payloadBound is the most bytes the current record's payload takes once
// finished.
func (e *walEncoder) payloadBound() int {
	return len(e.buf) - e.start - walHeaderSize + binary.MaxVarintLen64 + len(e.sbuf) + 8
}

// walEntryBound is the most bytes an entry adds to a record's payload, its
// stream's row in the stream table included.
func walEntryBound(s *Stream, md logmodel.Labels, line []byte) int {
	n := 5*binary.MaxVarintLen64 + len(line) + 8
	for _, l := range md {
		n += 2*binary.MaxVarintLen64 + len(l.Name) + len(l.Value)
	}
	for _, l := range s.Labels {
		n += 2*binary.MaxVarintLen64 + len(l.Name) + len(l.Value)
	}
	return n
}

// finish closes the record and returns the buffer; a record without entries
// is dropped.
func (e *walEncoder) finish() []byte {
	if e.nEntry == 0 {
		return e.buf[:e.start]
	}
	payloadStart := e.start + walHeaderSize
	tableOff := len(e.buf) - payloadStart
	b := binary.AppendUvarint(e.buf, uint64(e.nStream))
	b = append(b, e.sbuf...)
	b = binary.LittleEndian.AppendUint32(b, uint32(e.nEntry))
	b = binary.LittleEndian.AppendUint32(b, uint32(tableOff))
	payload := b[payloadStart:]
	binary.LittleEndian.PutUint32(b[e.start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[e.start+4:], crc32.Checksum(payload, crcTable))
	e.buf = b
	return b
}

// decodeWALRecord decodes one payload. Entry lines alias p.
func decodeWALRecord(p []byte) (walRecord, error) {
	var rec walRecord
	if len(p) < 9 || p[0] != walRecordEntries {
		return rec, corruptf("wal: unknown record kind")
	}
	nEntries := binary.LittleEndian.Uint32(p[len(p)-8:])
	tableOff := binary.LittleEndian.Uint32(p[len(p)-4:])
	if tableOff < 1 || int(tableOff) > len(p)-8 || int(nEntries) > len(p) {
		return rec, corruptf("wal: bad trailer")
	}
	t := reader{b: p[tableOff : len(p)-8]}
	ns := t.uvarint()
	if ns > uint64(len(p)) {
		return rec, corruptf("wal: stream count")
	}
	for i := uint64(0); i < ns && t.err == nil; i++ {
		s := walStream{id: t.u64()}
		nl := t.uvarint()
		if nl > 1024 {
			return rec, corruptf("wal: label count")
		}
		for j := uint64(0); j < nl; j++ {
			s.labels = append(s.labels, logmodel.Label{Name: t.str(), Value: t.str()})
		}
		rec.streams = append(rec.streams, s)
	}
	if t.err != nil || len(t.b) != 0 {
		return rec, corruptf("wal: bad stream table")
	}
	r := reader{b: p[1:tableOff]}
	rec.tenant = r.str()
	for i := uint32(0); i < nEntries && r.err == nil; i++ {
		var e walEntry
		si := r.uvarint()
		if si >= ns {
			return rec, corruptf("wal: stream index")
		}
		e.stream = int(si)
		e.ts = r.varint()
		e.seq = r.uvarint()
		nm := r.uvarint()
		if nm > 1024 {
			return rec, corruptf("wal: metadata count")
		}
		for j := uint64(0); j < nm; j++ {
			e.md = append(e.md, logmodel.Label{Name: r.str(), Value: r.str()})
		}
		e.line = r.bytes(int(r.uvarint()))
		rec.entries = append(rec.entries, e)
	}
	if r.err != nil {
		return rec, r.err
	}
	if len(r.b) != 0 {
		return rec, corruptf("wal: %d trailing bytes", len(r.b))
	}
	return rec, nil
}

// replaySegment calls fn for each record of a segment. It returns the offset
// just past the last good record and whether the segment ended with a bad or
// torn record.
func replaySegment(path string, fn func(walRecord) error) (good int64, torn bool, err error) {
	f, err := os.Open(path) // #nosec G304 -- a segment listed from the operator's data directory
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var hdr [walHeaderSize]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return good, false, nil
			}
			return good, true, nil
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n == 0 || n > maxWALRecord {
			return good, true, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return good, true, nil
		}
		if crc32.Checksum(payload, crcTable) != sum {
			return good, true, nil
		}
		rec, err := decodeWALRecord(payload)
		if err != nil {
			return good, true, nil
		}
		if err := fn(rec); err != nil {
			return good, false, err
		}
		good += int64(walHeaderSize) + int64(n)
	}
}

// walFile is the segment being written. It is owned by the writer goroutine,
// and by the syncer while a commit group is in flight.
type walFile struct {
	dir  string
	num  uint64
	f    *os.File
	size int64
	// broken is set when a failed write could not be cut back: the segment
	// may end in a partial record, so the writer moves to a new one.
	broken bool
}

func createWALSegment(dir string, num uint64) (*walFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, walSegmentName(num)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- a numbered segment name in the operator's data directory
	if err != nil {
		return nil, fmt.Errorf("create wal segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &walFile{dir: dir, num: num, f: f}, nil
}

// write appends b; on a short write it cuts the segment back so that no torn
// record stays in the middle of the log.
func (w *walFile) write(b []byte) error {
	n, err := w.f.Write(b)
	if err != nil {
		if terr := w.f.Truncate(w.size); terr != nil {
			w.broken = true
			return fmt.Errorf("wal write: %w (and truncate failed: %v)", err, terr)
		}
		if _, serr := w.f.Seek(w.size, io.SeekStart); serr != nil {
			w.broken = true
			return fmt.Errorf("wal write: %w (and seek failed: %v)", err, serr)
		}
		return fmt.Errorf("wal write: %w", err)
	}
	w.size += int64(n)
	return nil
}

func (w *walFile) sync() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("wal fsync: %w", err)
	}
	return nil
}

func (w *walFile) close() error { return w.f.Close() }
