package archive

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
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
// compressed. Get one with NewEncoder for each object; Close compresses,
// and then Bytes holds the object until Release returns the Encoder, with
// its buffers and compressor, to a pool. An Encoder is not safe for
// concurrent use.
type Encoder struct {
	compression string
	// raw holds the NDJSON until Close; out the compressed object.
	raw, out []byte
	zw       *zstd.Encoder
	gw       *gzip.Writer
	Lines    int64
	// Raw counts the uncompressed NDJSON bytes.
	Raw     int64
	FirstTs int64
	LastTs  int64
	bloom   store.TokenBloom
	labels  labelCache
}

// labelCache keeps the JSON of the last label set seen: an object's entries
// all share one stream's labels.
type labelCache struct {
	ls           logmodel.Labels
	top, objJSON []byte
}

// get returns the top-level cluster/namespace/pod/container fields and the
// labels object of ls.
func (c *labelCache) get(ls logmodel.Labels) (top, obj []byte) {
	if len(ls) == 0 || len(c.ls) != len(ls) || &c.ls[0] != &ls[0] {
		c.ls = ls
		c.top = appendTopLabels(c.top[:0], ls)
		c.objJSON = appendJSONLabels(c.objJSON[:0], ls)
	}
	return c.top, c.objJSON
}

// encoderPool holds released Encoders with their buffers and compressors.
var encoderPool sync.Pool // of *Encoder

// maxPooledBuffer bounds the buffers a released Encoder keeps.
const maxPooledBuffer = 64 << 20

// NewEncoder starts an object with the given compression.
func NewEncoder(compression string) (*Encoder, error) {
	if compression != CompressionZstd && compression != CompressionGzip {
		return nil, fmt.Errorf("compression %q is not zstd or gzip", compression)
	}
	e, _ := encoderPool.Get().(*Encoder)
	if e == nil {
		e = &Encoder{}
	}
	e.compression = compression
	return e, nil
}

// Write adds one entry. The entries of one object share a label set, which
// must not change while the Encoder is in use.
func (e *Encoder) Write(ent *logmodel.Entry) error {
	n := len(e.raw)
	e.raw = appendEntryJSON(e.raw, ent, &e.labels)
	e.raw = append(e.raw, '\n')
	if e.Lines == 0 {
		e.FirstTs = ent.Timestamp
	}
	e.LastTs = ent.Timestamp
	e.Lines++
	e.Raw += int64(len(e.raw) - n)
	e.bloom.Add(ent.Line)
	return nil
}

// Grow makes room for n more bytes of NDJSON.
func (e *Encoder) Grow(n int) { e.raw = slices.Grow(e.raw, n) }

// Close compresses the object in one pass: a zstd frame, or a gzip stream.
func (e *Encoder) Close() error {
	switch e.compression {
	case CompressionZstd:
		if e.zw == nil {
			zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
			if err != nil {
				return fmt.Errorf("zstd: %w", err)
			}
			e.zw = zw
		}
		e.out = e.zw.EncodeAll(e.raw, e.out[:0])
		return nil
	default:
		buf := bytes.NewBuffer(e.out[:0])
		if e.gw == nil {
			gw, err := gzip.NewWriterLevel(buf, gzip.DefaultCompression)
			if err != nil {
				return fmt.Errorf("gzip: %w", err)
			}
			e.gw = gw
		} else {
			e.gw.Reset(buf)
		}
		if _, err := e.gw.Write(e.raw); err != nil {
			return err
		}
		err := e.gw.Close()
		e.out = buf.Bytes()
		return err
	}
}

// Release returns the Encoder to the pool; Bytes is invalid after it.
func (e *Encoder) Release() {
	if cap(e.raw) > maxPooledBuffer || cap(e.out) > maxPooledBuffer {
		return
	}
	e.raw, e.out = e.raw[:0], e.out[:0]
	e.Lines, e.Raw, e.FirstTs, e.LastTs = 0, 0, 0, 0
	e.bloom.Reset()
	e.labels = labelCache{top: e.labels.top[:0], objJSON: e.labels.objJSON[:0]}
	encoderPool.Put(e)
}

// Bytes is the compressed object, valid after Close until Release.
func (e *Encoder) Bytes() []byte { return e.out }

// Bloom is the token bloom filter of the lines written.
func (e *Encoder) Bloom() []byte { return e.bloom.Bytes() }

// MD5 is the hex MD5 of the object, which S3 reports as the ETag of a
// single-part upload.
func (e *Encoder) MD5() string {
	s := md5.Sum(e.out)
	return hex.EncodeToString(s[:])
}

// AppendEntryJSON appends the entry JSON of DESIGN.md for ent, the same bytes
// encoding/json writes for logmodel.EntryJSON without HTML escaping.
func AppendEntryJSON(b []byte, ent *logmodel.Entry) []byte {
	var c labelCache
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

func appendEntryJSON(b []byte, ent *logmodel.Entry, c *labelCache) []byte {
	top, labels := c.get(ent.Labels)
	b = append(b, `{"timestamp":"`...)
	b = time.Unix(0, ent.Timestamp).UTC().AppendFormat(b, time.RFC3339Nano)
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
	b = appendJSONLabels(b, ent.Metadata)
	return append(b, '}')
}

// appendJSONLabels writes labels sorted by name as a JSON object; labels
// are kept sorted, as encoding/json sorts map keys.
func appendJSONLabels(b []byte, ls logmodel.Labels) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = logmodel.AppendJSONString(b, l.Name)
		b = append(b, ':')
		b = logmodel.AppendJSONString(b, l.Value)
	}
	return append(b, '}')
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
	sc  *bufio.Scanner
	zr  *zstd.Decoder
	gr  *gzip.Reader
	err error
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
