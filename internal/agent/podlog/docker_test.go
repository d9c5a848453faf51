package podlog

import (
	"strconv"
	"strings"
	"testing"
)

// dockerRecord returns a record as Docker writes it.
func dockerRecord(log, stream, ts string) string {
	return `{"log":"` + log + `","stream":"` + stream + `","time":"` + ts + `"}` + "\n"
}

func TestDocker(t *testing.T) {
	n1, n2 := unixNano(t, ts1), unixNano(t, ts2)
	f := func(name string, maxLine int, in string, want ...string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			cfg := Config{MaxLineSize: maxLine}
			got, d := decodeAll(t, FormatDocker, cfg, 0, []byte(in))
			if !equal(got, want) {
				t.Fatalf("got\n%q\nwant\n%q", got, want)
			}
			if end := strings.LastIndexByte(in, '\n') + 1; d.Consumed() != int64(end) {
				t.Fatalf("Consumed() = %d; want %d", d.Consumed(), end)
			}
			checkSplits(t, FormatDocker, cfg, []byte(in))
		})
	}
	r1 := dockerRecord(`hello world\n`, "stdout", ts1)
	f("full line", 100, r1, fmtLine(n1, "stdout", "hello world", 0, len(r1), false))
	p1, p2, fin := dockerRecord("abc", "stdout", ts1), dockerRecord("def", "stdout", ts2), dockerRecord(`gh\n`, "stdout", ts2)
	f("joined", 100, p1+p2+fin, fmtLine(n1, "stdout", "abcdefgh", 0, len(p1+p2+fin), false))
	e1 := dockerRecord(`oops\n`, "stderr", ts2)
	f("streams joined apart", 100, p1+e1+fin,
		fmtLine(n2, "stderr", "oops", len(p1), len(p1+e1), false),
		fmtLine(n1, "stdout", "abcgh", 0, len(p1+e1+fin), false))
	f("cap cuts joined line", 5, p1+p2+fin, fmtLine(n1, "stdout", "abcde", 0, len(p1+p2+fin), true))
	f("cap cuts full record", 5, r1, fmtLine(n1, "stdout", "hello", 0, len(r1), true))
	ce := dockerRecord(`\u00e9\u00e9\n`, "stdout", ts1)
	f("cap cuts escaped text", 2, ce, fmtLine(n1, "stdout", "\xc3\xa9", 0, len(ce), true))
	esc := dockerRecord(`q\" b\\ s\/ \b\f\r\t nl\n mid \u00e9\u4e16 \ud83d\ude00 \ud83d \ude00 \ud83dx \ud83d\u0041 \ufffd\n`, "stdout", ts1)
	f("escapes", 100, esc, fmtLine(n1, "stdout",
		"q\" b\\ s/ \b\f\r\t nl\n mid é世 😀 \ufffd \ufffd \ufffdx \ufffdA \ufffd", 0, len(esc), false))
	raw := dockerRecord("\xff\xfe \xc3(\n", "stderr", ts2)
	raw = strings.Replace(raw, "\n", `\n`, 1)
	f("not UTF-8", 100, raw, fmtLine(n2, "stderr", "\xff\xfe \xc3(", 0, len(raw), false))
	other := ` { "stream" : "stderr" , "attrs" : {"a":[1,-2.5e3,true,false,null,{"b":"c"}],"d":""}, "t\u0069me":"` + ts2 + `", "log":"x\n" } ` + "\r\n"
	f("other fields and order", 100, other, fmtLine(n2, "stderr", "x", 0, len(other), false))
	dup := `{"log":"a\n","log":"b\n","stream":"stdout","time":"` + ts1 + `"}` + "\n"
	f("last of a field counts", 100, dup, fmtLine(n1, "stdout", "b", 0, len(dup), false))
	bad := []struct{ rec, reason string }{
		{dockerRecord(`bad \x escape\n`, "stdout", ts1), "bad JSON: bad string at byte 7"},
		{dockerRecord(`short \u12\n`, "stdout", ts1), "bad JSON: bad string at byte 7"},
		{dockerRecord("raw \t tab", "stdout", ts1), "bad JSON: bad string at byte 7"},
		{dockerRecord(`x\n`, "stdin", ts1), "bad stream"},
		{dockerRecord(`x\n`, "stdout", "yesterday"), "bad timestamp"},
		{`{"log":"x\n","time":"` + ts1 + `"}` + "\n", "bad stream"},
		{`{"log":"x\n","stream":"stdout"}` + "\n", "bad timestamp"},
		{`{"stream":"stdout","time":"` + ts1 + `"}` + "\n", "bad JSON: no log field"},
		{`{"log":1,"stream":"stdout","time":"` + ts1 + `"}` + "\n", "bad JSON: expected a string at byte 7"},
		{`{"log":"x\n","stream":"stdout","time":"` + ts1 + `"}x` + "\n", "bad JSON: text after the object at byte 71"},
		{`{"log":"x\n","a":01,"stream":"stdout","time":"` + ts1 + `"}` + "\n", "bad JSON: expected , or } at byte 18"},
		{`{"log":"x\n","a":tru,"stream":"stdout","time":"` + ts1 + `"}` + "\n", "bad JSON: bad value at byte 17"},
		{`{"log":"x\n" "stream":"stdout"}` + "\n", "bad JSON: expected , or } at byte 13"},
		{`[]` + "\n", "bad JSON: expected { at byte 0"},
		{"\n", "bad JSON: expected { at byte 0"},
		{`{}` + "\n", "bad JSON: no log field"},
	}
	var in string
	var want []string
	for _, b := range bad {
		want = append(want, "error@"+strconv.Itoa(len(in))+": "+b.reason)
		in += b.rec
	}
	want = append(want, fmtLine(n1, "stdout", "hello world", len(in), len(in+r1), false))
	f("malformed records", 100, in+r1, want...)
	f("malformed record inside a joined line", 100, p1+"{\n"+fin,
		"error@"+strconv.Itoa(len(p1))+": bad JSON: expected a key at byte 1",
		fmtLine(n1, "stdout", "abcgh", 0, len(p1)+2+len(fin), false))
}

func TestDockerTooLong(t *testing.T) {
	cfg := Config{MaxLineSize: 1}
	long := dockerRecord(strings.Repeat("x", dockerRecordMax(1)), "stdout", ts1)
	next := dockerRecord(`y\n`, "stderr", ts1)
	in := []byte(long + next)
	want := []string{
		"error@0: record too long: longer than " + strconv.Itoa(dockerRecordMax(1)) + " bytes",
		fmtLine(unixNano(t, ts1), "stderr", "y", len(long), len(in), false),
	}
	for _, split := range []int{0, 10, len(long) - 1, len(long), len(long) + 5, len(in)} {
		got, d := decodeAll(t, FormatDocker, cfg, 0, in[:split], in[split:])
		if !equal(got, want) {
			t.Fatalf("split at %d: got\n%q\nwant\n%q", split, got, want)
		}
		if len(d.carry) > d.keep {
			t.Fatalf("split at %d: carry holds %d bytes; want at most %d", split, len(d.carry), d.keep)
		}
	}
}
