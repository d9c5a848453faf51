package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// A block holds the entries of one stream over a time range, sorted by
// (timestamp, seq), in columns:
//
//	u8      block format version (1)
//	uvarint count
//	uvarint len(header)  zstd: timestamps, seqs, metadata, line lengths
//	uvarint len(text)    zstd: the lines concatenated, each ASCII digit replaced by '0'
//	u8      digits mode  (0 none, 1 raw, 2 huff0, 3 packed: see digits.go)
//	uvarint number of digits
//	uvarint len(digits)  the digits taken out of the text, in order
//	header, text, digits
//
// Splitting digits out of the text lets zstd find the repeated templates of log
// lines and lets the (mostly random) digits be packed at 3.33 bits each, or
// Huffman-coded when skewed (digits.go); on loghub data this shrinks blocks by
// about 40% against plain zstd.
//
// The header, before compression:
//
//	varint  first timestamp, then uvarint deltas (non-decreasing)
//	varint  first seq, then zigzag varint deltas
//	uvarint metadata dictionary size, then per set: uvarint n, n × (name, value)
//	        (strings as uvarint length + bytes); then, when the dictionary holds
//	        more than one set, one uvarint index per entry
//	uvarint line length per entry
const blockFormatV1 = 1

const (
	digitsNone   = 0
	digitsRaw    = 1
	digitsHuff0  = 2
	digitsPacked = 3 // from part format 4 on
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	zstdEncoder *zstd.Encoder
	zstdDecoder *zstd.Decoder
)

func init() {
	var err error
	zstdEncoder, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		panic("BUG: zstd encoder: " + err.Error())
	}
	zstdDecoder, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(64<<20), zstd.WithDecoderLowmem(true))
	if err != nil {
		panic("BUG: zstd decoder: " + err.Error())
	}
}

// errCorrupt marks data that fails to decode; it is wrapped with detail.
var errCorrupt = errors.New("corrupt data")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// blockRows is the input of a block: one stream's entries, sorted.
type blockRows struct {
	ts    []int64
	seq   []uint64
	md    []int32 // index into mdDict; -1 for none
	lines [][]byte
}

// newBlockRows returns rows with room for n entries.
func newBlockRows(n int) blockRows {
	return blockRows{ts: make([]int64, 0, n), seq: make([]uint64, 0, n), md: make([]int32, 0, n), lines: make([][]byte, 0, n)}
}

func (r *blockRows) reset() {
	r.ts, r.seq, r.md, r.lines = r.ts[:0], r.seq[:0], r.md[:0], r.lines[:0]
}

func (r *blockRows) Len() int { return len(r.ts) }
func (r *blockRows) Less(i, j int) bool {
	return logmodel.Before(r.ts[i], r.seq[i], r.ts[j], r.seq[j])
}
func (r *blockRows) Swap(i, j int) {
	r.ts[i], r.ts[j] = r.ts[j], r.ts[i]
	r.seq[i], r.seq[j] = r.seq[j], r.seq[i]
	r.md[i], r.md[j] = r.md[j], r.md[i]
	r.lines[i], r.lines[j] = r.lines[j], r.lines[i]
}

// appendDecoded appends row k of d to r, copying its line; its metadata gets
// its index in mdDict, added there (and to mdIdx, keyed by appendMetaKey) the
// first time it is seen.
func (r *blockRows) appendDecoded(d *blockDecoder, k int, mdIdx map[string]int32, mdDict *[]logmodel.Labels) {
	md := d.metadata(k)
	mi := int32(-1)
	if len(md) > 0 {
		key := string(appendMetaKey(nil, md))
		var ok bool
		if mi, ok = mdIdx[key]; !ok {
			mi = int32(len(*mdDict))
			mdIdx[key] = mi
			*mdDict = append(*mdDict, md.Copy())
		}
	}
	r.ts = append(r.ts, d.ts[k])
	r.seq = append(r.seq, d.seq[k])
	r.md = append(r.md, mi)
	r.lines = append(r.lines, append([]byte(nil), d.line(k)...))
}

// blockMeta describes one block inside a part. It is kept in memory for
// every block of every open part.
type blockMeta struct {
	stream   uint32 // index into the part's streams
	count    uint32
	minTs    int64
	maxTs    int64
	minSeq   uint64
	maxSeq   uint64
	rawBytes uint64 // sum of line lengths
	off      uint64
	length   uint32
	crc      uint32
	bloomOff uint64 // into the part's bloom region
	bloomLen uint32
}

// blockEncoder turns rows into block bytes. It reuses its buffers and is not
// safe for concurrent use.
type blockEncoder struct {
	hdr, text, digits []byte
	hdrZ, textZ       []byte
	mdSeen            map[int32]int
	mdOrder           []int32
	packed            []byte // packed digits
	tokens            hashSet
	recent            [recentTokens]uint64
	huff              huff0.Scratch
}

// encode appends the block for rows to dst and returns it, its metadata (off
// and the bloom fields are left to the caller) and its bloom filter appended
// to bloomDst. mdDict resolves rows.md.
func (e *blockEncoder) encode(dst []byte, rows *blockRows, mdDict []logmodel.Labels, bloomDst []byte) ([]byte, blockMeta, []byte) {
	n := len(rows.ts)
	m := blockMeta{count: uint32(n), minTs: rows.ts[0], maxTs: rows.ts[n-1], minSeq: rows.seq[0], maxSeq: rows.seq[0]}
	e.hdr = e.hdr[:0]
	e.hdr = binary.AppendVarint(e.hdr, rows.ts[0])
	for i := 1; i < n; i++ {
		e.hdr = binary.AppendUvarint(e.hdr, uint64(rows.ts[i]-rows.ts[i-1]))
	}
	prev := int64(0)
	for i, s := range rows.seq {
		if i == 0 {
			e.hdr = binary.AppendVarint(e.hdr, int64(s))
		} else {
			e.hdr = binary.AppendVarint(e.hdr, int64(s)-prev)
		}
		prev = int64(s)
		m.minSeq, m.maxSeq = min(m.minSeq, s), max(m.maxSeq, s)
	}
	if e.mdSeen == nil {
		e.mdSeen = make(map[int32]int)
	}
	clear(e.mdSeen)
	e.mdOrder = e.mdOrder[:0]
	for _, id := range rows.md {
		if _, ok := e.mdSeen[id]; !ok {
			e.mdSeen[id] = len(e.mdOrder)
			e.mdOrder = append(e.mdOrder, id)
		}
	}
	e.hdr = binary.AppendUvarint(e.hdr, uint64(len(e.mdOrder)))
	for _, id := range e.mdOrder {
		var ls logmodel.Labels
		if id >= 0 {
			ls = mdDict[id]
		}
		e.hdr = binary.AppendUvarint(e.hdr, uint64(len(ls)))
		for _, l := range ls {
			e.hdr = appendString(e.hdr, l.Name)
			e.hdr = appendString(e.hdr, l.Value)
		}
	}
	if len(e.mdOrder) > 1 {
		for _, id := range rows.md {
			e.hdr = binary.AppendUvarint(e.hdr, uint64(e.mdSeen[id]))
		}
	}
	e.text, e.digits = e.text[:0], e.digits[:0]
	e.tokens.reset()
	clear(e.recent[:])
	for _, line := range rows.lines {
		e.hdr = binary.AppendUvarint(e.hdr, uint64(len(line)))
		m.rawBytes += uint64(len(line))
		e.text, e.digits = splitLine(e.text, e.digits, line, &e.tokens, &e.recent)
	}
	start := len(dst)
	dst = append(dst, blockFormatV1)
	dst = binary.AppendUvarint(dst, uint64(n))
	e.hdrZ = zstdEncoder.EncodeAll(e.hdr, e.hdrZ[:0])
	e.textZ = zstdEncoder.EncodeAll(e.text, e.textZ[:0])
	hdrZ, textZ := e.hdrZ, e.textZ
	mode, digitsZ := digitsNone, []byte(nil)
	switch {
	case len(e.digits) == 0:
	case packDigits(e.digits):
		e.packed = appendPackedDigits(e.packed[:0], e.digits)
		mode, digitsZ = digitsPacked, e.packed
	default:
		mode, digitsZ = digitsRaw, e.digits
		if len(e.digits) <= huff0.BlockSizeMax {
			e.huff.Out = e.huff.Out[:0]
			// Every block carries its own table: never reuse the last one.
			e.huff.Reuse = huff0.ReusePolicyNone
			if out, _, err := huff0.Compress4X(e.digits, &e.huff); err == nil {
				mode, digitsZ = digitsHuff0, out
			}
		}
	}
	dst = slices.Grow(dst, 4*binary.MaxVarintLen64+1+len(hdrZ)+len(textZ)+len(digitsZ))
	dst = binary.AppendUvarint(dst, uint64(len(hdrZ)))
	dst = binary.AppendUvarint(dst, uint64(len(textZ)))
	dst = append(dst, byte(mode))
	dst = binary.AppendUvarint(dst, uint64(len(e.digits)))
	dst = binary.AppendUvarint(dst, uint64(len(digitsZ)))
	dst = append(dst, hdrZ...)
	dst = append(dst, textZ...)
	dst = append(dst, digitsZ...)
	m.length = uint32(len(dst) - start)
	m.crc = crc32.Checksum(dst[start:], crcTable)
	bloomStart := len(bloomDst)
	bloomDst = buildBloom(bloomDst, &e.tokens, true)
	m.bloomLen = uint32(len(bloomDst) - bloomStart)
	return dst, m, bloomDst
}

// splitLine appends line to text with each ASCII digit replaced by '0',
// appends the digits to digits, and adds the line's indexable tokens and
// grams to set, all in one pass. recent is the block's table of recent
// tokens, as for addLineTokens.
func splitLine(text, digits, line []byte, set *hashSet, recent *[recentTokens]uint64) ([]byte, []byte) {
	text = slices.Grow(text, len(line))
	digits = slices.Grow(digits, len(line))
	t := text[len(text) : len(text)+len(line)]
	copy(t, line)
	dg := digits[len(digits) : len(digits)+len(line)]
	nd := 0
	for i := 0; i < len(line); {
		if !tokenByte[line[i]] {
			i++
			continue
		}
		start := i
		h := uint64(fnvOffset)
		alpha := false
		for ; i < len(line) && tokenByte[line[i]]; i++ {
			c := line[i]
			if c-'0' <= 9 {
				dg[nd] = c
				nd++
				t[i] = '0'
			} else {
				alpha = true
			}
			h = (h ^ uint64(lowerByte[c])) * fnvPrime
		}
		if !alpha {
			continue
		}
		if r := &recent[h%recentTokens]; *r != h || h == 0 {
			*r = h
			addToken(set, line[start:i], h)
		}
	}
	return text[:len(text)+len(line)], digits[:len(digits)+nd]
}

// addLineTokens adds the indexable tokens and grams of line to set, as
// splitLine does, without copying the line.
func addLineTokens(line []byte, set *hashSet, recent *[recentTokens]uint64) {
	for i := 0; i < len(line); {
		if !tokenByte[line[i]] {
			i++
			continue
		}
		start := i
		h := uint64(fnvOffset)
		alpha := false
		for ; i < len(line) && tokenByte[line[i]]; i++ {
			c := line[i]
			alpha = alpha || c-'0' > 9
			h = (h ^ uint64(lowerByte[c])) * fnvPrime
		}
		if !alpha {
			continue
		}
		// Most tokens recur: a small table that fits the CPU cache spares
		// most of them a probe of the set. Its zero slots are empty.
		if r := &recent[h%recentTokens]; *r != h || h == 0 {
			*r = h
			addToken(set, line[start:i], h)
		}
	}
}

// recentTokens is the size of addLineTokens' table of recent tokens.
const recentTokens = 4096

// addToken adds tok, whose unmixed FNV hash is h, and its grams to set.
func addToken(set *hashSet, tok []byte, h uint64) {
	// A token seen before in the block has its grams in already.
	if !set.add(mixHash(h)) || len(tok) < 4 {
		return
	}
	eachInnerGram(tok, func(g uint32) { set.add(gramHash(g, innerSalt)) })
	if g, ok := packGram(tok[:4]); ok {
		set.add(gramHash(g, prefixSalt))
	}
	if g, ok := packGram(tok[len(tok)-4:]); ok {
		set.add(gramHash(g, suffixSalt))
	}
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// blockDecoder decodes blocks into reusable columns. It is not safe for
// concurrent use; take one from decoderPool.
type blockDecoder struct {
	count  int
	ts     []int64
	seq    []uint64
	mdIdx  []uint32
	mdDict []logmodel.Labels
	lineAt []uint32 // start offset of each line in text; lineAt[count] = len(text)
	text   []byte

	// Sections of the raw block, set by decodeHeader.
	textZ, digitsZ []byte
	digitsMode     byte
	nDigits        int

	hdrBuf, digitBuf []byte
	huff             huff0.Scratch

	// Lazy digit merging: digits holds the block's digits in order; merged
	// says every line has them back; otherwise digitAt[i] is the index of
	// line i's first digit and lineDone marks the lines merged so far.
	digits   []byte
	merged   bool
	digitAt  []uint32
	lineDone []bool
	raw      []byte // read buffer for block bytes
}

var decoderPool = sync.Pool{New: func() any { return new(blockDecoder) }}

// maxBlockEntries is the most entries a block holds: decoders reject more, and
// the flush and merge planners cut blocks there.
const maxBlockEntries = 1 << 20

// decodeHeader decodes everything but the lines.
func (d *blockDecoder) decodeHeader(data []byte) error {
	if len(data) < 1 || data[0] != blockFormatV1 {
		return corruptf("block: unknown format version")
	}
	p := data[1:]
	var vals [5]uint64
	for i := range vals {
		if i == 3 { // the digits mode byte sits between text length and digit count
			if len(p) < 1 {
				return corruptf("block: short section table")
			}
			d.digitsMode = p[0]
			p = p[1:]
		}
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return corruptf("block: bad section table")
		}
		vals[i], p = v, p[n:]
	}
	count, hdrLen, textLen, nDigits, digitsLen := vals[0], vals[1], vals[2], vals[3], vals[4]
	if count == 0 || count > maxBlockEntries || hdrLen+textLen+digitsLen != uint64(len(p)) || nDigits > 1<<30 {
		return corruptf("block: section sizes do not add up")
	}
	d.count, d.nDigits = int(count), int(nDigits)
	hdrZ := p[:hdrLen]
	d.textZ = p[hdrLen : hdrLen+textLen]
	d.digitsZ = p[hdrLen+textLen:]
	var err error
	d.hdrBuf, err = zstdDecoder.DecodeAll(hdrZ, d.hdrBuf[:0])
	if err != nil {
		return corruptf("block header: %v", err)
	}
	return d.parseHeader(d.hdrBuf)
}

func (d *blockDecoder) parseHeader(h []byte) error {
	n := d.count
	d.ts = grow(d.ts, n)
	d.seq = grow(d.seq, n)
	d.lineAt = grow(d.lineAt, n+1)
	r := reader{b: h}
	d.ts[0] = r.varint()
	for i := 1; i < n; i++ {
		d.ts[i] = d.ts[i-1] + int64(r.uvarint())
	}
	s := r.varint()
	d.seq[0] = uint64(s)
	for i := 1; i < n; i++ {
		s += r.varint()
		d.seq[i] = uint64(s)
	}
	nd := r.uvarint()
	if nd > uint64(n) || r.err != nil {
		return corruptf("block header: bad metadata dictionary")
	}
	d.mdDict = d.mdDict[:0]
	for i := uint64(0); i < nd; i++ {
		nl := r.uvarint()
		if nl > 1024 || r.err != nil {
			return corruptf("block header: bad metadata set")
		}
		var ls logmodel.Labels
		for j := uint64(0); j < nl; j++ {
			ls = append(ls, logmodel.Label{Name: r.str(), Value: r.str()})
		}
		d.mdDict = append(d.mdDict, ls)
	}
	d.mdIdx = grow(d.mdIdx, n)
	if nd > 1 {
		for i := 0; i < n; i++ {
			v := r.uvarint()
			if v >= nd {
				return corruptf("block header: metadata index out of range")
			}
			d.mdIdx[i] = uint32(v)
		}
	} else {
		clear(d.mdIdx)
	}
	off := uint64(0)
	for i := 0; i < n; i++ {
		d.lineAt[i] = uint32(off)
		off += r.uvarint()
		if off > 1<<31 {
			return corruptf("block header: lines too long")
		}
	}
	d.lineAt[n] = uint32(off)
	if r.err != nil || len(r.b) != 0 {
		return corruptf("block header: %d trailing or missing bytes", len(r.b))
	}
	return nil
}

// metadata returns entry i's structured metadata; the result is shared.
func (d *blockDecoder) metadata(i int) logmodel.Labels {
	if len(d.mdDict) == 0 {
		return nil
	}
	return d.mdDict[d.mdIdx[i]]
}

// lineLen returns the length of line i without decoding the text.
func (d *blockDecoder) lineLen(i int) int { return int(d.lineAt[i+1] - d.lineAt[i]) }

// decodeText decodes the lines; call it after decodeHeader.
func (d *blockDecoder) decodeText() error {
	if err := d.decodeMasked(); err != nil {
		return err
	}
	d.mergeAll()
	return nil
}

// decodeMasked decodes the text with its digits still masked as '0' and the
// digits beside it. Searches for literals without digits can run on the
// masked text; line merges the digits back into the lines they read.
func (d *blockDecoder) decodeMasked() error {
	var err error
	d.text, err = zstdDecoder.DecodeAll(d.textZ, d.text[:0])
	if err != nil {
		return corruptf("block text: %v", err)
	}
	if len(d.text) != int(d.lineAt[d.count]) {
		return corruptf("block text: %d bytes, header says %d", len(d.text), d.lineAt[d.count])
	}
	d.digits = nil
	switch d.digitsMode {
	case digitsNone:
	case digitsRaw:
		d.digits = d.digitsZ
	case digitsPacked:
		var err error
		d.digitBuf, err = unpackDigits(d.digitBuf[:0], d.digitsZ, d.nDigits)
		if err != nil {
			return err
		}
		d.digits = d.digitBuf
	case digitsHuff0:
		s, rest, err := huff0.ReadTable(d.digitsZ, &d.huff)
		if err != nil {
			return corruptf("block digits: %v", err)
		}
		s.MaxDecodedSize = huff0.BlockSizeMax
		// Decompress4X allocates a new buffer whenever the one it is given
		// is short, and returns it with its capacity cut to the size: keep
		// one of the largest size instead.
		if cap(d.digitBuf) < huff0.BlockSizeMax {
			d.digitBuf = make([]byte, huff0.BlockSizeMax)
		}
		s.Out = d.digitBuf[:0]
		d.digits, err = s.Decompress4X(rest, d.nDigits)
		if err != nil {
			return corruptf("block digits: %v", err)
		}
	default:
		return corruptf("block digits: unknown mode %d", d.digitsMode)
	}
	if len(d.digits) != d.nDigits || bytes.Count(d.text, []byte{'0'}) != d.nDigits {
		return corruptf("block digits: %d digits for %d places", len(d.digits), d.nDigits)
	}
	for _, c := range d.digits {
		if c < '0' || c > '9' {
			return corruptf("block digits: byte %#x is not a digit", c)
		}
	}
	d.merged = d.nDigits == 0
	d.digitAt = d.digitAt[:0]
	return nil
}

// mergeAll puts every digit back in place.
func (d *blockDecoder) mergeAll() {
	if d.merged {
		return
	}
	if len(d.digitAt) > 0 {
		// Some lines are merged already: finish line by line.
		for i := 0; i < d.count; i++ {
			d.mergeLine(i)
		}
		d.merged = true
		return
	}
	text, digits := d.text, d.digits
	j := 0
	for i, c := range text {
		if c == '0' {
			text[i] = digits[j]
			j++
		}
	}
	d.merged = true
}

// mergeLine puts the digits of line i back in place, once.
func (d *blockDecoder) mergeLine(i int) {
	if len(d.digitAt) == 0 {
		d.digitAt = grow(d.digitAt, d.count)
		d.lineDone = grow(d.lineDone, d.count)
		clear(d.lineDone)
		n := uint32(0)
		for k := 0; k < d.count; k++ {
			d.digitAt[k] = n
			n += uint32(bytes.Count(d.text[d.lineAt[k]:d.lineAt[k+1]], []byte{'0'}))
		}
	}
	if d.lineDone[i] {
		return
	}
	d.lineDone[i] = true
	j := d.digitAt[i]
	line := d.text[d.lineAt[i]:d.lineAt[i+1]]
	for k, c := range line {
		if c == '0' {
			line[k] = d.digits[j]
			j++
		}
	}
}

// line returns line i, its digits merged; valid until the decoder is reused.
func (d *blockDecoder) line(i int) []byte {
	if !d.merged {
		d.mergeLine(i)
	}
	return d.text[d.lineAt[i]:d.lineAt[i+1]]
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// reader decodes varints and strings, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = corruptf("truncated or malformed varint data")
	}
	r.b = nil
}
