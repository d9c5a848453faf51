package archive

import (
	"bufio"
	"crypto/md5" // #nosec G501 -- MD5 is the S3 ETag and Content-MD5 checksum, not a security primitive
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// The compressions an archive object may use.
const (
	CompressionZstd = "zstd"
	CompressionGzip = "gzip"
)

// Encoder writes entries as NDJSON, one entry JSON (DESIGN.md) per line,
// compressed as it goes. Get one with NewEncoder for each object; Close
// ends the compressed stream, and then Bytes holds the object until Release
// returns the Encoder, with its buffers and compressor, to a pool. An
// Encoder is not safe for concurrent use.
type Encoder struct {
	compression string
	// chunk holds NDJSON not yet given to the compressor: about one
	// compressor block, so that the lines are compressed while they are
	// still in the CPU cache and the object's NDJSON is never held whole.
	chunk []byte
	// out is the compressed object.
	out   sink
	zw    *zstd.Encoder
	gw    *gzip.Writer
	Lines int64
	// Raw counts the uncompressed NDJSON bytes.
	Raw     int64
	FirstTs int64
	LastTs  int64
	bloom   store.TokenBloom
	cache   entryCache
	// pool takes the Encoder back on Release; nil for none.
	pool *EncoderPool
}

// sink collects the compressor's output.
type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// chunkBytes is how much NDJSON the Encoder gathers before compressing
// it: zstd's block size at its fastest level.
const chunkBytes = 64 << 10

// entryCache keeps what consecutive entries of an object share: the JSON
// of the last label set seen (an object's entries all share one stream's
// labels), and the date and time of day of the last second formatted.
type entryCache struct {
	ls           logmodel.Labels
	top, objJSON []byte
	// secText is second sec formatted, when secSet.
	sec     int64
	secSet  bool
	secText []byte
}

// reset forgets the cached values, keeping the buffers.
func (c *entryCache) reset() {
	*c = entryCache{top: c.top[:0], objJSON: c.objJSON[:0], secText: c.secText[:0]}
}

// get returns the top-level cluster/namespace/pod/container fields and the
// labels object of ls.
func (c *entryCache) get(ls logmodel.Labels) (top, obj []byte) {
	if len(ls) == 0 || len(c.ls) != len(ls) || &c.ls[0] != &ls[0] {
		c.ls = ls
		c.top = appendTopLabels(c.top[:0], ls)
		c.objJSON = ls.AppendJSON(c.objJSON[:0])
	}
	return c.top, c.objJSON
}

// EncoderPool keeps released Encoders, with their buffers and compressors,
// for the next objects. Unlike a sync.Pool, garbage collections do not
// empty it: they come often while a job holds an hour of entries under a
// memory limit, and a new zstd compressor costs megabytes. Safe for
// concurrent use.
type EncoderPool struct {
	free chan *Encoder
}

// NewEncoderPool keeps up to n Encoders.
func NewEncoderPool(n int) *EncoderPool { return &EncoderPool{free: make(chan *Encoder, n)} }

// maxPooledBuffer bounds the buffers a released Encoder keeps.
const maxPooledBuffer = 64 << 20

// NewEncoder starts an object with the given compression, with an Encoder
// that no pool keeps.
func NewEncoder(compression string) (*Encoder, error) {
	var p *EncoderPool
	return p.Get(compression)
}

// Get starts an object with the given compression, with an Encoder from
// the pool when it has one. A nil pool has none.
func (p *EncoderPool) Get(compression string) (*Encoder, error) {
	if compression != CompressionZstd && compression != CompressionGzip {
		return nil, fmt.Errorf("compression %q is not zstd or gzip", compression)
	}
	var e *Encoder
	if p != nil {
		select {
		case e = <-p.free:
		default:
		}
	}
	if e == nil {
		e = &Encoder{chunk: make([]byte, 0, 2*chunkBytes), pool: p}
	}
	e.compression = compression
	switch compression {
	case CompressionZstd:
		if e.zw == nil {
			zw, err := zstd.NewWriter(&e.out, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
			if err != nil {
				return nil, fmt.Errorf("zstd: %w", err)
			}
			e.zw = zw
		} else {
			e.zw.Reset(&e.out)
		}
	default:
		if e.gw == nil {
			gw, err := gzip.NewWriterLevel(&e.out, gzip.DefaultCompression)
			if err != nil {
				return nil, fmt.Errorf("gzip: %w", err)
			}
			e.gw = gw
		} else {
			e.gw.Reset(&e.out)
		}
	}
	return e, nil
}

// Write adds one entry. The entries of one object share a label set, which
// must not change while the Encoder is in use.
func (e *Encoder) Write(ent *logmodel.Entry) error {
	n := len(e.chunk)
	e.chunk = appendEntryJSON(e.chunk, ent, &e.cache)
	e.chunk = append(e.chunk, '\n')
	if e.Lines == 0 {
		e.FirstTs = ent.Timestamp
	}
	e.LastTs = ent.Timestamp
	e.Lines++
	e.Raw += int64(len(e.chunk) - n)
	e.bloom.Add(ent.Line)
	if len(e.chunk) >= chunkBytes {
		return e.flush()
	}
	return nil
}

// flush compresses the gathered NDJSON.
func (e *Encoder) flush() error {
	var err error
	if e.compression == CompressionZstd {
		_, err = e.zw.Write(e.chunk)
	} else {
		_, err = e.gw.Write(e.chunk)
	}
	e.chunk = e.chunk[:0]
	return err
}

// Close ends the object: one zstd frame, or one gzip stream.
func (e *Encoder) Close() error {
	if err := e.flush(); err != nil {
		return err
	}
	if e.compression == CompressionZstd {
		return e.zw.Close()
	}
	return e.gw.Close()
}

// Release returns the Encoder to its pool; Bytes is invalid after it.
func (e *Encoder) Release() {
	if e.pool == nil || cap(e.chunk) > maxPooledBuffer || cap(e.out.b) > maxPooledBuffer {
		return
	}
	e.chunk, e.out.b = e.chunk[:0], e.out.b[:0]
	e.Lines, e.Raw, e.FirstTs, e.LastTs = 0, 0, 0, 0
	e.bloom.Reset()
	e.cache.reset()
	select {
	case e.pool.free <- e:
	default:
	}
}

// Detach returns the compressed object, valid after Close, which the
// Encoder then no longer holds, and gives the Encoder buf (which may be nil)
// to write its next object into.
func (e *Encoder) Detach(buf []byte) []byte {
	b := e.out.b
	e.out.b = buf[:0]
	return b
}

// Bytes is the compressed object, valid after Close until Release.
func (e *Encoder) Bytes() []byte { return e.out.b }

// Bloom is the token bloom filter of the lines written.
func (e *Encoder) Bloom() []byte { return e.bloom.Bytes() }

// MD5 is the hex MD5 of the object, which S3 reports as the ETag of a
// single-part upload.
func (e *Encoder) MD5() string { return md5Hex(e.out.b) }

func md5Hex(b []byte) string {
	s := md5.Sum(b) // #nosec G401 -- MD5 is the S3 ETag and Content-MD5 checksum, not a security primitive
	return hex.EncodeToString(s[:])
}

// AppendEntryJSON appends the entry JSON of DESIGN.md for ent, the same bytes
// encoding/json writes for logmodel.EntryJSON without HTML escaping.
func AppendEntryJSON(b []byte, ent *logmodel.Entry) []byte {
	var c entryCache
	return appendEntryJSON(b, ent, &c)
}

func appendTopLabels(b []byte, ls logmodel.Labels) []byte {
	for _, n := range [...]string{"cluster", "namespace", "pod", "container"} {
		b = append(b, `,"`...)
		b = append(b, n...)
		b = append(b, `":`...)
		b = logmodel.AppendJSONString(b, ls.Get(n))
	}
	return b
}

func appendEntryJSON(b []byte, ent *logmodel.Entry, c *entryCache) []byte {
	top, labels := c.get(ent.Labels)
	b = append(b, `{"timestamp":"`...)
	b = c.appendTimestamp(b, ent.Timestamp)
	b = append(b, `","cursor":"`...)
	b = appendCursor(b, ent.Cursor)
	b = append(b, '"')
	b = append(b, top...)
	level := ent.Metadata.Get(logmodel.MetaLevel)
	if level == "" {
		level = "unknown"
	}
	b = append(b, `,"level":`...)
	b = logmodel.AppendJSONString(b, level)
	b = append(b, `,"message":`...)
	if utf8.Valid(ent.Line) {
		b = logmodel.AppendJSONString(b, ent.Line)
	} else {
		b = logmodel.AppendJSONString(b, strings.ToValidUTF8(string(ent.Line), "\uFFFD"))
		b = append(b, `,"message_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, ent.Line)
		b = append(b, '"')
	}
	b = append(b, `,"labels":`...)
	b = append(b, labels...)
	b = append(b, `,"metadata":`...)
	b = ent.Metadata.AppendJSON(b)
	return append(b, '}')
}

// appendTimestamp appends the time ns in RFC 3339 with nanoseconds, UTC, as
// time.RFC3339Nano formats it; only the fraction changes within a second.
func (c *entryCache) appendTimestamp(b []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	if !c.secSet || c.sec != sec {
		// A whole second has no fraction: its RFC3339Nano text is the date
		// and time of day, then "Z".
		t := time.Unix(sec, 0).UTC().AppendFormat(c.secText[:0], time.RFC3339Nano)
		c.sec, c.secSet, c.secText = sec, true, t[:len(t)-1]
	}
	b = append(b, c.secText...)
	if frac != 0 {
		var d [10]byte
		d[0] = '.'
		for i := 9; i > 0; i-- {
			d[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := len(d)
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, 'Z')
}

// appendCursor appends c.String() without allocating.
func appendCursor(b []byte, c logmodel.Cursor) []byte {
	var raw [1 + binary.MaxVarintLen64]byte
	raw[0] = 'c'
	n := binary.PutUvarint(raw[1:], c.Seq)
	return base64.RawURLEncoding.AppendEncode(b, raw[:1+n])
}

// Decoder reads the entries of an archive object.
type Decoder struct {
	sc *bufio.Scanner
	zr *zstd.Decoder
	gr *gzip.Reader
}

// MaxLineBytes bounds one NDJSON line of an object.
const MaxLineBytes = 16 << 20

// NewDecoder reads a compressed object from r. Close must be called.
func NewDecoder(r io.Reader, compression string) (*Decoder, error) {
	d := &Decoder{}
	var src io.Reader
	switch compression {
	case CompressionZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, err
		}
		d.zr, src = zr, zr
	case CompressionGzip:
		gr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		d.gr, src = gr, gr
	default:
		return nil, fmt.Errorf("compression %q is not zstd or gzip", compression)
	}
	d.sc = bufio.NewScanner(src)
	d.sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	return d, nil
}

// NextRaw returns the next NDJSON line, valid until the next call, or
// io.EOF.
func (d *Decoder) NextRaw() ([]byte, error) {
	if d.sc.Scan() {
		return d.sc.Bytes(), nil
	}
	if err := d.sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}

// Next decodes the next entry, or returns io.EOF.
func (d *Decoder) Next() (logmodel.Entry, error) {
	line, err := d.NextRaw()
	if err != nil {
		return logmodel.Entry{}, err
	}
	return ParseEntryJSON(line)
}

// Close releases the decompressor.
func (d *Decoder) Close() {
	if d.zr != nil {
		d.zr.Close()
	}
	if d.gr != nil {
		_ = d.gr.Close()
	}
}

// ParseEntryJSON decodes one line of an object back into an entry, with its
// original cursor.
func ParseEntryJSON(line []byte) (logmodel.Entry, error) {
	var j logmodel.EntryJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return logmodel.Entry{}, fmt.Errorf("archive line: %w", err)
	}
	ts, err := parseTimestamp(j.Timestamp)
	if err != nil {
		return logmodel.Entry{}, err
	}
	cur, err := logmodel.ParseCursor(j.Cursor)
	if err != nil {
		return logmodel.Entry{}, fmt.Errorf("archive line: cursor: %w", err)
	}
	e := logmodel.Entry{Timestamp: ts, Cursor: cur, Labels: logmodel.NewLabels(j.Labels), Metadata: logmodel.NewLabels(j.Metadata)}
	if j.MessageBase64 != "" {
		if e.Line, err = base64.StdEncoding.DecodeString(j.MessageBase64); err != nil {
			return logmodel.Entry{}, fmt.Errorf("archive line: message_base64: %w", err)
		}
	} else {
		e.Line = []byte(j.Message)
	}
	if len(e.Metadata) == 0 {
		e.Metadata = nil
	}
	return e, nil
}

func parseTimestamp(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("archive line: timestamp %q: %w", s, err)
	}
	return t.UnixNano(), nil
}
