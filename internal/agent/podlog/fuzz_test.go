package podlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// criSeeds are CRI inputs of the unit tests' kinds.
var criSeeds = []string{
	ts1 + " stdout F hello world\n",
	ts1 + " stdout P abc\n" + ts2 + " stderr F oops\n" + ts2 + " stdout P def\n" + ts2 + " stdout F gh\n",
	ts1 + " stdout F \n" + ts1 + " stderr F\n" + ts1 + " stdout F \xff\xfe\x00\r\n",
	"2026-12-07T19:46:46.5+02:00 stderr F x\n",
	"garbage\n\n" + ts1 + " stdin F x\n" + ts1 + " stdout X x\n" + ts1 + " stdout F no newline",
}

// dockerSeeds are Docker inputs of the unit tests' kinds.
var dockerSeeds = []string{
	dockerRecord(`hello world\n`, "stdout", ts1),
	dockerRecord("abc", "stdout", ts1) + dockerRecord(`oops\n`, "stderr", ts2) + dockerRecord(`gh\n`, "stdout", ts2),
	dockerRecord(`q\" b\\ s\/ \b\f\r\t \u00e9 \ud83d\ude00 \ud83d \ude00 \ud83d\u0041\n`, "stdout", ts1),
	` { "stream" : "stderr" , "attrs" : {"a":[1,-2.5e3,true,null]}, "t\u0069me":"` + ts2 + `", "log":"x\n" } ` + "\r\n",
	dockerRecord(`bad \x\n`, "stdout", ts1) + "{}\n[]\n" + dockerRecord("x", "stdin", ts1) + `{"log":"x\n"`,
}

// fuzzDecode decodes chunks, checks the invariants every result keeps and
// returns the results as decodeAll does.
func fuzzDecode(t *testing.T, f Format, cfg Config, chunks ...[]byte) []string {
	t.Helper()
	d, err := NewDecoder(f, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var fed, lastEnd int64
	for _, c := range chunks {
		fed += int64(len(c))
		d.Feed(c)
		for {
			l, err := d.Next()
			if errors.Is(err, ErrNeedMore) {
				break
			}
			if d.Consumed() > fed || d.Resume() > d.Consumed() {
				t.Fatalf("Consumed() = %d, Resume() = %d after %d bytes fed", d.Consumed(), d.Resume(), fed)
			}
			var re *RecordError
			if errors.As(err, &re) && re.Offset >= d.Consumed() {
				t.Fatalf("error at offset %d past Consumed() = %d", re.Offset, d.Consumed())
			}
			if err == nil {
				if len(l.Text) > cfg.MaxLineSize || (l.Truncated && len(l.Text) != cfg.MaxLineSize) {
					t.Fatalf("line of %d bytes, truncated %v, with MaxLineSize %d", len(l.Text), l.Truncated, cfg.MaxLineSize)
				}
				if l.Offset >= l.End || l.End != d.Consumed() || l.End < lastEnd {
					t.Fatalf("line [%d,%d) after a line ending at %d, Consumed() = %d", l.Offset, l.End, lastEnd, d.Consumed())
				}
				lastEnd = l.End
			}
			got = append(got, describe(t, l, err))
		}
	}
	return got
}

// fuzzSplits checks that in decodes the same whole and in two pieces.
func fuzzSplits(t *testing.T, f Format, maxLine, split uint16, in []byte) {
	cfg := Config{MaxLineSize: int(maxLine)%512 + 1}
	want := fuzzDecode(t, f, cfg, in)
	i := int(split) % (len(in) + 1)
	if got := fuzzDecode(t, f, cfg, in[:i], in[i:]); !equal(got, want) {
		t.Fatalf("split at %d: got\n%q\nwant\n%q", i, got, want)
	}
}

func FuzzCRI(f *testing.F) {
	for _, s := range criSeeds {
		f.Add([]byte(s), uint16(100), uint16(len(s)/2))
		f.Add([]byte(s), uint16(2), uint16(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, maxLine, split uint16) {
		fuzzSplits(t, FormatCRI, maxLine, split, in)
		for rec := range bytes.SplitSeq(in, []byte("\n")) {
			checkTimestamp(t, rec[:min(len(rec), maxTimestampLen+1)])
		}
	})
}

// checkTimestamp checks that a time parseTimestamp accepts is the time
// time.Parse reads.
func checkTimestamp(t *testing.T, b []byte) {
	if sp := bytes.IndexByte(b, ' '); sp >= 0 {
		b = b[:sp]
	}
	got, ok := parseTimestamp(b)
	if !ok {
		return
	}
	want, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil || want.UnixNano() != got {
		t.Fatalf("parseTimestamp(%q) = %d; time.Parse gives %v, %v", b, got, want.UnixNano(), err)
	}
}

func FuzzDocker(f *testing.F) {
	for _, s := range dockerSeeds {
		f.Add([]byte(s), uint16(100), uint16(len(s)/2))
		f.Add([]byte(s), uint16(2), uint16(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, maxLine, split uint16) {
		fuzzSplits(t, FormatDocker, maxLine, split, in)
		for rec := range bytes.SplitSeq(in, []byte("\n")) {
			checkJSON(t, rec)
		}
	})
}

// checkJSON checks one Docker record against encoding/json: for text that is
// UTF-8 and nested no deeper than the decoder goes, the decoder accepts the
// record exactly when encoding/json reads an object whose three fields are
// strings with a known stream and a time parseTimestamp reads, and the text
// is what encoding/json says.
func checkJSON(t *testing.T, rec []byte) {
	if !utf8.Valid(rec) || bytes.Count(rec, []byte("{"))+bytes.Count(rec, []byte("[")) > maxJSONDepth {
		return
	}
	d, err := NewDecoder(FormatDocker, Config{MaxLineSize: 1 << 20}, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Feed(append(bytes.Clone(rec), '\n'))
	line, gotErr := d.Next()
	isPartial := errors.Is(gotErr, ErrNeedMore)

	var m map[string]any
	var wantText string
	wantOK := json.Valid(rec)
	if wantOK {
		dec := json.NewDecoder(bytes.NewReader(rec))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			wantOK = false
		}
	}
	if wantOK {
		log, ok1 := m["log"].(string)
		stream, ok2 := m["stream"].(string)
		tm, ok3 := m["time"].(string)
		_, ok4 := parseTimestamp([]byte(tm))
		wantOK = ok1 && ok2 && ok3 && ok4 && (stream == Stdout || stream == Stderr)
		wantText = strings.TrimSuffix(log, "\n")
	}
	switch {
	case wantOK && gotErr != nil && !isPartial:
		t.Fatalf("record %q: got %v; encoding/json reads it", rec, gotErr)
	case !wantOK && (gotErr == nil || isPartial):
		t.Fatalf("record %q: decoded; encoding/json does not read it as a record", rec)
	case gotErr == nil && string(line.Text) != wantText:
		t.Fatalf("record %q: got text %q; encoding/json says %q", rec, line.Text, wantText)
	}
}
