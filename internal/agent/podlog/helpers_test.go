package podlog

import (
	"errors"
	"fmt"
	"testing"
)

// decodeAll feeds chunks to a new decoder one after another and returns what
// Next reported, one string per line or error, and the decoder.
func decodeAll(tb testing.TB, f Format, cfg Config, start int64, chunks ...[]byte) ([]string, *Decoder) {
	tb.Helper()
	d, err := NewDecoder(f, cfg, start)
	if err != nil {
		tb.Fatalf("NewDecoder: %v", err)
	}
	var got []string
	for _, c := range chunks {
		d.Feed(c)
		for {
			l, err := d.Next()
			if errors.Is(err, ErrNeedMore) {
				break
			}
			got = append(got, describe(tb, l, err))
		}
	}
	return got, d
}

// describe renders a result of Next for comparison.
func describe(tb testing.TB, l Line, err error) string {
	tb.Helper()
	if err != nil {
		var re *RecordError
		if !errors.As(err, &re) {
			tb.Fatalf("Next: got error %v of type %T; want a *RecordError", err, err)
		}
		return fmt.Sprintf("error@%d: %v", re.Offset, re.Err)
	}
	return formatLine(l)
}

// formatLine renders a line for comparison.
func formatLine(l Line) string {
	s := fmt.Sprintf("%d %s %q [%d,%d)", l.Timestamp, l.Stream, l.Text, l.Offset, l.End)
	if l.Truncated {
		s += " truncated"
	}
	return s
}

// fmtLine renders a want line as describe does.
func fmtLine(ts int64, stream, text string, offset, end int, truncated bool) string {
	return formatLine(Line{Timestamp: ts, Stream: stream, Text: []byte(text), Truncated: truncated, Offset: int64(offset), End: int64(end)})
}

// equal compares two results of decodeAll.
func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkSplits checks that feeding in in two pieces, at every split, and one
// byte at a time gives what feeding it whole gives.
func checkSplits(t *testing.T, f Format, cfg Config, in []byte) {
	t.Helper()
	want, _ := decodeAll(t, f, cfg, 0, in)
	for i := 0; i <= len(in); i++ {
		got, d := decodeAll(t, f, cfg, 0, in[:i], in[i:])
		if !equal(got, want) {
			t.Fatalf("split at %d: got\n%q\nwant\n%q", i, got, want)
		}
		if d.Consumed() > int64(len(in)) {
			t.Fatalf("split at %d: Consumed() = %d; want at most %d", i, d.Consumed(), len(in))
		}
	}
	bytewise := make([][]byte, len(in))
	for i := range in {
		bytewise[i] = in[i : i+1]
	}
	if got, _ := decodeAll(t, f, cfg, 0, bytewise...); !equal(got, want) {
		t.Fatalf("byte by byte: got\n%q\nwant\n%q", got, want)
	}
}
