package logmodel

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Entry is one log line as stored and served.
type Entry struct {
	// Labels is the stream's label set.
	Labels Labels
	// Timestamp is the entry's time in Unix nanoseconds.
	Timestamp int64
	// Line is the raw bytes, possibly not valid UTF-8.
	Line []byte
	// Metadata is structured metadata, sorted by name.
	Metadata Labels
	// Cursor is the entry's ingest position in its tenant; zero before append.
	Cursor Cursor
}

// Well-known structured metadata keys.
const (
	MetaLevel       = "level"
	MetaStream      = "stream"
	MetaRestart     = "restart"
	MetaPodUID      = "pod_uid"
	MetaContainerID = "container_id"
	MetaTruncated   = "truncated"
	MetaOrdinal     = "ordinal"
)

// Cursor is an entry's position in its tenant's ingest order. The zero Cursor
// is "before everything".
type Cursor struct {
	Seq uint64
}

const cursorVersion1 = 'c'

// ErrBadCursor is returned for a cursor or page token that does not decode.
var ErrBadCursor = errors.New("malformed cursor")

// String encodes the cursor as an opaque, versioned, URL-safe string.
func (c Cursor) String() string {
	var b [1 + binary.MaxVarintLen64]byte
	b[0] = cursorVersion1
	n := binary.PutUvarint(b[1:], c.Seq)
	return base64.RawURLEncoding.EncodeToString(b[:1+n])
}

// IsZero reports whether c is the zero cursor.
func (c Cursor) IsZero() bool { return c.Seq == 0 }

// ParseCursor decodes a cursor produced by Cursor.String; any other
// spelling of the same position (an overlong varint, base64 padding bits) is
// refused, so that one position has one cursor.
func ParseCursor(s string) (Cursor, error) {
	raw, err := strictBase64.DecodeString(s)
	if err != nil || len(raw) < 2 || raw[0] != cursorVersion1 || len(s) != strictBase64.EncodedLen(len(raw)) {
		return Cursor{}, ErrBadCursor
	}
	seq, n := binary.Uvarint(raw[1:])
	if n <= 0 || n != len(raw)-1 || n != uvarintLen(seq) {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{Seq: seq}, nil
}

// strictBase64 refuses non-zero padding bits; with a length check against
// the decoded bytes (the decoder skips newlines), bytes have one spelling.
var strictBase64 = base64.RawURLEncoding.Strict()

// uvarintLen is the length of the shortest varint of v.
func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// varintLen is the length of the shortest signed varint of v.
func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}

// Direction is the order of a query's results.
type Direction uint8

const (
	// Forward returns the oldest entries first.
	Forward Direction = iota
	// Backward returns the newest entries first.
	Backward
)

// ParseDirection accepts "forward" and "backward" (any case handled by the caller).
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "forward", "FORWARD":
		return Forward, nil
	case "backward", "BACKWARD":
		return Backward, nil
	}
	return Forward, fmt.Errorf("direction must be forward or backward, not %q", s)
}

func (d Direction) String() string {
	if d == Backward {
		return "backward"
	}
	return "forward"
}

// PageToken continues a query in its own order after the last entry returned:
// the (timestamp, cursor) pair of that entry and the direction.
type PageToken struct {
	Direction Direction
	Timestamp int64
	Seq       uint64
}

const pageTokenVersion1 = 'p'

// String encodes the token as an opaque, versioned, URL-safe string.
func (p PageToken) String() string {
	var b [2 + 2*binary.MaxVarintLen64]byte
	b[0] = pageTokenVersion1
	b[1] = byte(p.Direction)
	n := 2
	n += binary.PutVarint(b[n:], p.Timestamp)
	n += binary.PutUvarint(b[n:], p.Seq)
	return base64.RawURLEncoding.EncodeToString(b[:n])
}

// ParsePageToken decodes a token produced by PageToken.String, and only
// its canonical spelling.
func ParsePageToken(s string) (PageToken, error) {
	raw, err := strictBase64.DecodeString(s)
	if err != nil || len(raw) < 4 || raw[0] != pageTokenVersion1 || raw[1] > byte(Backward) || len(s) != strictBase64.EncodedLen(len(raw)) {
		return PageToken{}, ErrBadCursor
	}
	p := PageToken{Direction: Direction(raw[1])}
	ts, n := binary.Varint(raw[2:])
	if n <= 0 || n != varintLen(ts) {
		return PageToken{}, ErrBadCursor
	}
	seq, m := binary.Uvarint(raw[2+n:])
	if m <= 0 || 2+n+m != len(raw) || m != uvarintLen(seq) {
		return PageToken{}, ErrBadCursor
	}
	p.Timestamp, p.Seq = ts, seq
	return p, nil
}

// Before reports whether (ts, seq) sorts before (ts2, seq2) in forward order.
func Before(ts int64, seq uint64, ts2 int64, seq2 uint64) bool {
	return ts < ts2 || (ts == ts2 && seq < seq2)
}
