package search

import (
	"strings"
	"testing"
)

// requiredCases calls f with a query and its required tokens, space-separated.
func requiredCases(f func(query, want string)) {
	f("", "")
	f("a", "a")
	f("a b", "a b")
	f("A a", "a")
	f("Timeout", "timeout")
	f(`"Foo.Bar baz"`, "foo bar baz")
	f("10.0.0.1", "10 0 1")
	f(`"..."`, "")
	f("café", "café")
	f("CAFÉ", "cafÉ")
	f("a OR b", "")
	f("(a b) OR (b c)", "b")
	f("(a b c) OR (c b) OR (b c d)", "b c")
	f("(a b) OR (c d)", "")
	f("(a OR b) c", "c")
	f("NOT a", "")
	f("a -b", "a")
	f("-(a b) c", "c")
	f("level:error a", "a")
	f(`msg:"a b" c`, "c")
	f("msg:/a/", "")
	f("a (b (c d))", "a b c d")
}

func TestRequiredTokens(t *testing.T) {
	requiredCases(func(query, want string) {
		t.Helper()
		e, err := Parse(query)
		if err != nil {
			t.Errorf("Parse(%q): %v", query, err)
			return
		}
		if got := strings.Join(RequiredTokens(e), " "); got != want {
			t.Errorf("RequiredTokens(%q) = %q; want %q", query, got, want)
		}
	})
}

func TestFields(t *testing.T) {
	f := func(query, want string) {
		t.Helper()
		e, err := Parse(query)
		if err != nil {
			t.Errorf("Parse(%q): %v", query, err)
			return
		}
		if got := strings.Join(Fields(e), " "); got != want {
			t.Errorf("Fields(%q) = %q; want %q", query, got, want)
		}
	}
	f("", "")
	f("a b", "")
	f("level:error", "level")
	f("level:error namespace:x -pod:/x/ msg:y level:warn", "level namespace pod")
	f("(app:a* OR node:n) NOT (cluster:c)", "app node cluster")
	f("message:/x/ msg:y", "")
}

func TestRequiredTokensHandBuilt(t *testing.T) {
	f := func(e Expr, want string) {
		t.Helper()
		if got := strings.Join(RequiredTokens(e), " "); got != want {
			t.Errorf("RequiredTokens(%#v) = %q; want %q", e, got, want)
		}
	}
	f(Or{}, "")
	f(And{}, "")
	f(Word{Text: "Foo.bar"}, "foo bar")
	f(Or{Terms: []Expr{Word{Text: "a"}}}, "a")
}
