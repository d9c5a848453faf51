package security_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
)

// TestQueryStrings is attack 5: a query string that a lenient parser would
// read differently from the server (a ';' separator, which Go's parser
// refuses, so that a handler ignoring the error would drop the filter and
// answer every namespace), an unknown parameter and a repeated one are 400s;
// never 200 with lines.
func TestQueryStrings(t *testing.T) {
	w := shared(t)
	s := w.srv
	const line = "EVIL-OWN-LINE-in-evil-ns"
	if err := s.pushLine(w.evil, map[string]string{"namespace": "evil-ns", "pod": "p", "container": "c"}, time.Now(), line); err != nil {
		t.Fatal(err)
	}
	// Without a namespace filter the line is there: what a dropped filter
	// would answer.
	if r := s.must(t, w.evil, 200, "GET", "/api/v1/logs?limit=1", nil, nil); !r.has(line) {
		t.Fatalf("evil's pushed line is not answered: %s", r)
	}
	logs := func(r reply) int {
		var page apiclient.LogsPage
		_ = json.Unmarshal(r.body, &page)
		return len(page.Logs)
	}
	// A ';' inside the value, escaped, is an ordinary character: no such
	// namespace, no lines.
	if r := s.must(t, w.evil, 200, "GET", "/api/v1/logs?namespace=nonexistent%3Bx&limit=1", nil, nil); logs(r) != 0 {
		t.Fatalf("namespace=nonexistent%%3Bx: got %s; want no lines", r)
	}

	for _, tc := range []struct {
		name, path, mention string
	}{
		{"semicolon", "/api/v1/logs?namespace=nonexistent;x&limit=1", ""},
		{"semicolon-first", "/api/v1/logs?namespace=nonexistent;namespace=evil-ns&limit=1", ""},
		{"semicolon-only", "/api/v1/logs?;&limit=1", ""},
		{"bad-escape", "/api/v1/logs?namespace=nonexistent%zz&limit=1", ""},
		{"unknown", "/api/v1/logs?namespace=a&bogus=1", "bogus"},
		{"unknown-only", "/api/v1/logs?bogus=1", "bogus"},
		{"unknown-empty", "/api/v1/logs?namespace=a&bogus", "bogus"},
		{"unknown-on-listing", "/api/v1/logs/namespaces?tenant=victim", "tenant"},
		{"unknown-on-apps", "/v2/apps?tenant=victim", "tenant"},
		{"repeated", "/api/v1/logs?namespace=nonexistent&namespace=evil-ns&limit=1", "namespace"},
		{"repeated-empty", "/api/v1/logs?namespace=&namespace=nonexistent&limit=1", "namespace"},
		{"repeated-limit", "/api/v1/logs?namespace=evil-ns&limit=1&limit=5000", "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, w.evil, "GET", tc.path, nil)
			if r.code != 400 || r.has(line) || logs(r) != 0 {
				t.Fatalf("GET %s: got %s; want 400 and no lines", tc.path, r)
			}
			if tc.mention != "" && !strings.Contains(r.msg, `"`+tc.mention+`"`) && !strings.Contains(r.msg, tc.mention+":") {
				t.Fatalf("GET %s: message %q does not name %s", tc.path, r.msg, tc.mention)
			}
		})
	}
}
