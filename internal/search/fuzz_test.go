package search

import (
	"errors"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are
// *ParseErrors inside the query, and that a parsed expression's String
// parses back to the same tree, matching the same lines. It also checks that
// every token RequiredTokens reports is in each line the expression matches.
func FuzzParse(f *testing.F) {
	const line = "request Timeout after 5s: dial tcp 10.0.0.1:5432"
	add := func(in, _ string) { f.Add(in, line) }
	parseCases(add)
	errorCases(add)
	requiredCases(add)
	matchCases(func(query, line string, _ bool) { f.Add(query, line) })

	f.Fuzz(func(t *testing.T, query, line string) {
		e, err := Parse(query)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T %v; want *ParseError", query, err, err)
			}
			if pe.Pos < 0 || pe.Pos > len(query) {
				t.Fatalf("Parse(%q) error %v: position outside the query", query, err)
			}
			return
		}
		s := e.String()
		e2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) (String of Parse(%q)): %v", s, query, err)
		}
		if !equalExpr(e, e2) {
			t.Fatalf("Parse(%q) = %#v; want %#v (String of Parse(%q))", s, e2, e, query)
		}
		if s2 := e2.String(); s2 != s {
			t.Fatalf("Parse(%q).String() = %q; want %q", s, s2, s)
		}

		r := testRecord{line: []byte(line), fields: sampleFields}
		match := e.Match(r)
		if match2 := e2.Match(r); match2 != match {
			t.Fatalf("Parse(%q).Match(%q) = %v but Parse(%q).Match = %v", query, line, match, s, match2)
		}
		Fields(e)
		if !match {
			return
		}
		var have []string
		for _, tok := range Tokens(line) {
			have = append(have, string(AppendFolded(nil, tok)))
		}
		for _, tok := range RequiredTokens(e) {
			if !slices.Contains(have, tok) {
				t.Fatalf("Parse(%q) matches %q, which lacks required token %q", query, line, tok)
			}
		}
	})
}

// FuzzContainsPhrase checks the candidate search against a plain scan.
func FuzzContainsPhrase(f *testing.F) {
	f.Add("request timeout after 5s", "timeout")
	f.Add("xAa aA", "aa")
	f.Add("GET example.com/x", ".com")
	f.Fuzz(func(t *testing.T, line, p string) {
		if got, want := containsPhrase([]byte(line), p), containsPhraseSlow(line, p); got != want {
			t.Fatalf("containsPhrase(%q, %q) = %v; want %v", line, p, got, want)
		}
	})
}
