package podlog

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	ts1 = "2026-12-07T17:46:46.123456789Z"
	ts2 = "2026-12-07T17:46:47Z"
)

// unixNano parses an RFC 3339 time for a want value.
func unixNano(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

func TestCRI(t *testing.T) {
	n1, n2 := unixNano(t, ts1), unixNano(t, ts2)
	f := func(name string, maxLine int, in string, want ...string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			cfg := Config{MaxLineSize: maxLine}
			got, d := decodeAll(t, FormatCRI, cfg, 0, []byte(in))
			if !equal(got, want) {
				t.Fatalf("got\n%q\nwant\n%q", got, want)
			}
			if end := strings.LastIndexByte(in, '\n') + 1; d.Consumed() != int64(end) {
				t.Fatalf("Consumed() = %d; want %d", d.Consumed(), end)
			}
			checkSplits(t, FormatCRI, cfg, []byte(in))
		})
	}
	r1 := ts1 + " stdout F hello world\n"
	f("full line", 100, r1,
		fmtLine(n1, "stdout", "hello world", 0, len(r1), false))
	p1, p2, fin := ts1+" stdout P abc\n", ts2+" stdout P def\n", ts2+" stdout F gh\n"
	f("joined", 100, p1+p2+fin,
		fmtLine(n1, "stdout", "abcdefgh", 0, len(p1+p2+fin), false))
	e1 := ts2 + " stderr F oops\n"
	f("streams joined apart", 100, p1+e1+fin,
		fmtLine(n2, "stderr", "oops", len(p1), len(p1+e1), false),
		fmtLine(n1, "stdout", "abcgh", 0, len(p1+e1+fin), false))
	em1, em2 := ts1+" stdout F \n", ts1+" stderr F\n"
	f("empty text", 100, em1+em2,
		fmtLine(n1, "stdout", "", 0, len(em1), false),
		fmtLine(n1, "stderr", "", len(em1), len(em1+em2), false))
	sp := ts1 + " stdout F  a  b \n"
	f("spaces kept", 100, sp,
		fmtLine(n1, "stdout", " a  b ", 0, len(sp), false))
	f("cap cuts joined line", 5, p1+p2+fin,
		fmtLine(n1, "stdout", "abcde", 0, len(p1+p2+fin), true))
	f("cap reached exactly", 5, p1+ts2+" stdout F de\n",
		fmtLine(n1, "stdout", "abcde", 0, len(p1)+len(ts2)+13, false))
	f("cap cuts full record", 5, r1,
		fmtLine(n1, "stdout", "hello", 0, len(r1), true))
	f("cap drops partials until final", 2, p1+p2+fin+r1,
		fmtLine(n1, "stdout", "ab", 0, len(p1+p2+fin), true),
		fmtLine(n1, "stdout", "he", len(p1+p2+fin), len(p1+p2+fin+r1), true))
	f("cut past the kept bytes", 3, ts1+" stdout F "+strings.Repeat("x", 200)+"\n"+r1,
		fmtLine(n1, "stdout", "xxx", 0, 241, true),
		fmtLine(n1, "stdout", "hel", 241, 241+len(r1), true))
	nu := ts1 + " stdout F \xff\xfe\xc3(\x00\r\n"
	f("not UTF-8", 100, nu,
		fmtLine(n1, "stdout", "\xff\xfe\xc3(\x00\r", 0, len(nu), false))
	f("zone offset", 100, "2026-12-07T19:46:46.5+02:00 stderr F x\n",
		fmtLine(unixNano(t, "2026-12-07T17:46:46.5Z"), "stderr", "x", 0, 39, false))
	bad := []string{
		"garbage\n",
		"2026-13-07T17:46:46Z stdout F x\n",
		ts1 + " stdin F x\n",
		ts1 + " stdout X x\n",
		ts1 + " stdout Fx\n",
		ts1 + " stdout\n",
		"\n",
	}
	var in string
	var want []string
	reasons := []error{ErrBadTimestamp, ErrBadTimestamp, ErrBadStream, ErrBadTag, ErrBadTag, ErrBadStream, ErrBadTimestamp}
	for i, b := range bad {
		want = append(want, "error@"+strconv.Itoa(len(in))+": "+reasons[i].Error())
		in += b
	}
	want = append(want, fmtLine(n1, "stdout", "hello world", len(in), len(in+r1), false))
	f("malformed records", 100, in+r1, want...)
	f("malformed record inside a joined line", 100, p1+"bad\n"+fin,
		"error@"+strconv.Itoa(len(p1))+": bad timestamp",
		fmtLine(n1, "stdout", "abcgh", 0, len(p1)+4+len(fin), false))
	f("incomplete trailing record", 100, r1+ts1+" stdout F no newline",
		fmtLine(n1, "stdout", "hello world", 0, len(r1), false))
}
