package logmodel

import (
	"encoding/base64"
	"errors"
	"math"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, seq := range []uint64{0, 1, 127, 128, 1 << 32, math.MaxUint64} {
		c := Cursor{Seq: seq}
		got, err := ParseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCursor(%q) = %v, %v; want %v", c.String(), got, err, c)
		}
	}
}

func TestParseCursorRefuses(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		"", "c", "!!", b64([]byte{'c'}), b64([]byte{'x', 1}), b64([]byte{'c', 0x80}),
		b64([]byte{'c', 0x81, 0x00}), // overlong 1
		b64([]byte{'c', 1, 2}),       // trailing byte
		b64([]byte{'c', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), // overflow
		"YwE=", // padded
		"YwF",  // non-zero padding bits
	} {
		if c, err := ParseCursor(s); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) = %v, %v; want ErrBadCursor", s, c, err)
		}
	}
}

func TestPageTokenRoundTrip(t *testing.T) {
	for _, p := range []PageToken{
		{}, {Direction: Backward, Timestamp: -1, Seq: 7}, {Timestamp: math.MaxInt64, Seq: math.MaxUint64}, {Timestamp: math.MinInt64},
	} {
		got, err := ParsePageToken(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePageToken(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{"", b64([]byte{'p', 2, 0, 0}), b64([]byte{'p', 0, 0}), b64([]byte{'p', 0, 0, 0, 0}), b64([]byte{'p', 0, 0x80, 0x00, 0}), Cursor{Seq: 5}.String()} {
		if p, err := ParsePageToken(s); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParsePageToken(%q) = %v, %v; want ErrBadCursor", s, p, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "YwE", Cursor{Seq: 1 << 40}.String(), "YwF", "c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err == nil && c.String() != s {
			t.Fatalf("ParseCursor(%q) = %v, which prints as %q", s, c, c.String())
		}
	})
}

func FuzzParsePageToken(f *testing.F) {
	for _, p := range []PageToken{{}, {Direction: Backward, Timestamp: 1700000000000000000, Seq: 99}} {
		f.Add(p.String())
	}
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePageToken(s)
		if err == nil && p.String() != s {
			t.Fatalf("ParsePageToken(%q) = %v, which prints as %q", s, p, p.String())
		}
	})
}

func BenchmarkParseCursor(b *testing.B) {
	s := Cursor{Seq: 123456789}.String()
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := ParseCursor(s); err != nil {
			b.Fatal(err)
		}
	}
}
