package search

import (
	"testing"
)

// testRecord is a Record over a line and a map of fields.
type testRecord struct {
	line   []byte
	fields map[string]string
}

func (r testRecord) Line() []byte { return r.line }

func (r testRecord) Field(name string) (string, bool) {
	v, ok := r.fields[name]
	return v, ok
}

var _ Record = testRecord{}

// sampleFields are the labels and metadata of every record in matchCases.
var sampleFields = map[string]string{
	"cluster":   "prod-eu",
	"namespace": "payments",
	"pod":       "api-7d9f8-xk2lq",
	"container": "api",
	"app":       "checkout",
	"level":     "ERROR",
	"stream":    "stderr",
	"empty":     "",
}

// matchCases calls f with a query, a line and whether the query matches the
// line with sampleFields.
func matchCases(f func(query, line string, want bool)) {
	// Words match whole tokens, ignoring ASCII case.
	f("timeout", "request timeout after 5s", true)
	f("timeout", "request Timeout after 5s", true)
	f("TIMEOUT", "request timeout after 5s", true)
	f("timeout", "request timeouts after 5s", false)
	f("timeout", "request_timeout after 5s", false)
	f("time", "timeout", false)
	f("out", "timeout", false)
	f("timeout", "timeout", true)
	f("timeout", "", false)
	f("5s", "request timeout after 5s", true)
	f("5", "error_code=5", true)
	f("error", "error_code=5", false)
	f("error_code", "error_code=5", true)
	f("café", "Café au lait", true)
	f("CAFÉ", "café", false)
	f("日本", "こんにちは 日本", true)
	f("日本", "日本語", false)
	f("and", "this and that", true)
	f("a", "b a", true)
	f("aa", "a aa", true)
	f("aa", "aaa a", false)

	// Phrases and non-token words.
	f(`"timeout after"`, "request timeout after 5s", true)
	f(`"Timeout AFTER"`, "request timeout after 5s", true)
	f(`"timeout after"`, "request timeout  after", false)
	f(`"out after"`, "request timeout after", false)
	f(`"timeout aft"`, "request timeout after", false)
	f(`"connection refused"`, "dial tcp 10.0.0.1:5432: connect: Connection Refused", true)
	f(`".com"`, "GET example.com/x", true)
	f(`"example."`, "GET example.com/x", true)
	f(`"x.c"`, "GET example.com/x", false)
	f("10.0.0.1", "dial tcp 10.0.0.1:5432", true)
	f("10.0.0.1", "dial tcp 10.0.0.12:5432", false)
	f("10.0.0.1", "dial tcp 110.0.0.1:5432", false)
	f(`user="bob"`, `level=info user="bob" msg=x`, true)
	f(`user="bob"`, `level=info user="bobby"`, false)
	f(`user="bob"`, `xuser="bob"`, false)
	f(`"say \"hi\""`, `she said: Say "Hi"!`, true)
	f(`"C:\tmp"`, `open C:\tmp\x`, true)
	f(`"a"`, "a", true)
	f(`"a b c d"`, "a b c", false)
	f("a-b", "x a-b y", true)
	f("a-b", "x a-bc", false)
	f("a-b", "x a-b-c", true)

	// Operators.
	f("a b", "a b", true)
	f("a b", "b", false)
	f("a AND b", "b x a", true)
	f("a OR b", "b", true)
	f("a OR b", "c", false)
	f("-a", "b", true)
	f("-a", "a", false)
	f("NOT a b", "b", true)
	f("NOT (a b)", "a", true)
	f("NOT (a b)", "a b", false)
	f("(a OR b) c", "b c", true)
	f("(a OR b) c", "a b", false)
	f("a b OR c", "c", true)

	// Fields.
	f("level:error", "x", true)
	f("level:Error", "x", true)
	f("level:warn", "x", false)
	f("level:err", "x", false)
	f("namespace:payments", "x", true)
	f("namespace:Payments", "x", false)
	f("namespace:pay", "x", false)
	f(`namespace:"payments"`, "x", true)
	f("missing:x", "x", false)
	f(`empty:""`, "x", true)
	f(`missing:""`, "x", false)
	f("-namespace:payments", "x", false)
	f("namespace:payments level:error timeout", "upstream timeout", true)
	f("namespace:payments level:error timeout", "upstream ok", false)
	f("namespace:payments OR namespace:orders", "x", true)
	f("message:hello", "hello", true)
	f("message:hello", "hello world", false)
	f(`msg:"hello world"`, "hello world", true)
	f("msg:Hello", "hello", false)

	// Prefixes.
	f("pod:api-*", "x", true)
	f("pod:web-*", "x", false)
	f("pod:*", "x", true)
	f("empty:*", "x", true)
	f("missing:*", "x", false)
	f("-missing:*", "x", true)
	f("level:err*", "x", true)
	f("level:ERR*", "x", true)
	f("namespace:PAY*", "x", false)
	f(`pod:"api-7d9f8-xk2lq"*`, "x", true)
	f(`pod:"api-7d9f8-xk2lqq"*`, "x", false)
	f("msg:hel*", "hello", true)
	f("msg:hel*", "he", false)
	f("msg:*", "", true)

	// Regexes.
	f(`pod:/^api-[0-9a-f]+-/`, "x", true)
	f(`pod:/^web-/`, "x", false)
	f(`pod:/xk2/`, "x", true)
	f(`level:/^error$/`, "x", false)
	f(`level:/(?i)^error$/`, "x", true)
	f(`missing:/.*/`, "x", false)
	f(`msg:/time(out)?/`, "request timeout", true)
	f(`message:/^GET \//`, "GET /healthz", true)
	f(`message:/^GET \//`, "POST /healthz", false)

	// The empty query.
	f("", "anything", true)
	f("", "", true)
}

func TestMatch(t *testing.T) {
	matchCases(func(query, line string, want bool) {
		t.Helper()
		e, err := Parse(query)
		if err != nil {
			t.Errorf("Parse(%q): %v", query, err)
			return
		}
		r := testRecord{line: []byte(line), fields: sampleFields}
		if got := e.Match(r); got != want {
			t.Errorf("Parse(%q).Match(%q) = %v; want %v", query, line, got, want)
		}
	})
}

// TestContainsPhrase checks the candidate search against a plain scan.
func TestContainsPhrase(t *testing.T) {
	f := func(line, p string) {
		t.Helper()
		if got, want := containsPhrase([]byte(line), p), containsPhraseSlow(line, p); got != want {
			t.Errorf("containsPhrase(%q, %q) = %v; want %v", line, p, got, want)
		}
	}
	f("", "a")
	f("a", "")
	f("a", "a")
	f("A", "a")
	f("a", "A")
	f("ab", "a")
	f("ba", "a")
	f("b a", "a")
	f("aAaA a", "a")
	f("aAaA a", "aa")
	f("xAa aA", "aa")
	f("1 11 111", "11")
	f("...", "..")
	f(".a.", ".a")
	f("a.", "a.")
	f("a.b", "a.")
	f("ab.", "b.")
	f("Ab A", "a")
	f("end a", "a")
	f("a end", "a")
	f("xx yy", "x y")
	f("x y", "x y")
	f("X Y", "x y")
	f("\xff a", "\xff")
	f("é a", "é")
	f("éa", "a")
}

// containsPhraseSlow is containsPhrase written as directly as possible.
func containsPhraseSlow(line, p string) bool {
	if p == "" {
		return true
	}
	for i := 0; i+len(p) <= len(line); i++ {
		end := i + len(p)
		if !equalFold(line[i:end], p) {
			continue
		}
		if IsTokenByte(p[0]) && i > 0 && IsTokenByte(line[i-1]) {
			continue
		}
		if IsTokenByte(p[len(p)-1]) && end < len(line) && IsTokenByte(line[end]) {
			continue
		}
		return true
	}
	return false
}

// benchLines are typical container log lines: logfmt, JSON, plain text.
var benchLines = []string{
	benchLine,
	`{"ts":"2026-11-21T12:00:01.5Z","level":"info","msg":"request served","method":"GET","path":"/api/v1/orders/42","status":200,"duration_ms":12}`,
	`I1121 12:00:02.000001       1 controller.go:116] Successfully synced "payments/api-7d9f8"`,
	`10.12.3.4 - - [21/Nov/2026:12:00:03 +0000] "POST /charge HTTP/1.1" 502 173 "-" "Go-http-client/1.1"`,
	`WARN  [pool-3-thread-7] c.e.p.RetryingClient: retrying call to ledger-service after Timeout (attempt 2 of 5)`,
	`panic: runtime error: invalid memory address or nil pointer dereference`,
}

func BenchmarkMatch(b *testing.B) {
	recs := make([]Record, len(benchLines)) // boxed once, outside the loop
	size := 0
	for i, l := range benchLines {
		recs[i] = testRecord{line: []byte(l), fields: sampleFields}
		size += len(l)
	}
	for _, query := range []string{
		"timeout",
		`"connection refused"`,
		"10.12.3.4",
		"level:error timeout",
		"namespace:payments (timeout OR refused) -debug",
		"pod:api-* nonexistent",
		`msg:/Timeout|refused/`,
	} {
		e, err := Parse(query)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(query, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, r := range recs {
					e.Match(r)
				}
			}
		})
	}
}
