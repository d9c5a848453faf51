package search

import (
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	f := func(in string, want ...string) {
		t.Helper()
		got := Tokens(in)
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("Tokens(%q) = %q; want %q", in, got, want)
		}
	}
	f("")
	f("   ")
	f("...-+=")
	f("foo", "foo")
	f("foo bar", "foo", "bar")
	f("  x  ", "x")
	f("a.b-c_d", "a", "b", "c_d")
	f("Error: code=500", "Error", "code", "500")
	f("GET /api/v1/logs?limit=10", "GET", "api", "v1", "logs", "limit", "10")
	f("café au lait", "café", "au", "lait")
	f("日本語テキスト", "日本語テキスト")
	f("a\xffb \xfe", "a\xffb", "\xfe")
	f("tab\tnew\nline", "tab", "new", "line")
	f("10.0.0.1:5432", "10", "0", "0", "1", "5432")
}

func TestNextToken(t *testing.T) {
	f := func(s string, i, wantStart, wantEnd int) {
		t.Helper()
		if start, end := NextToken(s, i); start != wantStart || end != wantEnd {
			t.Errorf("NextToken(%q, %d) = %d, %d; want %d, %d", s, i, start, end, wantStart, wantEnd)
		}
		if start, end := NextToken([]byte(s), i); start != wantStart || end != wantEnd {
			t.Errorf("NextToken([]byte(%q), %d) = %d, %d; want %d, %d", s, i, start, end, wantStart, wantEnd)
		}
	}
	f("", 0, 0, 0)
	f("ab cd", 0, 0, 2)
	f("ab cd", 1, 1, 2)
	f("ab cd", 2, 3, 5)
	f("ab cd", 5, 5, 5)
	f(" .", 0, 2, 2)
}

func TestAppendFolded(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(AppendFolded([]byte("x:"), in)); got != "x:"+want {
			t.Errorf("AppendFolded(%q) = %q; want %q", in, got, "x:"+want)
		}
	}
	f("", "")
	f("Hello_World09", "hello_world09")
	f("ÉCOLE", "École")
	f("\xff@[`{", "\xff@[`{")
}

func TestIsTokenByte(t *testing.T) {
	for c := range 256 {
		want := c == '_' || c >= 0x80 ||
			strings.ContainsRune("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", rune(c))
		if got := IsTokenByte(byte(c)); got != want {
			t.Errorf("IsTokenByte(%#x) = %v; want %v", c, got, want)
		}
	}
}

// benchLine is a typical structured container log line.
const benchLine = `2026-11-21T12:00:00.123Z level=error caller=payments/charge.go:142 ` +
	`msg="charge failed" order_id=8d1f0c2e-5b7a-4c1e-9f3d-2a6b8c0d4e5f ` +
	`err="dial tcp 10.12.3.4:5432: connect: connection refused" attempt=3 latency_ms=1203.5`

func BenchmarkTokens(b *testing.B) {
	line := []byte(benchLine)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	n := 0
	for b.Loop() {
		for i := 0; ; {
			start, end := NextToken(line, i)
			if start == end {
				break
			}
			n++
			i = end
		}
	}
	if n == 0 {
		b.Fatal("no tokens")
	}
}

func BenchmarkTokensSlice(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if len(Tokens(benchLine)) == 0 {
			b.Fatal("no tokens")
		}
	}
}
