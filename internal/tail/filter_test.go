package tail

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/search"
)

func TestFilterMatch(t *testing.T) {
	labels := logmodel.FromPairs("namespace", "payments", "pod", "api-7f9", "container", "app", "app", "checkout")
	md := logmodel.FromPairs("level", "error", "stream", "stderr")
	line := []byte("Timeout talking to db-1 after 30s")
	f := func(filter string, want bool) {
		t.Helper()
		flt, err := ParseFilter(filter)
		if err != nil {
			t.Fatalf("%q: %v", filter, err)
		}
		if got := flt.Match(labels, md, line); got != want {
			t.Fatalf("%q: got %v; want %v", filter, got, want)
		}
	}
	f("", true)
	f("level=error", true)
	f("level=ERROR", true)
	f("level!=debug", true)
	f(`level=~"warn|error"`, true)
	f(`level=~"warn"`, false)
	f("namespace=payments", true)
	f("namespace=payment", false)
	f(`pod=~"api-.*"`, true)
	f(`pod=~"api"`, false)
	f("container=app", true)
	f(`"timeout"`, true)
	f(`"TIMEOUT TALKING"`, true)
	f(`"refused"`, false)
	f(`msg=~"db-\\d+"`, true)
	f(`msg!~"db"`, false)
	f("level=error and namespace=payments", true)
	f("level=error namespace=payments", true)
	f("level=info or namespace=payments", true)
	f("not level=info", true)
	f("NOT (level=error OR stream=stdout)", false)
	f(`(level=warn or level=error) and not "refused"`, true)
	f(`node=""`, true)
	f(`node!=""`, false)
	f("restart=~\"\"", true)
}

func TestFilterErrors(t *testing.T) {
	f := func(filter string, pos int, mention string) {
		t.Helper()
		_, err := ParseFilter(filter)
		pe, ok := err.(*ParseError)
		if !ok || pe.Pos != pos || !strings.Contains(pe.Msg, mention) {
			t.Fatalf("%q: got %v; want error at %d mentioning %q", filter, err, pos, mention)
		}
	}
	f("level", 5, "expected =")
	f("level=", 6, "expected a value")
	f("(level=error", 12, `")"`)
	f("level=error)", 11, `")"`)
	f(`pod=~"(["`, 5, "regexp")
	f(`"unterminated`, 0, "unterminated")
	f("level=error or", 14, "at the end")
	f("= x", 0, "unexpected")
	f(strings.Repeat("(", 200)+"a=b"+strings.Repeat(")", 200), 101, "nested")
}

func TestFilterEqualities(t *testing.T) {
	flt, err := ParseFilter(`namespace=payments and level=error and pod=~"x.*" and (app=a or app=b) container=app`)
	if err != nil {
		t.Fatal(err)
	}
	got := flt.Equalities()
	if len(got) != 2 || got["namespace"] != "payments" || got["container"] != "app" {
		t.Fatalf("got %v", got)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "level=error", `level=~"warn|error" and not "timeout"`, "(a=b or c!=d) e=~f", "msg!~`x`", "not not x=y", `"\x00"`} {
		f.Add(s, "a line")
	}
	f.Fuzz(func(t *testing.T, filter, line string) {
		flt, err := ParseFilter(filter)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		_ = flt.Match(logmodel.FromPairs("a", "b"), logmodel.FromPairs("level", "info"), []byte(line))
		_ = flt.Equalities()
	})
}

func FuzzContainsFold(f *testing.F) {
	f.Add("Timeout talking to DB", "db")
	f.Add("aaa", "aa")
	f.Fuzz(func(t *testing.T, s, needle string) {
		lower := bytes.ToLower([]byte(needle))
		want := strings.Contains(asciiLower(s), string(asciiLowerBytes(lower)))
		if got := containsFold([]byte(s), asciiLowerBytes(lower)); got != want {
			t.Fatalf("containsFold(%q, %q) = %v; want %v", s, needle, got, want)
		}
	})
}

func asciiLower(s string) string { return string(asciiLowerBytes([]byte(s))) }

func asciiLowerBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// The tail filter keeps its own grammar rather than the search language's:
// the same text means something else there, and stored sessions hold
// filters written in this one. Each case is a filter whose tail meaning
// differs from its search meaning on the same entry.
func TestFilterIsNotTheSearchLanguage(t *testing.T) {
	labels := logmodel.FromPairs("namespace", "payments", "pod", "api-7f9")
	md := logmodel.FromPairs("level", "error")
	line := []byte("Timeout talking to db-1 after 30s")
	for _, tc := range []struct {
		filter, why  string
		tail, search bool
	}{
		{"level=error", "search has no = operator: the text is a phrase the line lacks", true, false},
		{"level=error and not pod=x", "lower-case and/not are keywords here, words in search", true, false},
		{"node!=n1", "a missing key compares as \"\" here (as LogQL matchers); search's absent field matches nothing", true, false},
		{`"out talk"`, "quoted text is a substring here; a search phrase must start on a token boundary", true, false},
		{`pod=~"api"`, "label regexps are anchored here (as LogQL), unanchored in search", false, true},
	} {
		flt, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if got := flt.Match(labels, md, line); got != tc.tail {
			t.Errorf("%q as a tail filter: got %v; want %v (%s)", tc.filter, got, tc.tail, tc.why)
		}
		expr, err := search.Parse(searchSpelling(tc.filter))
		if err != nil {
			t.Fatalf("%q in search: %v", tc.filter, err)
		}
		rec := searchRecord{labels: labels, md: md, line: line}
		if got := expr.Match(rec); got != tc.search {
			t.Errorf("%q in the search language: got %v; want %v (%s)", tc.filter, got, tc.search, tc.why)
		}
	}
}

// searchSpelling writes a regexp comparison the way the search language
// does (field:/re/); other filters are given as they are.
func searchSpelling(filter string) string {
	if k, re, ok := strings.Cut(filter, `=~"`); ok {
		return k + ":/" + strings.TrimSuffix(re, `"`) + "/"
	}
	return filter
}

// searchRecord lets a search expression see an entry as a tail filter does.
type searchRecord struct {
	labels, md logmodel.Labels
	line       []byte
}

func (r searchRecord) Line() []byte { return r.line }

func (r searchRecord) Field(name string) (string, bool) {
	for _, ls := range []logmodel.Labels{r.labels, r.md} {
		for _, l := range ls {
			if l.Name == name {
				return l.Value, true
			}
		}
	}
	return "", false
}
