package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Stream is one stream of a push request: its labels and its entries in the
// order sent. Each entry's Labels is the stream's Labels (shared, not copied);
// Timestamp, Line and Metadata come from the request; Cursor is zero.
type Stream struct {
	Labels  logmodel.Labels
	Entries []logmodel.Entry
}

// Errors returned by the push decoders; test for them with errors.Is.
var (
	// ErrInvalidPayload is wrapped by every error about the content of a
	// request body: malformed JSON or protobuf, bad timestamps, bad labels.
	ErrInvalidPayload = errors.New("invalid push payload")
	// ErrTooLarge means the body, compressed or decompressed, is over the
	// limit given to DecodePush.
	ErrTooLarge = errors.New("push payload too large")
	// ErrUnsupportedContentType means the Content-Type is neither JSON nor
	// protobuf.
	ErrUnsupportedContentType = errors.New("unsupported content type")
	// ErrUnsupportedEncoding means the Content-Encoding is not one the
	// content type allows.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
)

// msgEmptyLabels explains why a stream without labels is refused.
const msgEmptyLabels = "empty stream labels: a stream needs at least one label with a non-empty value"

// Content types accepted by DecodePush.
const (
	ContentTypeJSON     = "application/json"
	ContentTypeProtobuf = "application/x-protobuf"
)

// DecodePush decodes the body of a Loki push request (POST
// /loki/api/v1/push) given its Content-Type and Content-Encoding headers:
//
//   - application/json, with Content-Encoding empty, identity or gzip;
//   - application/x-protobuf (also assumed when Content-Type is empty, as
//     Loki does): a snappy block-compressed PushRequest, with
//     Content-Encoding empty, identity, snappy, or gzip around the snappy
//     block.
//
// maxBytes limits both the body as read and every decompressed form of it;
// going over returns an error wrapping ErrTooLarge. maxBytes <= 0 means no
// limit, which only trusted callers should use.
//
// The lines of the returned entries alias a buffer owned by the result; the
// caller may keep them. DecodePush does not close body.
func DecodePush(contentType, contentEncoding string, body io.Reader, maxBytes int64) ([]Stream, error) {
	streams, _, err := DecodePushPooled(contentType, contentEncoding, body, maxBytes)
	return streams, err
}

// DecodePushPooled is DecodePush decompressing a protobuf body into a
// pooled buffer, which the lines of the result alias. The caller must call
// release once done with the result, and must not keep a line, nor anything
// sliced from one, past that call. release is never nil.
func DecodePushPooled(contentType, contentEncoding string, body io.Reader, maxBytes int64) (streams []Stream, release func(), err error) {
	release = func() {}
	if maxBytes <= 0 {
		maxBytes = math.MaxInt64 - 1 // room for the +1 that detects overflow
	}
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	switch mediaType(contentType) {
	case ContentTypeJSON:
		// The body is read into a pooled buffer, which the lines alias: a
		// new one per push grew by doubling and was zeroed each time, which
		// for pushes of 1 MiB cost more than decoding them.
		buf := bufPool.Get().(*bytes.Buffer)
		var raw []byte
		switch enc {
		case "", "identity":
			raw, err = readLimited(body, maxBytes, buf)
		case "gzip":
			raw, err = gunzip(body, maxBytes, buf)
		default:
			putBuf(buf)
			return nil, release, fmt.Errorf("%w %q for %s: want gzip or none", ErrUnsupportedEncoding, contentEncoding, ContentTypeJSON)
		}
		if err == nil {
			streams, err = DecodeJSON(raw)
		}
		if err != nil {
			putBuf(buf)
			return nil, release, err
		}
		return streams, func() { putBuf(buf) }, nil
	case ContentTypeProtobuf, "":
		buf := bufPool.Get().(*bytes.Buffer)
		defer putBuf(buf)
		var block []byte
		switch enc {
		case "", "identity", "snappy":
			block, err = readLimited(body, maxBytes, buf)
		case "gzip":
			block, err = gunzip(body, maxBytes, buf)
		default:
			return nil, release, fmt.Errorf("%w %q for %s: want snappy, gzip or none", ErrUnsupportedEncoding, contentEncoding, ContentTypeProtobuf)
		}
		if err != nil {
			return nil, release, err
		}
		rawp, _ := rawPool.Get().(*[]byte)
		if rawp == nil {
			rawp = new([]byte)
		}
		raw, err := unsnappy(block, maxBytes, *rawp)
		if err == nil {
			streams, err = DecodeProto(raw)
		}
		*rawp = raw
		release = func() { putRaw(rawp) }
		if err != nil {
			release()
			return nil, func() {}, err
		}
		return streams, release, nil
	default:
		return nil, release, fmt.Errorf("%w %q: want %s or %s", ErrUnsupportedContentType, contentType, ContentTypeJSON, ContentTypeProtobuf)
	}
}

// mediaType returns the lowercased media type of a Content-Type header,
// without parameters.
func mediaType(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}

// bufPool holds buffers for protobuf bodies, which are dropped once
// decompressed, and for JSON bodies, which the lines of a decoded push alias
// until it is released.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf keeps a rare huge body from pinning its buffer in the pool.
const maxPooledBuf = 4 << 20

// rawPool holds buffers for decompressed protobuf bodies, which the lines
// of a decoded push alias until it is released.
var rawPool sync.Pool // of *[]byte

func putRaw(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		rawPool.Put(b)
	}
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		b.Reset()
		bufPool.Put(b)
	}
}

// readLimited reads r to the end into buf, failing with ErrTooLarge past
// maxBytes.
func readLimited(r io.Reader, maxBytes int64, buf *bytes.Buffer) ([]byte, error) {
	n, err := buf.ReadFrom(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read push body: %w", err)
	}
	if n > maxBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, maxBytes)
	}
	return buf.Bytes(), nil
}

var gzipPool sync.Pool // of *gzip.Reader

// gunzip decompresses r into buf, failing with
// ErrTooLarge when the decompressed size passes maxBytes. The compressed
// input is streamed, so it is bounded by the same check.
func gunzip(r io.Reader, maxBytes int64, buf *bytes.Buffer) ([]byte, error) {
	src := &sourceReader{r: r}
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(src)
	} else {
		err = zr.Reset(src)
	}
	if err == nil {
		var n int64
		n, err = buf.ReadFrom(io.LimitReader(zr, maxBytes+1))
		if err == nil && n > maxBytes {
			return nil, fmt.Errorf("%w: decompressed body over %d bytes", ErrTooLarge, maxBytes)
		}
	}
	if zr != nil {
		gzipPool.Put(zr)
	}
	switch {
	case src.err != nil:
		return nil, fmt.Errorf("read push body: %w", src.err)
	case err != nil:
		return nil, fmt.Errorf("%w: gzip: %w", ErrInvalidPayload, err)
	}
	return buf.Bytes(), nil
}

// sourceReader remembers a read error of the request body, to tell a broken
// connection from a corrupt gzip stream.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// maxSnappyRatio bounds how much a snappy block can expand: its densest
// element is a 3-byte copy of 64 bytes.
const maxSnappyRatio = 22

// unsnappy decodes a snappy block after checking its declared size against
// maxBytes and against what its size allows, so that a tiny body cannot make
// us allocate maxBytes. The result is dst's memory when dst is large enough,
// else a new buffer.
func unsnappy(block []byte, maxBytes int64, dst []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", ErrInvalidPayload, err)
	}
	if int64(n) > maxSnappyRatio*int64(len(block)) {
		return nil, fmt.Errorf("%w: snappy: block of %d bytes cannot decode to the %d it declares", ErrInvalidPayload, len(block), n)
	}
	if int64(n) > maxBytes {
		return nil, fmt.Errorf("%w: decompressed body of %d bytes over %d", ErrTooLarge, n, maxBytes)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	raw, err := snappy.Decode(dst[:n], block)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %w", ErrInvalidPayload, err)
	}
	return raw, nil
}

// interner shares the strings of names that repeat across a request, such as
// a structured metadata name set on every entry, so each is allocated once.
type interner map[string]string

func (in *interner) intern(b []byte) string {
	if s, ok := (*in)[string(b)]; ok {
		return s
	}
	if *in == nil {
		*in = make(interner)
	}
	s := string(b)
	(*in)[s] = s
	return s
}

// labelSlab hands out label sets cut from shared blocks, so that the
// structured metadata of many entries costs a few allocations instead of one
// each.
type labelSlab struct {
	block logmodel.Labels
}

// labelSlabSize is the number of labels allocated at once.
const labelSlabSize = 256

// keep returns a copy of ls, which the caller may then reuse. The copy has no
// spare capacity, so appending to it cannot touch its neighbours.
func (s *labelSlab) keep(ls logmodel.Labels) logmodel.Labels {
	if len(ls) == 0 {
		return nil
	}
	if cap(s.block)-len(s.block) < len(ls) {
		s.block = make(logmodel.Labels, 0, max(labelSlabSize, len(ls)))
	}
	start := len(s.block)
	s.block = append(s.block, ls...)
	return s.block[start:len(s.block):len(s.block)]
}
