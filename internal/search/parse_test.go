package search

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// parseCases calls f with a query and its canonical String. TestParse checks
// them, and TestRoundTrip and FuzzParse use the queries.
func parseCases(f func(in, want string)) {
	// Words, implicit and explicit operators, precedence.
	f("error", "error")
	f("  error \t", "error")
	f("a b", "a AND b")
	f("a AND b", "a AND b")
	f("a OR b", "a OR b")
	f("a b OR c", "a AND b OR c")
	f("a OR b c", "a OR b AND c")
	f("a OR b AND c OR d", "a OR b AND c OR d")
	f("(a OR b) c", "(a OR b) AND c")
	f("a (b OR c) d", "a AND (b OR c) AND d")
	f("a (b c)", "a AND b AND c")
	f("(a b) (c d)", "a AND b AND c AND d")
	f("a OR (b OR c)", "a OR b OR c")
	f("(a)", "a")
	f("((a))", "a")
	f("a\tb\nc\rd", "a AND b AND c AND d")
	f("foo(bar)", "foo AND bar")
	f("(a)OR(b)", "a OR b")
	f("and or not", "and AND or AND not")
	f("Not AnD", "Not AND AnD")
	f("", "")
	f(" \t\n ", "")

	// Negation.
	f("NOT a", "NOT a")
	f("-a", "NOT a")
	f("--a", "NOT NOT a")
	f("NOT -a", "NOT NOT a")
	f("NOT a b", "NOT a AND b")
	f("a -b", "a AND NOT b")
	f("-(a b)", "NOT (a AND b)")
	f("NOT (a OR b)", "NOT (a OR b)")
	f("NOT(a)", "NOT a")
	f("a AND NOT b OR c", "a AND NOT b OR c")
	f("-level:info", "NOT level:info")
	f(`-"a b"`, `NOT "a b"`)
	f("a-b", `"a-b"`)
	f("a- b", `"a-" AND b`)

	// Bare words that are not one token become phrases.
	f("10.0.0.1", `"10.0.0.1"`)
	f("12:30:00", `"12:30:00"`)
	f(`user="bob"`, `"user=\"bob\""`)
	f(`a"b`, `"a\"b"`)
	f("a*b", `"a*b"`)
	f(":x", `":x"`)
	f("...", `"..."`)
	f("café", "café")
	f("日本語", "日本語")
	f("\xff\xfe", "\xff\xfe")
	f("error_code", "error_code")

	// Phrases.
	f(`"foo bar"`, `"foo bar"`)
	f(`"say \"hi\""`, `"say \"hi\""`)
	f(`"back\\slash"`, `"back\\slash"`)
	f(`"C:\tmp\"`+`"`, `"C:\\tmp\""`)
	f(`"AND"`, `"AND"`)
	f(`"timeout"`, `"timeout"`)
	f(`" "`, `" "`)
	f(`"a"(b)`, `"a" AND b`)
	f(`"a" OR "b"`, `"a" OR "b"`)
	f("\"line\nbreak\"", "\"line\nbreak\"")

	// Fields.
	f("level:error", "level:error")
	f("namespace:payments pod:api", "namespace:payments AND pod:api")
	f(`level:"a b"`, `level:"a b"`)
	f(`app:""`, `app:""`)
	f(`app:"(x)"`, `app:"(x)"`)
	f(`app:"x"`, "app:x")
	f(`app:"*"`, `app:"*"`)
	f(`app:"/x"`, `app:"/x"`)
	f("a:b:c", "a:b:c")
	f(`a:b"c`, `a:b"c`)
	f("a:-1", "a:-1")
	f("k8s.io_x:v", "k8s.io_x:v")
	f("_x:v", "_x:v")
	f("AND:x", "AND:x")
	f("msg:hello", "msg:hello")
	f("(level:error)", "level:error")
	f("12a:b", `"12a:b"`)

	// Prefixes.
	f("pod:api-*", "pod:api-*")
	f("pod:*", "pod:*")
	f(`pod:"api server"*`, `pod:"api server"*`)
	f(`pod:"api"*`, "pod:api*")
	f("pod:a**", "pod:a**")
	f(`pod:""*`, "pod:*")
	f(`pod:"/x"*`, `pod:"/x"*`)

	// Regexes.
	f(`pod:/^api-\d+$/`, `pod:/^api-\d+$/`)
	f(`msg:/a\/b/`, `msg:/a\/b/`)
	f(`msg:/a\\/`, `msg:/a\\/`)
	f(`msg:/\\\//`, `msg:/\\\//`)
	f(`x:/a b (c)/`, `x:/a b (c)/`)
	f(`x:/(?i)err/ y`, `x:/(?i)err/ AND y`)
	f(`x:/"/`, `x:/"/`)
}

func TestParse(t *testing.T) {
	parseCases(func(in, want string) {
		t.Helper()
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): unexpected error: %v", in, err)
			return
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String() = %q; want %q", in, got, want)
		}
	})
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "   ", "\n\t"} {
		e, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if _, ok := e.(MatchAll); !ok {
			t.Errorf("Parse(%q) = %T; want MatchAll", in, e)
		}
	}
}

func TestParseNodes(t *testing.T) {
	// The node types the server translates, spelled out for a few queries.
	f := func(in string, want Expr) {
		t.Helper()
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if !equalExpr(got, want) {
			t.Errorf("Parse(%q) = %#v; want %#v", in, got, want)
		}
	}
	f("a", Word{Text: "a"})
	f("a.b", Phrase{Text: "a.b"})
	f(`"a"`, Phrase{Text: "a"})
	f("a b", And{Terms: []Expr{Word{Text: "a"}, Word{Text: "b"}}})
	f("a OR b", Or{Terms: []Expr{Word{Text: "a"}, Word{Text: "b"}}})
	f("-a", Not{Expr: Word{Text: "a"}})
	f("x:y", Field{Name: "x", Value: "y"})
	f("x:y*", FieldPrefix{Name: "x", Prefix: "y"})
	f("x:*", FieldPrefix{Name: "x"})
	f("a (b OR c)", And{Terms: []Expr{Word{Text: "a"}, Or{Terms: []Expr{Word{Text: "b"}, Word{Text: "c"}}}}})
	f("x:/y/", FieldRegex{Name: "x", Re: mustCompile(t, "y")})
	f(`x:/a\/b/`, FieldRegex{Name: "x", Re: mustCompile(t, "a/b")})
}

// errorCases calls f with a malformed query and its error text.
func errorCases(f func(in, want string)) {
	f("(a OR b", `at 7: expected ")" to close "(" at 0`)
	f("x AND (a OR (b c)", `at 17: expected ")" to close "(" at 6`)
	f("a)", `at 1: unexpected ")" without a matching "("`)
	f("(a))", `at 3: unexpected ")" without a matching "("`)
	f(")", `at 0: expected a term, found ")"`)
	f("()", `at 1: expected a term after "(", found ")"`)
	f("a OR", `at 4: expected a term after "OR", found end of query`)
	f("a OR OR b", `at 5: expected a term after "OR", found "OR"`)
	f("OR a", `at 0: expected a term, found "OR"`)
	f("AND", `at 0: expected a term, found "AND"`)
	f("a AND", `at 5: expected a term after "AND", found end of query`)
	f("a AND OR b", `at 6: expected a term after "AND", found "OR"`)
	f("NOT", `at 3: expected a term after "NOT", found end of query`)
	f("a NOT", `at 5: expected a term after "NOT", found end of query`)
	f("NOT )", `at 4: expected a term after "NOT", found ")"`)
	f("-", `at 0: expected a term right after "-"; to search for "-", quote it`)
	f("a - b", `at 2: expected a term right after "-"; to search for "-", quote it`)
	f("-)", `at 1: expected a term after "-", found ")"`)
	f("-OR", `at 1: expected a term after "-", found "OR"`)
	f(`"abc`, `at 4: expected a closing quote for the phrase started at 0`)
	f(`a "b\"`, `at 6: expected a closing quote for the phrase started at 2`)
	f(`""`, `at 0: empty phrase`)
	f(`"a"b`, `at 3: expected a space, "(" or ")" after the closing quote, found "b"`)
	f(`"a""b"`, `at 3: expected a space, "(" or ")" after the closing quote, found "\"b\""`)
	f(`"a"`+strings.Repeat("x", 40), `at 3: expected a space, "(" or ")" after the closing quote, found "`+strings.Repeat("x", 32)+`"...`)
	f(`"a"*`, `at 3: expected a space, "(" or ")" after the closing quote, found "*"`)
	f("level:", `at 6: expected a value after "level:"; to search for the text, quote it: "level:"`)
	f("Error: timeout", `at 6: expected a value after "Error:"; to search for the text, quote it: "Error:"`)
	f("(level:)", `at 7: expected a value after "level:"; to search for the text, quote it: "level:"`)
	f(`app:"x`, `at 6: expected a closing quote for the phrase started at 4`)
	f(`app:"x"y`, `at 7: expected a space, "(" or ")" after the closing quote, found "y"`)
	f(`app:"x"*y`, `at 8: expected a space, "(" or ")" after "*", found "y"`)
	f("pod:/abc", `at 8: expected "/" to close the regex started at 4`)
	f(`pod:/a\/`, `at 8: expected "/" to close the regex started at 4`)
	f("pod:/a(/", "at 5: invalid regex: missing closing ): `a(`")
	f("pod:/a**/", "at 5: invalid regex: invalid nested repetition operator: `**`")
	f("pod:/x{1001}/", "at 5: invalid regex: invalid repeat count: `{1001}`")
	f("pod://", `at 4: empty regex after "pod:"; to search for the text, quote it`)
	f("http://example.com", `at 5: empty regex after "http:"; to search for the text, quote it`)
	f("pod:/a/b", `at 7: expected a space, "(" or ")" after the regex, found "b"`)
	f("foo*", `at 3: "*" is a wildcard only at the end of a field value (field:prefix*); to search for "foo*" literally, quote it`)
	f("*", `at 0: "*" is a wildcard only at the end of a field value (field:prefix*); to search for "*" literally, quote it`)
	f("a (b", `at 4: expected ")" to close "(" at 2`)
	f(strings.Repeat("(", 101)+"a"+strings.Repeat(")", 101), "at 100: expression nested too deeply (more than 100 parentheses and negations)")
	f(strings.Repeat("-", 101)+"a", "at 100: expression nested too deeply (more than 100 parentheses and negations)")
}

func TestParseErrors(t *testing.T) {
	errorCases(func(in, want string) {
		t.Helper()
		e, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %q; want error %q", in, e, want)
			return
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error %T; want *ParseError", in, err)
			return
		}
		if got := err.Error(); got != want {
			t.Errorf("Parse(%q) error:\ngot  %s\nwant %s", in, got, want)
		}
	})
}

func TestParseMaxDepth(t *testing.T) {
	in := strings.Repeat("(", maxDepth) + "a" + strings.Repeat(")", maxDepth)
	if _, err := Parse(in); err != nil {
		t.Errorf("Parse(%d nested parentheses): %v; want success", maxDepth, err)
	}
}

// TestRoundTrip checks that the canonical form parses back to itself.
func TestRoundTrip(t *testing.T) {
	parseCases(func(in, _ string) {
		t.Helper()
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			return
		}
		s := e.String()
		e2, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q) (from %q): %v", s, in, err)
			return
		}
		if !equalExpr(e, e2) {
			t.Errorf("Parse(%q) = %#v; want %#v (from %q)", s, e2, e, in)
		}
		if got := e2.String(); got != s {
			t.Errorf("Parse(%q).String() = %q; want %q", s, got, s)
		}
	})
}

// TestStringHandBuilt covers trees Parse does not produce.
func TestStringHandBuilt(t *testing.T) {
	f := func(e Expr, want string) {
		t.Helper()
		if got := e.String(); got != want {
			t.Errorf("%#v.String() = %q; want %q", e, got, want)
		}
	}
	a, b, c := Word{Text: "a"}, Word{Text: "b"}, Word{Text: "c"}
	f(And{Terms: []Expr{a, And{Terms: []Expr{b, c}}}}, "a AND (b AND c)")
	f(Or{Terms: []Expr{Or{Terms: []Expr{a, b}}, c}}, "(a OR b) OR c")
	f(Not{Expr: And{Terms: []Expr{a, b}}}, "NOT (a AND b)")
	f(Word{Text: "AND"}, `"AND"`)
	f(Word{Text: "a b"}, `"a b"`)
	f(Field{Name: "x", Value: "a*"}, `x:"a*"`)
	f(Field{Name: "x", Value: " "}, `x:" "`)
	f(FieldPrefix{Name: "x", Prefix: "a b"}, `x:"a b"*`)
	f(FieldRegex{Name: "x", Re: mustCompile(t, `a\/b`)}, `x:/a\/b/`)
	f(MatchAll{}, "")
}

// equalExpr reports whether two trees are the same, comparing regexes by
// source.
func equalExpr(a, b Expr) bool {
	switch a := a.(type) {
	case And:
		b, ok := b.(And)
		return ok && equalList(a.Terms, b.Terms)
	case Or:
		b, ok := b.(Or)
		return ok && equalList(a.Terms, b.Terms)
	case Not:
		b, ok := b.(Not)
		return ok && equalExpr(a.Expr, b.Expr)
	case FieldRegex:
		b, ok := b.(FieldRegex)
		return ok && a.Name == b.Name && a.Re.String() == b.Re.String()
	}
	return a == b
}

func mustCompile(t *testing.T, re string) *regexp.Regexp {
	t.Helper()
	r, err := regexp.Compile(re)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func equalList(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalExpr(a[i], b[i]) {
			return false
		}
	}
	return true
}
