package store

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// A part is an immutable file holding one tenant's entries for a time window:
//
//	"KLPART01"                      8-byte header
//	blocks                          see block.go, grouped by stream, sorted by time
//	bloom region                    one filter per block (bloom.go)
//	index                           zstd-compressed stream table and block table
//	footer (48 bytes)               bloomOff, bloomLen, indexOff, indexLen (u64 LE),
//	                                index CRC-32C (u32), format version (u32), "KLPARTv1"
//
// The index, before compression:
//
//	tenant string
//	uvarint streams, per stream: u64 id, uvarint n, n × (name, value)
//	uvarint blocks, per block: uvarint stream, count; varint minTs; uvarint
//	        maxTs-minTs, minSeq, maxSeq-minSeq, rawBytes, off, length; u32 crc;
//	        uvarint bloomOff, bloomLen
//
// Strings are uvarint length + bytes. Parts are written to a temporary name,
// fsynced and renamed; they are never modified, only deleted whole.
const (
	partHeader      = "KLPART01"
	partFooterMagic = "KLPARTv1"
	// partFormat 2 adds prefix and suffix grams to the blooms, format 3 the
	// inner grams of tokens, format 4 packed digits (digits.go); older
	// parts are still read, without the pruning their blooms cannot answer.
	partFormat     = 4
	partFooterSize = 48
)

// partStream is one stream of a part and the range of its blocks.
type partStream struct {
	id     uint64
	labels logmodel.Labels
	first  int // index of its first block
	n      int // number of blocks

	// Totals over the stream's blocks, so that counts over whole parts need
	// no block metadata.
	entries, rawBytes uint64
	minTs, maxTs      int64
}

// part is an open, immutable part file. Its fields are read-only after open,
// except refs and removed.
type part struct {
	name     string
	path     string
	f        *os.File
	size     int64
	tenant   string
	streams  []partStream
	byID     map[uint64]int
	blocks   []blockMeta
	blooms   []byte
	minTs    int64
	maxTs    int64
	minSeq   uint64
	maxSeq   uint64
	entries  uint64
	rawBytes uint64

	// format is the part's format version: its blooms hold prefix and
	// suffix grams from 2 on, inner grams from 3 on.
	format uint32

	refs    atomic.Int64 // the store's reference plus one per running query
	removed atomic.Bool  // delete the file once the last reference goes
}

func (p *part) ref() { p.refs.Add(1) }

// unref drops a reference; the last one closes the file, and deletes it if the
// part was removed from the store.
func (p *part) unref() {
	if p.refs.Add(-1) != 0 {
		return
	}
	_ = p.f.Close()
	if p.removed.Load() {
		_ = os.Remove(p.path)
	}
}

// readBlock reads block i's bytes into buf and checks its checksum.
func (p *part) readBlock(i int, buf []byte) ([]byte, error) {
	b := &p.blocks[i]
	buf = grow(buf, int(b.length))
	if _, err := p.f.ReadAt(buf, int64(b.off)); err != nil {
		return buf, fmt.Errorf("part %s: read block %d: %w", p.name, i, err)
	}
	if crc32.Checksum(buf, crcTable) != b.crc {
		return buf, fmt.Errorf("part %s: block %d: %w: checksum mismatch", p.name, i, errCorrupt)
	}
	return buf, nil
}

func (p *part) bloom(i int) []byte {
	b := &p.blocks[i]
	return p.blooms[b.bloomOff : b.bloomOff+uint64(b.bloomLen)]
}

// partWriter writes a part file block by block. Blocks must be added grouped
// by stream (streams in the order they are added) and by time within a stream.
type partWriter struct {
	tmp     string
	final   string
	f       *os.File
	w       *bufio.Writer
	off     uint64
	tenant  string
	streams []partStream
	blocks  []blockMeta
	blooms  []byte
}

func newPartWriter(path, tenant string) (*partWriter, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- a generated part name in the operator's data directory
	if err != nil {
		return nil, fmt.Errorf("create part: %w", err)
	}
	pw := &partWriter{tmp: tmp, final: path, f: f, w: bufio.NewWriterSize(f, 1<<20), tenant: tenant}
	if _, err := pw.w.WriteString(partHeader); err != nil {
		pw.abort()
		return nil, err
	}
	pw.off = uint64(len(partHeader))
	return pw, nil
}

// startStream begins the blocks of a new stream.
func (pw *partWriter) startStream(id uint64, labels logmodel.Labels) {
	pw.streams = append(pw.streams, partStream{id: id, labels: labels, first: len(pw.blocks)})
}

// reserve makes room in the index for blocks more blocks with bloomBytes of
// filters, when the caller knows them, so that they are not grown by
// doubling.
func (pw *partWriter) reserve(blocks, bloomBytes int) {
	pw.blocks = slices.Grow(pw.blocks, blocks)
	pw.blooms = slices.Grow(pw.blooms, bloomBytes)
}

// addBlock appends an encoded block of the current stream.
func (pw *partWriter) addBlock(data []byte, m blockMeta, bloom []byte) error {
	if _, err := pw.w.Write(data); err != nil {
		return fmt.Errorf("write part: %w", err)
	}
	m.stream = uint32(len(pw.streams) - 1)
	m.off = pw.off
	m.length = uint32(len(data))
	m.bloomOff = uint64(len(pw.blooms))
	m.bloomLen = uint32(len(bloom))
	pw.blooms = append(pw.blooms, bloom...)
	pw.off += uint64(len(data))
	pw.blocks = append(pw.blocks, m)
	pw.streams[len(pw.streams)-1].n++
	return nil
}

// finish writes the index and footer, fsyncs and renames the file into place.
func (pw *partWriter) finish() error {
	bloomOff := pw.off
	if _, err := pw.w.Write(pw.blooms); err != nil {
		pw.abort()
		return fmt.Errorf("write part blooms: %w", err)
	}
	idx := appendString(nil, pw.tenant)
	idx = binary.AppendUvarint(idx, uint64(len(pw.streams)))
	for _, s := range pw.streams {
		idx = binary.LittleEndian.AppendUint64(idx, s.id)
		idx = binary.AppendUvarint(idx, uint64(len(s.labels)))
		for _, l := range s.labels {
			idx = appendString(idx, l.Name)
			idx = appendString(idx, l.Value)
		}
	}
	idx = binary.AppendUvarint(idx, uint64(len(pw.blocks)))
	for _, b := range pw.blocks {
		idx = binary.AppendUvarint(idx, uint64(b.stream))
		idx = binary.AppendUvarint(idx, uint64(b.count))
		idx = binary.AppendVarint(idx, b.minTs)
		idx = binary.AppendUvarint(idx, uint64(b.maxTs-b.minTs))
		idx = binary.AppendUvarint(idx, b.minSeq)
		idx = binary.AppendUvarint(idx, b.maxSeq-b.minSeq)
		idx = binary.AppendUvarint(idx, b.rawBytes)
		idx = binary.AppendUvarint(idx, b.off)
		idx = binary.AppendUvarint(idx, uint64(b.length))
		idx = binary.LittleEndian.AppendUint32(idx, b.crc)
		idx = binary.AppendUvarint(idx, b.bloomOff)
		idx = binary.AppendUvarint(idx, uint64(b.bloomLen))
	}
	idxZ := zstdEncoder.EncodeAll(idx, nil)
	indexOff := bloomOff + uint64(len(pw.blooms))
	var foot []byte
	foot = binary.LittleEndian.AppendUint64(foot, bloomOff)
	foot = binary.LittleEndian.AppendUint64(foot, uint64(len(pw.blooms)))
	foot = binary.LittleEndian.AppendUint64(foot, indexOff)
	foot = binary.LittleEndian.AppendUint64(foot, uint64(len(idxZ)))
	foot = binary.LittleEndian.AppendUint32(foot, crc32.Checksum(idxZ, crcTable))
	foot = binary.LittleEndian.AppendUint32(foot, partFormat)
	foot = append(foot, partFooterMagic...)
	if _, err := pw.w.Write(idxZ); err != nil {
		pw.abort()
		return fmt.Errorf("write part index: %w", err)
	}
	if _, err := pw.w.Write(foot); err != nil {
		pw.abort()
		return fmt.Errorf("write part footer: %w", err)
	}
	if err := pw.w.Flush(); err != nil {
		pw.abort()
		return fmt.Errorf("write part: %w", err)
	}
	if err := pw.f.Sync(); err != nil {
		pw.abort()
		return fmt.Errorf("fsync part: %w", err)
	}
	if err := pw.f.Close(); err != nil {
		_ = os.Remove(pw.tmp)
		return fmt.Errorf("close part: %w", err)
	}
	if err := os.Rename(pw.tmp, pw.final); err != nil {
		_ = os.Remove(pw.tmp)
		return fmt.Errorf("rename part: %w", err)
	}
	return syncDir(filepath.Dir(pw.final))
}

func (pw *partWriter) abort() {
	_ = pw.f.Close()
	_ = os.Remove(pw.tmp)
}

// openPart opens and validates a part file, loading its index and blooms.
func openPart(path string) (*part, error) {
	f, err := os.Open(path) // #nosec G304 -- a part named in the manifest of the operator's data directory
	if err != nil {
		return nil, err
	}
	p, err := loadPart(f, path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	p.refs.Store(1)
	return p, nil
}

func loadPart(f *os.File, path string) (*part, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < int64(len(partHeader)+partFooterSize) {
		return nil, corruptf("part %s: too short (%d bytes)", filepath.Base(path), size)
	}
	head := make([]byte, len(partHeader))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, err
	}
	foot := make([]byte, partFooterSize)
	if _, err := f.ReadAt(foot, size-partFooterSize); err != nil {
		return nil, err
	}
	if string(head) != partHeader || string(foot[40:]) != partFooterMagic {
		return nil, corruptf("part %s: bad magic", filepath.Base(path))
	}
	r := reader{b: foot}
	bloomOff, bloomLen, indexOff, indexLen := r.u64(), r.u64(), r.u64(), r.u64()
	indexCRC, version := r.u32(), r.u32()
	if version < 1 || version > partFormat {
		return nil, corruptf("part %s: unsupported format version %d", filepath.Base(path), version)
	}
	limit := uint64(size - partFooterSize)
	if bloomOff > limit || bloomLen > limit-bloomOff || indexOff != bloomOff+bloomLen || indexLen != limit-indexOff {
		return nil, corruptf("part %s: footer offsets out of range", filepath.Base(path))
	}
	idxZ := make([]byte, indexLen)
	if _, err := f.ReadAt(idxZ, int64(indexOff)); err != nil && err != io.EOF {
		return nil, err
	}
	if crc32.Checksum(idxZ, crcTable) != indexCRC {
		return nil, corruptf("part %s: index checksum mismatch", filepath.Base(path))
	}
	idx, err := zstdDecoder.DecodeAll(idxZ, nil)
	if err != nil {
		return nil, corruptf("part %s: index: %v", filepath.Base(path), err)
	}
	p := &part{name: filepath.Base(path), path: path, f: f, size: size, format: version}
	if err := p.parseIndex(idx, bloomOff, bloomLen); err != nil {
		return nil, fmt.Errorf("part %s: %w", p.name, err)
	}
	p.blooms = make([]byte, bloomLen)
	if _, err := f.ReadAt(p.blooms, int64(bloomOff)); err != nil && err != io.EOF {
		return nil, err
	}
	return p, nil
}

func (p *part) parseIndex(idx []byte, dataEnd, bloomLen uint64) error {
	r := reader{b: idx}
	p.tenant = r.str()
	ns := r.uvarint()
	if ns > uint64(len(idx)) {
		return corruptf("index: stream count %d", ns)
	}
	p.streams = make([]partStream, ns)
	p.byID = make(map[uint64]int, ns)
	for i := range p.streams {
		s := &p.streams[i]
		s.id = r.u64()
		nl := r.uvarint()
		if nl > 1024 {
			return corruptf("index: %d labels", nl)
		}
		s.labels = make(logmodel.Labels, 0, nl)
		for j := uint64(0); j < nl; j++ {
			s.labels = append(s.labels, logmodel.Label{Name: r.str(), Value: r.str()})
		}
		p.byID[s.id] = i
	}
	nb := r.uvarint()
	if nb > uint64(len(idx)) || r.err != nil {
		return corruptf("index: block count")
	}
	p.blocks = make([]blockMeta, nb)
	p.minTs, p.maxTs = int64(1<<63-1), int64(-1<<63)
	for i := range p.blocks {
		b := &p.blocks[i]
		st, count := r.uvarint(), r.uvarint()
		b.minTs = r.varint()
		tsSpan := r.uvarint()
		b.minSeq = r.uvarint()
		seqSpan := r.uvarint()
		b.rawBytes = r.uvarint()
		b.off = r.uvarint()
		length := r.uvarint()
		b.crc = r.u32()
		b.bloomOff = r.uvarint()
		blen := r.uvarint()
		if r.err != nil {
			return r.err
		}
		// Each field is checked before it is narrowed or added to, so that a
		// corrupt index cannot wrap into a range that passes.
		if st >= ns || st > math.MaxUint32 || count == 0 || count > maxBlockEntries ||
			tsSpan > math.MaxInt64-uint64(max(b.minTs, 0)) || seqSpan > math.MaxUint64-b.minSeq ||
			b.off < uint64(len(partHeader)) || b.off > dataEnd || length > dataEnd-b.off || length > math.MaxUint32 ||
			b.bloomOff > bloomLen || blen > bloomLen-b.bloomOff || blen > math.MaxUint32 {
			return corruptf("index: block %d out of range", i)
		}
		b.stream, b.count, b.length, b.bloomLen = uint32(st), uint32(count), uint32(length), uint32(blen)
		b.maxTs = b.minTs + int64(tsSpan)
		b.maxSeq = b.minSeq + seqSpan
		s := &p.streams[st]
		if s.n == 0 {
			s.first = i
		} else if s.first+s.n != i {
			return corruptf("index: blocks of stream %d not contiguous", st)
		}
		if s.n == 0 {
			s.minTs, s.maxTs = b.minTs, b.maxTs
		}
		s.n++
		s.entries += uint64(b.count)
		s.rawBytes += b.rawBytes
		s.minTs, s.maxTs = min(s.minTs, b.minTs), max(s.maxTs, b.maxTs)
		p.minTs, p.maxTs = min(p.minTs, b.minTs), max(p.maxTs, b.maxTs)
		if i == 0 {
			p.minSeq, p.maxSeq = b.minSeq, b.maxSeq
		}
		p.minSeq, p.maxSeq = min(p.minSeq, b.minSeq), max(p.maxSeq, b.maxSeq)
		p.entries += uint64(b.count)
		p.rawBytes += b.rawBytes
	}
	if len(r.b) != 0 {
		return corruptf("index: %d trailing bytes", len(r.b))
	}
	return nil
}

// syncDir fsyncs a directory so that a rename or create in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory of the operator's data directory, opened only to fsync it
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
