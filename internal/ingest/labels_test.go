package ingest

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// labelCases are ParseLabels inputs with the rendering or error they give;
// they also seed FuzzParseLabels.
var labelCases = []struct{ in, want string }{
	{`{}`, `{}`},
	{` { } `, `{}`},
	{`{a="b"}`, `{a="b"}`},
	{`{b="2", a="1"}`, `{a="1", b="2"}`},
	{`{ b = "2" ,a="1", }`, `{a="1", b="2"}`},
	{`{__name__="x",_a9="y",Z="z"}`, `{Z="z", __name__="x", _a9="y"}`},
	{`{a="q\"uote\\ \n\t \u00e9 \x41 \101 😀"}`, `{a="q\"uote\\ \n\t é A A 😀"}`},
	{"{a=`raw \\n \"x\"`}", `{a="raw \\n \"x\""}`},
	{`{a="", b="1"}`, `{b="1"}`},
	{`{a=""}`, `{}`},
	{``, `bad label syntax at position 0: expected '{'`},
	{`a="b"`, `bad label syntax at position 0: expected '{'`},
	{`{`, `bad label syntax at position 1: expected label name`},
	{`{a="b"`, `bad label syntax at position 6: expected ',' or '}'`},
	{`{a="b" c="d"}`, `bad label syntax at position 7: expected ',' or '}'`},
	{`{a="b"} x`, `bad label syntax at position 8: unexpected text after '}'`},
	{`{,}`, `bad label syntax at position 1: expected label name`},
	{`{a="b",,}`, `bad label syntax at position 7: expected label name`},
	{`{a}`, `bad label syntax at position 2: expected '=' after label name`},
	{`{a=}`, `bad label syntax at position 3: expected '"' to open label value`},
	{`{a='b'}`, `bad label syntax at position 3: expected '"' to open label value`},
	{`{a!="b"}`, `bad label syntax at position 2: only '=' is allowed in a stream label set`},
	{`{a=~"b"}`, `bad label syntax at position 2: only '=' is allowed`},
	{`{a="b}`, `bad label syntax at position 6: unterminated label value`},
	{"{a=`b}", `bad label syntax at position 4: unterminated raw string`},
	{"{a=\"b\nc\"}", `bad label syntax at position 5: newline in label value`},
	{`{a="\q"}`, `bad label syntax at position 3: bad escape in label value`},
	{`{a="\xff"}`, `bad label syntax at position 3: label value is not valid UTF-8`},
	{"{a=\"\xff\"}", `bad label syntax at position 3: label value is not valid UTF-8`},
	{"{a=`\xff`}", `bad label syntax at position 3: label value is not valid UTF-8`},
	{`{1a="b"}`, `bad label syntax at position 1: invalid label name "1a"`},
	{`{a.b="c"}`, `bad label syntax at position 1: invalid label name "a.b"`},
	{`{a-b="c"}`, `bad label syntax at position 1: invalid label name "a-b"`},
	{`{é="c"}`, `bad label syntax at position 1: invalid label name "é"`},
	{`{a="1",a="2"}`, `bad label syntax: duplicate label name "a"`},
	{`{a="",a="2"}`, `bad label syntax: duplicate label name "a"`},
}

func TestParseLabels(t *testing.T) {
	for _, c := range labelCases {
		ls, err := ParseLabels(c.in)
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrBadLabels) {
				t.Errorf("ParseLabels(%q): error %q does not wrap ErrBadLabels", c.in, err)
			}
		} else {
			got = ls.String()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("ParseLabels(%q) = %s; want %s", c.in, got, c.want)
		}
	}
}

func TestParseLabelsInvalidName(t *testing.T) {
	_, err := ParseLabels(`{ok="1", bad-name="2"}`)
	var il *logmodel.ErrInvalidLabel
	if !errors.As(err, &il) || il.Name != "bad-name" {
		t.Fatalf("got %v; want a *logmodel.ErrInvalidLabel for bad-name", err)
	}
}

func BenchmarkParseLabels(b *testing.B) {
	s := `{app="payments-api", cluster="prod-eu-1", container="main", namespace="payments", pod="payments-api-7d9f8b6c5-x2x4q"}`
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLabels(s); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseLabels(f *testing.F) {
	for _, c := range labelCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseLabels(s)
		if err != nil {
			if !errors.Is(err, ErrBadLabels) {
				t.Fatalf("ParseLabels(%q): error %v does not wrap ErrBadLabels", s, err)
			}
			return
		}
		for i, l := range ls {
			if !logmodel.ValidLabelName(l.Name) || l.Value == "" || !utf8.ValidString(l.Value) {
				t.Fatalf("ParseLabels(%q): bad label %q=%q", s, l.Name, l.Value)
			}
			if i > 0 && ls[i-1].Name >= l.Name {
				t.Fatalf("ParseLabels(%q) = %s: not sorted or repeated", s, ls)
			}
		}
		again, err := ParseLabels(ls.String())
		if err != nil || !again.Equal(ls) {
			t.Fatalf("ParseLabels(%q) = %s, which parses back as %s, %v", s, ls, again, err)
		}
	})
}
