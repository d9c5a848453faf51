package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apps"
	"github.com/kubelog/kubelog/internal/archive"
)

// concretePath turns a route pattern into a request method and path.
func concretePath(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x1")
	return method, path
}

// call serves one request in-process, so that a handler's panic fails the
// test instead of being recovered by net/http.
func (e *env) call(token, method, target string) *httptest.ResponseRecorder {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, target, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[token])
	rec := httptest.NewRecorder()
	e.api.Handler().ServeHTTP(rec, req)
	return rec
}

func TestStrictRoutesRefuseUnknownParameters(t *testing.T) {
	e := newEnv(t, noLimits())
	n := 0
	for _, rt := range e.api.table {
		if !rt.strict {
			continue
		}
		n++
		method, path := concretePath(rt.pattern)
		rec := e.call("admin", method, path+"?zz_unknown=1")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `zz_unknown`) {
			t.Errorf("%s: got %d %s, want a 400 naming zz_unknown", rt.pattern, rec.Code, rec.Body)
		}
	}
	if n < 60 {
		t.Fatalf("only %d strict routes", n)
	}
}

// Every handler reads only the parameters its route declares: params.Get
// panics otherwise. Each route is called bare and with every declared
// parameter given a bad value.
func TestRoutesReadOnlyDeclaredParameters(t *testing.T) {
	e := newEnv(t, noLimits())
	coll := withClusters(t, e)
	acfg := archive.DefaultConfig()
	acfg.Keys = testKeys(t)
	arch, err := archive.NewManager(acfg, e.st, e.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(arch.Close)
	e.api.archive = arch
	signer, err := apps.NewSigner(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if e.api.apps, err = apps.New(apps.DefaultConfig(), apps.Deps{Clusters: coll, Query: e.api.query, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	for _, rt := range e.api.table {
		if !rt.strict {
			continue
		}
		method, path := concretePath(rt.pattern)
		targets := []string{path}
		for _, p := range rt.params {
			targets = append(targets, path+"?"+p+"=%00bad")
		}
		for _, target := range targets {
			if rec := e.call("admin", method, target); rec.Code == http.StatusInternalServerError {
				t.Errorf("%s %s: %d %s", method, target, rec.Code, rec.Body)
			}
		}
	}
}

func TestMalformedAndRepeatedQueryStrings(t *testing.T) {
	e := newEnv(t, noLimits())
	for _, c := range []struct{ target, want string }{
		{"/api/v1/logs?namespace=nonexistent;x&limit=1", "invalid semicolon"},
		{"/api/v1/logs?namespace=%zz", "invalid URL escape"},
		{"/api/v1/logs?namespace=a&namespace=b", "namespace: given 2 times"},
		{"/api/v1/logs?search=" + strings.Repeat("a", maxParamBytes+1), "search: 8193 bytes"},
		{"/api/v1/logs?pod=%ff", "pod: not valid UTF-8"},
		{"/api/v1/logs?" + strings.Repeat("a=1&", maxParams), "more than 256 parameters"},
		{"/loki/api/v1/labels?start=1;x", "invalid semicolon"},
		{"/v2/apps?x=1", `unknown query parameter \"x\"`},
	} {
		rec := e.call("admin", http.MethodGet, c.target)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%.80s: got %d %s, want 400 with %q", c.target, rec.Code, rec.Body, c.want)
		}
	}
	// Loki's endpoints keep Loki's leniency with unknown parameters.
	if rec := e.call("admin", http.MethodGet, "/loki/api/v1/labels?unknown=1"); rec.Code != http.StatusOK {
		t.Errorf("loki labels with an unknown parameter: %d %s", rec.Code, rec.Body)
	}
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t, noLimits())
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPost, "/api/v1/logs/namespaces", "GET, HEAD"},
		{http.MethodDelete, "/api/v1/logs", "GET, HEAD"},
		{http.MethodPatch, "/api/v1/logs/tokens", "GET, HEAD, POST, DELETE"},
		{http.MethodPost, "/v2/apps", "GET, HEAD"},
	} {
		rec := e.call("admin", c.method, c.path)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.path, rec.Code, rec.Header().Get("Allow"), c.allow)
		}
		if !strings.Contains(rec.Body.String(), `"method_not_allowed"`) {
			t.Errorf("%s %s: body %s", c.method, c.path, rec.Body)
		}
	}
	if rec := e.call("admin", http.MethodGet, "/api/v1/logs/nowhere"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown path: %d", rec.Code)
	}
}

// Handlers of kubelog's own surfaces read the query string through
// queryOf, which the middleware has checked; only the Loki-compatible
// handlers parse it themselves, leniently as Loki does.
func TestHandlersReadParsedParameters(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	raw := regexp.MustCompile(`URL\.Query\(\)|\.FormValue\(|\.ParseForm\(|RawQuery`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "loki") || f == "params.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := raw.FindIndex(b); loc != nil {
			t.Errorf("%s reads the raw query string (%s); use queryOf(r)", f, b[loc[0]:loc[1]])
		}
	}
}

// TestStorageInfoHidesTheServerFromTenants checks that the data dir's path
// and the totals of every tenant are shown to admin tokens only.
func TestStorageInfoHidesTheServerFromTenants(t *testing.T) {
	e := newEnv(t, noLimits())
	for _, c := range []struct {
		token string
		shown bool
	}{{"admin", true}, {"a-read", false}} {
		code, b, _ := e.do(c.token, http.MethodGet, "/api/v1/logs/storage/info", nil)
		if code != http.StatusOK || strings.Contains(string(b), `"path"`) != c.shown || strings.Contains(string(b), `"disk"`) != c.shown {
			t.Errorf("%s: %d %s", c.token, code, b)
		}
	}
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"", "namespace=a", "namespace=a;x", "a=1&a=2", "%zz", "pod=%ff", "limit=5&cursor=", "&&&", "=x"} {
		f.Add(s)
	}
	rt := route{pattern: "GET /x", strict: true, params: []string{"namespace", "pod", "limit", "cursor"}}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.URL.RawQuery = raw
		p, err := parseParams(r, rt)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("%q: %v is not a 400", raw, err)
			}
			return
		}
		for name, vs := range p.vals {
			if !slices.Contains(rt.params, name) || len(vs) != 1 || len(vs[0]) > maxParamBytes {
				t.Fatalf("%q: accepted %s=%q", raw, name, vs)
			}
		}
	})
}
