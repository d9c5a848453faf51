package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestLineParserParse(t *testing.T) {
	p := lineParser{strip: true, minPartial: 3, maxSpan: int64(5 * time.Second)}
	f := func(raw string, wantTs string, wantText string) {
		t.Helper()
		ts, text, err := p.parse([]byte(raw))
		if err != nil {
			t.Fatalf("parse %q: %v", raw, err)
		}
		want, err := time.Parse(time.RFC3339Nano, wantTs)
		if err != nil {
			t.Fatal(err)
		}
		if ts != want.UnixNano() || string(text) != wantText {
			t.Fatalf("parse %q: got %d %q; want %d %q", raw, ts, text, want.UnixNano(), wantText)
		}
	}
	f("2026-01-02T03:04:05.123456789Z hello", "2026-01-02T03:04:05.123456789Z", "hello")
	f("2026-01-02T03:04:05Z hello world", "2026-01-02T03:04:05Z", "hello world")
	f("2026-01-02T03:04:05+01:00 x", "2026-01-02T02:04:05Z", "x")
	f("2026-01-02T03:04:05.1Z ", "2026-01-02T03:04:05.1Z", "")
	f("2026-01-02T03:04:05.1Z \xff\xfe bytes", "2026-01-02T03:04:05.1Z", "\xff\xfe bytes")
	// Partial records: the inner timestamps go.
	f("2026-01-02T03:04:05.1Z abcd2026-01-02T03:04:05.2Z efgh2026-01-02T03:04:05.3Z ij",
		"2026-01-02T03:04:05.1Z", "abcdefghij")
	f("2026-01-02T03:04:05+01:00 abcd2026-01-02T03:04:05.5+01:00 efg",
		"2026-01-02T02:04:05Z", "abcdefg")
	// Text that only looks like a record boundary stays.
	f("2026-01-02T03:04:05.1Z ab2026-01-02T03:04:05.2Z x", "2026-01-02T03:04:05.1Z", "ab2026-01-02T03:04:05.2Z x")               // too short a record
	f("2026-01-02T03:04:05.1Z abcd2026-01-02T03:04:05.0Z x", "2026-01-02T03:04:05.1Z", "abcd2026-01-02T03:04:05.0Z x")           // earlier
	f("2026-01-02T03:04:05.1Z abcd2026-01-02T03:05:05.1Z x", "2026-01-02T03:04:05.1Z", "abcd2026-01-02T03:05:05.1Z x")           // too late
	f("2026-01-02T03:04:05.1Z abcd2026-01-02T03:04:05.2+00:00 x", "2026-01-02T03:04:05.1Z", "abcd2026-01-02T03:04:05.2+00:00 x") // other zone form
	f("2026-01-02T03:04:05.1Z abcd2026-01-02T03:04:05.2Zx", "2026-01-02T03:04:05.1Z", "abcd2026-01-02T03:04:05.2Zx")             // no space
	f("2026-01-02T03:04:05.1Z abcd2026-13-02T03:04:05.2Z x", "2026-01-02T03:04:05.1Z", "abcd2026-13-02T03:04:05.2Z x")           // invalid month

	// Current kubelets send no inner timestamps: nothing is stripped.
	plain := lineParser{}
	if _, text, err := plain.parse([]byte("2026-01-02T03:04:05.100000000Z abcd2026-01-02T03:04:05.2Z x")); err != nil || string(text) != "abcd2026-01-02T03:04:05.2Z x" {
		t.Fatalf("parse without strip: got %q %v; want the text unchanged", text, err)
	}

	bad := func(raw string) {
		t.Helper()
		if ts, text, err := p.parse([]byte(raw)); err == nil {
			t.Fatalf("parse %q: got %d %q; want an error", raw, ts, text)
		}
	}
	bad("")
	bad("hello")
	bad("2026-01-02T03:04:05Z")
	bad("2026-01-02T03:04:05 x")
	bad("2026-01-02 03:04:05Z x")
	bad("2026-01-02T03:04:05.Z x")
	bad("2026-01-02T03:04:05.1234567890Z x")
	bad("2026-02-30T03:04:05Z x")
}

func TestLineParserRealPartials(t *testing.T) {
	// A 40 KiB line split into 16 KiB records, as containerd does.
	p := lineParser{strip: true, minPartial: 1024, maxSpan: int64(5 * time.Second)}
	want := strings.Repeat("0123456789abcdef ts=2026-01-02T03:04:05.1Z ", 1000)[:40<<10]
	var raw strings.Builder
	for i := 0; i < len(want); i += 16 << 10 {
		raw.WriteString("2026-01-02T03:04:05.10000000" + string(rune('1'+i/(16<<10))) + "Z ")
		raw.WriteString(want[i:min(i+16<<10, len(want))])
	}
	_, text, err := p.parse([]byte(raw.String()))
	if err != nil {
		t.Fatal(err)
	}
	if string(text) != want {
		t.Fatalf("joined line: got %d bytes; want %d", len(text), len(want))
	}
}

func TestPosition(t *testing.T) {
	type step struct {
		ts      int64
		ok      bool
		ordinal int
	}
	f := func(name string, start Resume, reopen bool, steps []step, want Resume) {
		t.Helper()
		p := position{last: start}
		if reopen {
			p.reopen()
		}
		for i, s := range steps {
			ord, ok := p.take(s.ts)
			if ok != s.ok || ord != s.ordinal {
				t.Fatalf("%s: step %d (ts %d): got ok=%v ordinal=%d; want ok=%v ordinal=%d", name, i, s.ts, ok, ord, s.ok, s.ordinal)
			}
		}
		if p.last != want {
			t.Fatalf("%s: resume point: got %+v; want %+v", name, p.last, want)
		}
	}
	f("fresh", Resume{}, true, []step{{10, true, 0}, {10, true, 1}, {11, true, 0}}, Resume{11, 1})
	f("skip older and counted", Resume{10, 2}, true,
		[]step{{8, false, 0}, {10, false, 0}, {10, false, 0}, {10, true, 2}, {10, true, 3}, {12, true, 0}}, Resume{12, 1})
	f("resume point's count all taken", Resume{10, 2}, true,
		[]step{{10, false, 0}, {10, false, 0}, {11, true, 0}}, Resume{11, 1})
	f("fewer lines at the resume point than taken", Resume{10, 3}, true,
		[]step{{10, false, 0}, {11, true, 0}, {11, true, 1}}, Resume{11, 2})
	f("live stream keeps lines going back in time", Resume{10, 1}, false,
		[]step{{9, true, 0}, {9, true, 1}}, Resume{9, 2})
}

func FuzzLineParser(f *testing.F) {
	for _, s := range []string{
		"2026-01-02T03:04:05.123456789Z hello",
		"2026-01-02T03:04:05+01:00 x",
		"2026-01-02T03:04:05.1Z abcd2026-01-02T03:04:05.2Z efgh2026-01-02T03:04:05.3Z ij",
		"2026-01-02T03:04:05.1Z \xff",
		"",
		"x",
	} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, raw []byte, minPartial int) {
		if minPartial < 0 || minPartial > 1<<20 {
			return
		}
		p := lineParser{strip: true, minPartial: minPartial, maxSpan: int64(5 * time.Second)}
		ts, text, err := p.parse(raw)
		if err != nil {
			return
		}
		if len(text) >= len(raw) {
			t.Fatalf("parse %q: text %q not shorter than the line", raw, text)
		}
		// Without partial records the text is what follows the timestamp.
		sp := bytes.IndexByte(raw, ' ')
		whole := raw[sp+1:]
		if !bytes.Equal(text, whole) && len(text) >= len(whole) {
			t.Fatalf("parse %q: stripped text %q not shorter than %q", raw, text, whole)
		}
		if got := time.Unix(0, ts).UTC().Format(time.RFC3339Nano); got == "" {
			t.Fatalf("parse %q: bad timestamp %d", raw, ts)
		}
	})
}

func BenchmarkLineParser(b *testing.B) {
	line := []byte("2026-01-02T03:04:05.123456789Z 081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating")
	p := lineParser{}
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, _, err := p.parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLineReader(t *testing.T) {
	f := func(name string, r lineReader, in string, want string, wantBad int) {
		t.Helper()
		var got []string
		bad := 0
		r.onBadLine = func(error) { bad++ }
		err := r.read(strings.NewReader(in), func(l Line) error {
			s := string(l.Text)
			if len(s) > 20 {
				s = fmt.Sprintf("%c*%d", s[0], len(s))
			}
			if l.Truncated {
				s += "(truncated)"
			}
			got = append(got, s)
			return nil
		})
		if !errors.Is(err, io.EOF) {
			t.Fatalf("%s: read: %v; want EOF", name, err)
		}
		if strings.Join(got, " ") != want || bad != wantBad {
			t.Fatalf("%s: got %q and %d bad lines; want %q and %d", name, got, bad, want, wantBad)
		}
	}
	const ts = "2026-01-02T03:04:05Z "
	r := lineReader{maxBytes: 1 << 20}
	f("lines", r, ts+"a\n"+ts+"b\n", "a b", 0)
	f("unterminated last line dropped", r, ts+"a\n"+ts+"b", "a", 0)
	f("no timestamp", r, "a\n\n"+ts+"b\n", "b", 2)
	long := strings.Repeat("x", 200<<10)
	f("line over the buffer", r, ts+long+"\n", fmt.Sprintf("x*%d", 200<<10), 0)
	f("long line truncated", lineReader{maxBytes: 100 << 10}, ts+long+"\n"+ts+"b\n", fmt.Sprintf("x*%d(truncated) b", 100<<10-len(ts)), 0)
	exact := strings.Repeat("x", 100<<10-len(ts))
	f("line of the maximum size whole", lineReader{maxBytes: 100 << 10}, ts+exact+"\n", fmt.Sprintf("x*%d", len(exact)), 0)
	f("line one byte over the maximum", lineReader{maxBytes: 100 << 10}, ts+exact+"y\n", fmt.Sprintf("x*%d(truncated)", len(exact)), 0)
	r.keepUnterminated = true
	f("unterminated last line kept", r, ts+"a\n"+ts+"b", "a b", 0)
	f("long unterminated last line kept", r, ts+long, fmt.Sprintf("x*%d", 200<<10), 0)
	f("empty", r, "", "", 0)
}
