package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// skipDoc reads one whole document with SkipValue and End.
func skipDoc(s *Scanner) error {
	if err := s.SkipValue(0); err != nil {
		return err
	}
	return s.End()
}

func TestScannerErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		err := skipDoc(&Scanner{Buf: []byte(in)})
		got := "<nil>"
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%q: got %s; want %s", in, got, want)
		}
	}
	f(` {"a": [1, -2.5e+3, "x\u00e9\n", true, false, null, {}]} `, "<nil>")
	f(``, "malformed JSON at offset 0: expected value, found end of input")
	f(`{"a":1,}`, "malformed JSON at offset 7: expected string, found '}'")
	f(`{"a" 1}`, "malformed JSON at offset 5: expected ':' after object key, found number")
	f(`[1 2]`, "malformed JSON at offset 3: expected ',' or ']', found number")
	f(`{"a":1 "b":2}`, "malformed JSON at offset 7: expected ',' or '}', found string")
	f(`"x\qy"`, `malformed JSON at offset 2: invalid escape '\q' in string`)
	f(`"x\u12"`, `malformed JSON at offset 2: invalid \u escape in string`)
	f("\"a\tb\"", "malformed JSON at offset 2: control character 0x09 in string")
	f(`"abc`, "malformed JSON at offset 4: unterminated string")
	f(`01`, "malformed JSON at offset 1: expected end of input, found number")
	f(`-`, "malformed JSON at offset 1: expected digit, found end of input")
	f(`1.`, "malformed JSON at offset 2: expected digit after decimal point, found end of input")
	f(`1e+`, "malformed JSON at offset 3: expected digit in exponent, found end of input")
	f(`nul`, "malformed JSON at offset 0: expected value, found 'n'")
	f(`truex`, "malformed JSON at offset 4: expected end of input, found 'x'")
	f("{}\x00", "malformed JSON at offset 2: expected end of input, found byte 0x00")
	f(strings.Repeat("[", 100)+strings.Repeat("]", 100), "<nil>")
	f(strings.Repeat("[", 101)+strings.Repeat("]", 101), "malformed JSON at offset 100: nesting too deep")
}

func TestScannerQuiet(t *testing.T) {
	s := &Scanner{Buf: []byte(`{"a":}`), Quiet: true}
	if err := skipDoc(s); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v; want ErrMalformed", err)
	}
}

func TestScannerTokens(t *testing.T) {
	s := &Scanner{Buf: []byte(` { "k\"": [ "v", 12 ] } `)}
	if err := s.Enter('{'); err != nil {
		t.Fatal(err)
	}
	if more, err := s.More('}', true); !more || err != nil {
		t.Fatalf("More: got %v, %v; want true, nil", more, err)
	}
	if k, err := s.Key(); string(k) != `k\"` || err != nil {
		t.Fatalf("Key: got %q, %v; want %q", k, err, `k\"`)
	}
	if err := s.Enter('['); err != nil {
		t.Fatal(err)
	}
	if more, err := s.More(']', true); !more || err != nil {
		t.Fatalf("More: got %v, %v; want true, nil", more, err)
	}
	if got := s.Found(); got != "string" {
		t.Fatalf("Found: got %s; want string", got)
	}
	if raw, esc, err := s.RawString(); string(raw) != "v" || esc || err != nil {
		t.Fatalf("RawString: got %q, %v, %v; want \"v\", false, nil", raw, esc, err)
	}
	if more, err := s.More(']', false); !more || err != nil {
		t.Fatalf("More: got %v, %v; want true, nil", more, err)
	}
	if n, err := s.Number(); string(n) != "12" || err != nil {
		t.Fatalf("Number: got %q, %v; want 12", n, err)
	}
	for _, closing := range []byte{']', '}'} {
		if more, err := s.More(closing, false); more || err != nil {
			t.Fatalf("More(%c): got %v, %v; want false, nil", closing, more, err)
		}
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
}

func TestUnescape(t *testing.T) {
	f := func(raw, want string, wantOK bool) {
		t.Helper()
		got, ok := Unescape(nil, []byte(raw))
		if string(got) != want || ok != wantOK {
			t.Errorf("Unescape(%q): got %q, %v; want %q, %v", raw, got, ok, want, wantOK)
		}
	}
	f(`plain`, "plain", true)
	f(`\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t", true)
	f(`\u00e9\u20AC`, "é€", true)
	f(`\ud83d\ude00`, "😀", true)
	f(`\ud800x`, "\uFFFDx", true)
	f(`\udc00\ud83d`, "\uFFFD\uFFFD", true)
	f(`\ud800\u0041`, "\uFFFDA", true)
	f("\xff", "\xff", true)
	f(`\q`, "", false)
	f(`a\u12`, "a", false)
	f(`\ud800\u12`, "\uFFFD", false)
	f(`a\`, "a", false)
}

func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e+3,"x\u00e9",true,null,{}]}`, `"\ud83d\ude00\ud800"`, `[1 2]`, `{"a":1,}`, "\"a\tb\"", `01`, `1e+`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := skipDoc(&Scanner{Buf: b})
		quiet := skipDoc(&Scanner{Buf: b, Quiet: true})
		if (err == nil) != (quiet == nil) {
			t.Fatalf("%q: error %v, quiet %v", b, err, quiet)
		}
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("%q: error %v is not a *SyntaxError", b, err)
		}
		if err != nil && strings.Contains(se.Msg, "nesting too deep") {
			return
		}
		if valid := json.Valid(b); valid != (err == nil) {
			t.Fatalf("%q: json.Valid %v; error %v", b, valid, err)
		}
		s := &Scanner{Buf: b}
		if s.Peek() != '"' {
			return
		}
		raw, _, err := s.RawString()
		if err != nil || !utf8.Valid(raw) {
			return // encoding/json replaces invalid UTF-8
		}
		got, ok := Unescape(nil, raw)
		var want string
		if !ok || json.Unmarshal(b[:s.Pos], &want) != nil || string(got) != want {
			t.Fatalf("Unescape(%q): got %q, %v; want %q", raw, got, ok, want)
		}
	})
}

// benchDoc is a push body of 1,000 entries with escapes in some lines.
func benchDoc() []byte {
	var b strings.Builder
	b.WriteString(`{"streams":[{"stream":{"app":"api","pod":"api-7d9f"},"values":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`["1700000000000000000","level=info msg=\"request served\" path=/api/v1/items status=200 took=12.5ms",{"trace_id":"4bf92f3577b34da6"}]`)
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

func BenchmarkSkipValue(b *testing.B) {
	doc := benchDoc()
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := skipDoc(&Scanner{Buf: doc}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnescape(b *testing.B) {
	raw := []byte(`level=info msg=\"request served\" path=\/api\/v1\/items caf\u00e9 \ud83d\ude00\n`)
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		dst, _ = Unescape(dst[:0], raw)
	}
}
