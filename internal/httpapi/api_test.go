package httpapi

import (
	testingclock "k8s.io/utils/clock/testing"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/tail"
)

// env is an API over a real store and a real SQLite database.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	api    *API
	db     *meta.DB
	st     *store.Store
	clock  *testingclock.FakeClock
	tokens map[string]string // name -> secret
}

func newEnv(t testing.TB, limits auth.Limits) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := meta.Open(ctx, dir+"/kubelog.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hub := tail.NewHub(tail.DefaultHubConfig())
	t.Cleanup(hub.Close)
	scfg := store.DefaultConfig(dir + "/store")
	scfg.OnCommit = hub.OnCommit
	st, err := store.Open(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	authn, err := auth.NewAuthenticator(db, auth.DefaultAuthenticatorConfig())
	if err != nil {
		t.Fatal(err)
	}
	clock := testingclock.NewFakeClock(time.Now())
	table := auth.NewLimitTable(limits)
	lcfg := auth.DefaultLimiterConfig()
	lcfg.Clock = clock
	limiter, err := auth.NewLimiter(table, lcfg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Deps{Store: st, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(DefaultConfig(), Deps{
		Query: q, Meta: db, Auth: authn, Limiter: limiter, Limits: table,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, api: api, db: db, st: st, clock: clock, tokens: map[string]string{}}
	for _, tk := range []struct{ name, tenant, scopes string }{
		{"admin", "default", "admin"},
		{"a-read", "team-a", "read"},
		{"a-write", "team-a", "write"},
		{"a-rw", "team-a", "read,write"},
		{"b-rw", "team-b", "read,write"},
		{"b-manage", "team-b", "manage"},
	} {
		if _, err := db.EnsureTenant(ctx, tk.tenant); err != nil {
			t.Fatal(err)
		}
		sc, err := auth.ParseScopes(tk.scopes)
		if err != nil {
			t.Fatal(err)
		}
		secret, _, err := auth.IssueToken(ctx, db, time.Now(), auth.TokenSpec{Tenant: tk.tenant, Name: tk.name, Scopes: sc})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[tk.name] = secret
	}
	return e
}

func noLimits() auth.Limits {
	l := auth.DefaultLimits()
	l.Requests = auth.RequestRates{}
	l.PushBytesPerSecond, l.PushBurstBytes = 0, 0
	return l
}

// do sends a request as the named token ("" for none) and returns the status
// and body.
func (e *env) do(token, method, path string, body any, hdr ...string) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		secret, ok := e.tokens[token]
		if !ok {
			secret = token
		}
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// pushJSON pushes lines into one stream as Loki JSON.
func (e *env) pushJSON(token string, labels map[string]string, start time.Time, lines ...string) int {
	e.t.Helper()
	var vals [][]string
	for i, l := range lines {
		vals = append(vals, []string{fmt.Sprint(start.Add(time.Duration(i) * time.Millisecond).UnixNano()), l})
	}
	body := map[string]any{"streams": []any{map[string]any{"stream": labels, "values": vals}}}
	code, b, _ := e.do(token, "POST", "/loki/api/v1/push", body, "Content-Type", "application/json")
	if code != http.StatusNoContent {
		e.t.Logf("push: %d %s", code, b)
	}
	return code
}

func (e *env) logs(token, query string) logsResponse {
	e.t.Helper()
	code, b, _ := e.do(token, "GET", "/api/v1/logs?"+query, nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET /api/v1/logs?%s: %d %s", query, code, b)
	}
	var r logsResponse
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func messages(r logsResponse) string {
	var out []string
	for _, l := range r.Logs {
		out = append(out, l.Message)
	}
	return strings.Join(out, "|")
}

func TestRetrievalFiltersAndPaging(t *testing.T) {
	e := newEnv(t, noLimits())
	base := time.Now().Add(-time.Hour)
	e.pushJSON("a-write", map[string]string{"cluster": "c1", "namespace": "pay", "pod": "api-1", "container": "app"}, base,
		"ERROR payment failed for order 7", "INFO payment ok", "WARN slow payment", "level=debug msg=tick")
	e.pushJSON("a-write", map[string]string{"cluster": "c1", "namespace": "web", "pod": "fe-1", "container": "nginx"}, base.Add(time.Second),
		`{"level":"error","msg":"upstream timeout"}`, "GET /index.html 200")

	f := func(query, want string) {
		t.Helper()
		if got := messages(e.logs("a-read", query)); got != want {
			t.Fatalf("%s: got %q; want %q", query, got, want)
		}
	}
	f("namespace=pay&direction=forward", "ERROR payment failed for order 7|INFO payment ok|WARN slow payment|level=debug msg=tick")
	f("namespace=pay", "level=debug msg=tick|WARN slow payment|INFO payment ok|ERROR payment failed for order 7")
	f("level=error&direction=forward", `ERROR payment failed for order 7|{"level":"error","msg":"upstream timeout"}`)
	f("level=warn,debug&direction=forward", "WARN slow payment|level=debug msg=tick")
	f("search=PAYMENT+OK", "INFO payment ok")
	f("regex=^GET+/&container=nginx", "GET /index.html 200")
	f("namespace=pay,web&pod=fe-1", "GET /index.html 200|{\"level\":\"error\",\"msg\":\"upstream timeout\"}")
	f("namespace=none", "")
	f(fmt.Sprintf("start_time=%d&end_time=%d&direction=forward", base.Add(time.Second).UnixNano(), base.Add(time.Second+time.Millisecond).UnixNano()), `{"level":"error","msg":"upstream timeout"}`)
	f("since=2h&namespace=web&limit=1", "GET /index.html 200")

	// Paging follows next_cursor with no repeat and no gap.
	var all []string
	q := "direction=forward&limit=2"
	for i := 0; ; i++ {
		r := e.logs("a-read", q)
		for _, l := range r.Logs {
			all = append(all, l.Message)
			if l.Cursor == "" || l.Labels["namespace"] != l.Namespace {
				t.Fatalf("entry without cursor or labels: %+v", l)
			}
		}
		if !r.HasMore {
			break
		}
		q = "direction=forward&limit=2&cursor=" + r.NextCursor
		if i > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 6 {
		t.Fatalf("paged %d entries; want 6: %v", len(all), all)
	}
}

func TestSearchExpressions(t *testing.T) {
	e := newEnv(t, noLimits())
	base := time.Now().Add(-time.Hour)
	e.pushJSON("a-write", map[string]string{"namespace": "payments", "pod": "p1"}, base,
		"connection refused by db-1", "connection established", "timeout after 30s", "disk full")
	e.pushJSON("a-write", map[string]string{"namespace": "web", "pod": "w1"}, base.Add(time.Second), "ERROR connection reset")
	f := func(query, want string) {
		t.Helper()
		code, b, _ := e.do("a-read", "POST", "/api/v1/logs/search", map[string]any{"query": query, "direction": "forward"})
		if code != 200 {
			t.Fatalf("%q: %d %s", query, code, b)
		}
		var r logsResponse
		_ = json.Unmarshal(b, &r)
		if got := messages(r); got != want {
			t.Fatalf("%q: got %q; want %q", query, got, want)
		}
	}
	f("connection", "connection refused by db-1|connection established|ERROR connection reset")
	f("connection AND NOT refused", "connection established|ERROR connection reset")
	f(`"refused by"`, "connection refused by db-1")
	f("namespace:payments (timeout OR disk)", "timeout after 30s|disk full")
	f("level:error", "ERROR connection reset")
	f("pod:/w.*/", "ERROR connection reset")
	f("conn", "")
	code, b, _ := e.do("a-read", "POST", "/api/v1/logs/search", map[string]any{"query": "(connection"})
	if code != 400 || !strings.Contains(string(b), `"invalid_query"`) || !strings.Contains(string(b), "at ") {
		t.Fatalf("bad query: %d %s", code, b)
	}
}

// TestAuthMatrix checks 401/403/404 and tenant isolation on every endpoint.
func TestAuthMatrix(t *testing.T) {
	e := newEnv(t, noLimits())
	base := time.Now().Add(-time.Hour)
	if code := e.pushJSON("a-write", map[string]string{"namespace": "secret-a", "pod": "p", "container": "c"}, base, "tenant a's line"); code != 204 {
		t.Fatal("push failed")
	}
	type ep struct {
		method, path string
		body         any
		scope        string // the scope it needs
	}
	eps := []ep{
		{"GET", "/api/v1/logs", nil, "read"},
		{"GET", "/api/v1/logs/", nil, "read"},
		{"POST", "/api/v1/logs/search", map[string]any{"query": "line"}, "read"},
		{"GET", "/api/v1/logs/namespaces", nil, "read"},
		{"GET", "/api/v1/logs/pods", nil, "read"},
		{"GET", "/api/v1/logs/containers", nil, "read"},
		{"GET", "/api/v1/logs/stats", nil, "read"},
		{"GET", "/api/v1/logs/metrics", nil, "read"},
		{"GET", "/api/v1/logs/health", nil, "read"},
		{"GET", "/api/v1/logs/storage/info", nil, "read"},
		{"GET", "/api/v1/logs/tokens", nil, "admin"},
		{"GET", "/api/v1/logs/tenants/team-a/limits", nil, "admin"},
		{"POST", "/loki/api/v1/push", `{"streams":[]}`, "write"},
	}
	for _, x := range eps {
		if code, _, _ := e.do("", x.method, x.path, x.body); code != 401 {
			t.Errorf("%s %s without token: %d; want 401", x.method, x.path, code)
		}
		if code, _, _ := e.do("klg_not-a-real-token", x.method, x.path, x.body); code != 401 {
			t.Errorf("%s %s with a bad token: %d; want 401", x.method, x.path, code)
		}
		wrong := "a-write"
		if x.scope == "write" {
			wrong = "a-read"
		}
		if code, _, _ := e.do(wrong, x.method, x.path, x.body); code != 403 {
			t.Errorf("%s %s with scope %s: %d; want 403", x.method, x.path, wrong, code)
		}
		if x.scope == "read" {
			if code, _, _ := e.do("b-rw", x.method, x.path, x.body, "X-Scope-OrgID", "team-a"); code != 403 {
				t.Errorf("%s %s as team-b naming team-a: %d; want 403", x.method, x.path, code)
			}
			// Tenant B sees nothing of tenant A.
			code, b, _ := e.do("b-rw", x.method, x.path, x.body)
			if code != 200 || strings.Contains(string(b), "secret-a") || strings.Contains(string(b), "tenant a's line") {
				t.Errorf("%s %s as team-b: %d %s", x.method, x.path, code, b)
			}
			code, b, _ = e.do("a-read", x.method, x.path, x.body)
			if code != 200 {
				t.Errorf("%s %s as team-a: %d %s", x.method, x.path, code, b)
			}
		}
	}
	// An admin acts in another tenant through X-Scope-OrgID.
	r := e.logs("admin", "")
	if len(r.Logs) != 0 {
		t.Fatalf("admin in default sees %d entries", len(r.Logs))
	}
	code, b, _ := e.do("admin", "GET", "/api/v1/logs", nil, "X-Scope-OrgID", "team-a")
	if code != 200 || !strings.Contains(string(b), "tenant a's line") {
		t.Fatalf("admin as team-a: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/logs", nil, "X-Scope-OrgID", "Bad Tenant!")
	if code != 400 {
		t.Fatalf("bad X-Scope-OrgID: %d %s", code, b)
	}
	// Health, readiness and metrics need no token.
	for _, p := range []string{"/health", "/ready", "/metrics"} {
		if code, _, _ := e.do("", "GET", p, nil); code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
	}
}

func TestBadInputs(t *testing.T) {
	e := newEnv(t, noLimits())
	cases := []struct {
		method, path string
		body         any
		status       int
		id, mention  string
	}{
		{"GET", "/api/v1/logs?limit=0", nil, 400, "bad_request", "limit"},
		{"GET", "/api/v1/logs?limit=5001", nil, 400, "bad_request", "limit"},
		{"GET", "/api/v1/logs?limit=ten", nil, 400, "bad_request", "limit"},
		{"GET", "/api/v1/logs?direction=sideways", nil, 400, "bad_request", "direction"},
		{"GET", "/api/v1/logs?cursor=garbage", nil, 400, "bad_request", "cursor"},
		{"GET", "/api/v1/logs?start_time=yesterday", nil, 400, "bad_request", "start_time"},
		{"GET", "/api/v1/logs?end_time=12345678901234567890123", nil, 400, "bad_request", "end_time"},
		{"GET", "/api/v1/logs?start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z", nil, 400, "bad_request", "start_time"},
		{"GET", "/api/v1/logs?since=-5m", nil, 400, "bad_request", "since"},
		{"GET", "/api/v1/logs?level=loud", nil, 400, "bad_request", "level"},
		{"GET", "/api/v1/logs?regex=(unclosed", nil, 400, "bad_request", "regex"},
		{"GET", "/api/v1/logs/stats?interval=0s&since=1h", nil, 400, "bad_request", "interval"},
		{"GET", "/api/v1/logs/metrics?since=forever", nil, 400, "bad_request", "since"},
		{"POST", "/api/v1/logs/search", "{not json", 400, "bad_request", "JSON"},
		{"POST", "/api/v1/logs/search", "", 400, "bad_request", "empty"},
		{"POST", "/api/v1/logs/search", `{"query":"x","limit":"ten"}`, 400, "bad_request", "limit"},
		{"POST", "/api/v1/logs/search", `{"query":"x","colour":"red"}`, 400, "bad_request", "colour"},
		{"POST", "/api/v1/logs/search", `{"query":"field:/[/"}`, 400, "invalid_query", "regex"},
		{"POST", "/api/v1/logs/tokens", `{"tenant":"team-a","name":"x","scopes":"read,fly"}`, 400, "bad_request", "scopes"},
		{"POST", "/api/v1/logs/tokens", `{"tenant":"Team A","name":"x","scopes":"read"}`, 400, "bad_request", "tenant"},
		{"POST", "/api/v1/logs/tokens", `{"tenant":"team-a","name":"x","scopes":"read","expires_in":"soon"}`, 400, "bad_request", "expires_in"},
		{"PUT", "/api/v1/logs/tenants/team-a/limits", `{"requests_per_minute":{"standard":-1}}`, 400, "bad_request", "limits"},
		{"DELETE", "/api/v1/logs/tokens/nope", nil, 404, "not_found", "nope"},
		{"GET", "/api/v1/logs/no-such-thing", nil, 404, "not_found", "endpoint"},
	}
	for _, c := range cases {
		code, b, h := e.do("admin", c.method, c.path, c.body)
		var eb errorBody
		_ = json.Unmarshal(b, &eb)
		if code != c.status || eb.ID != c.id || !strings.Contains(eb.Message, c.mention) || eb.RequestID == "" || h.Get("X-Request-Id") != eb.RequestID {
			t.Errorf("%s %s: %d %s; want %d %s mentioning %q", c.method, c.path, code, b, c.status, c.id, c.mention)
		}
	}
	// Push errors answer as Loki does: plain text with the reason.
	pushes := []struct {
		ctype, body string
		status      int
		mention     string
	}{
		{"application/json", `{"streams":[{"stream":{"a":"b"},"values":[[123,"x"]]}]}`, 400, "string"},
		{"application/json", `{"streams":[{"stream":{"a":"b"},"values":[["notanumber","x"]]}]}`, 400, "timestamp"},
		{"application/json", `{"streams":[{"stream":{},"values":[["1","x"]]}]}`, 400, "empty"},
		{"application/json", `{"streams":[{"stream":{"bad-label":"b"},"values":[["1","x"]]}]}`, 400, "label"},
		{"application/json", `{"streams":`, 400, "JSON"},
		{"text/csv", `a,b`, 415, "content type"},
	}
	for _, p := range pushes {
		code, b, _ := e.do("a-write", "POST", "/loki/api/v1/push", p.body, "Content-Type", p.ctype)
		if code != p.status || !strings.Contains(strings.ToLower(string(b)), strings.ToLower(p.mention)) {
			t.Errorf("push %s: %d %s; want %d mentioning %q", p.body, code, b, p.status, p.mention)
		}
	}
	// A body over the cap gets 413.
	e.api.cfg.MaxBodyBytes = 1024
	code, b, _ := e.do("a-write", "POST", "/loki/api/v1/push", strings.Repeat("x", 4096), "Content-Type", "application/json")
	if code != 413 {
		t.Fatalf("large push: %d %s", code, b)
	}
}

func TestRateLimitsWithInjectedClock(t *testing.T) {
	l := auth.DefaultLimits()
	l.Requests.Standard = 3
	l.Requests.Heavy = 1
	l.PushBytesPerSecond, l.PushBurstBytes = 100, 200
	e := newEnv(t, l)
	for i := 0; i < 3; i++ {
		code, _, h := e.do("a-read", "GET", "/api/v1/logs", nil)
		if code != 200 || h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) || h.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("request %d: %d %v", i, code, h)
		}
	}
	code, b, h := e.do("a-read", "GET", "/api/v1/logs", nil)
	if code != 429 || h.Get("Retry-After") == "" || !strings.Contains(string(b), "too_many_requests") {
		t.Fatalf("4th request: %d %s %v", code, b, h)
	}
	// Heavy endpoints have their own bucket.
	if code, _, _ := e.do("a-read", "POST", "/api/v1/logs/search", map[string]any{"query": "x"}); code != 200 {
		t.Fatalf("first search: %d", code)
	}
	if code, _, _ := e.do("a-read", "POST", "/api/v1/logs/search", map[string]any{"query": "x"}); code != 429 {
		t.Fatalf("second search: %d; want 429", code)
	}
	// Another token of the same tenant has its own buckets.
	if code, _, _ := e.do("a-rw", "GET", "/api/v1/logs", nil); code != 200 {
		t.Fatalf("other token: %d", code)
	}
	e.clock.Step(time.Minute)
	if code, _, _ := e.do("a-read", "GET", "/api/v1/logs", nil); code != 200 {
		t.Fatalf("after a minute: %d", code)
	}
	// Push is limited by bytes per tenant.
	base := time.Now().Add(-time.Minute)
	if code := e.pushJSON("a-write", map[string]string{"a": "b"}, base, strings.Repeat("x", 150)); code != 204 {
		t.Fatalf("first push: %d", code)
	}
	if code := e.pushJSON("a-write", map[string]string{"a": "b"}, base.Add(time.Second), strings.Repeat("y", 150)); code != 429 {
		t.Fatalf("second push: %d; want 429", code)
	}
	if code := e.pushJSON("a-write", map[string]string{"a": "b"}, base.Add(time.Second), strings.Repeat("z", 300)); code != 413 {
		t.Fatalf("push over the burst: %d; want 413", code)
	}
	e.clock.Step(2 * time.Second)
	if code := e.pushJSON("a-write", map[string]string{"a": "b"}, base.Add(time.Second), strings.Repeat("y", 150)); code != 204 {
		t.Fatalf("push after refill: %d", code)
	}
}

func TestTokensAndLimitsAPI(t *testing.T) {
	e := newEnv(t, noLimits())
	code, b, _ := e.do("admin", "POST", "/api/v1/logs/tokens", map[string]any{"tenant": "team-c", "name": "ci", "scopes": "read,write", "expires_in": "30d"})
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	var tok apiclient.Token
	_ = json.Unmarshal(b, &tok)
	if !strings.HasPrefix(tok.Token, "klg_") || tok.Tenant != "team-c" || tok.ExpiresAt == "" {
		t.Fatalf("created token %+v", tok)
	}
	e.tokens["c"] = tok.Token
	if code := e.pushJSON("c", map[string]string{"a": "b"}, time.Now().Add(-time.Minute), "hello"); code != 204 {
		t.Fatalf("push with the new token: %d", code)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/logs/tokens?all=true", nil)
	if code != 200 || strings.Contains(string(b), tok.Token) || !strings.Contains(string(b), tok.ID) {
		t.Fatalf("list must show the id and never the secret: %s", b)
	}
	if code, b, _ := e.do("admin", "POST", "/api/v1/logs/tokens", map[string]any{"tenant": "team-c", "name": "ci", "scopes": "read"}); code != 409 {
		t.Fatalf("duplicate name: %d %s", code, b)
	}
	if code, b, _ := e.do("admin", "DELETE", "/api/v1/logs/tokens/"+tok.ID, nil, "X-Scope-OrgID", "team-c"); code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	time.Sleep(1100 * time.Millisecond) // the authenticator caches lookups for a second
	if code, _, _ := e.do("c", "GET", "/api/v1/logs", nil); code != 401 {
		t.Fatalf("revoked token still works: %d", code)
	}
	code, b, _ = e.do("admin", "PUT", "/api/v1/logs/tenants/team-c/limits", `{"requests_per_minute":{"standard":7},"retention":"7d"}`)
	if code != 200 || !strings.Contains(string(b), `"standard":7`) {
		t.Fatalf("put limits: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/logs/tenants/team-c/limits", nil)
	if code != 200 || !strings.Contains(string(b), `"standard":7`) {
		t.Fatalf("get limits: %d %s", code, b)
	}
	if got := e.st.Retention("team-c"); got != 7*24*time.Hour {
		t.Fatalf("store retention %v; want 7d", got)
	}
}

func TestHealthTurnsDegradedOnWALErrors(t *testing.T) {
	e := newEnv(t, noLimits())
	var fail error
	e.api.storeOK = func() error { return fail }
	check := func(path, token, want string, code int) {
		t.Helper()
		got, b, _ := e.do(token, "GET", path, nil)
		var rep healthReport
		_ = json.Unmarshal(b, &rep)
		if got != code || rep.Status != want {
			t.Fatalf("%s: %d %s; want %d %s", path, got, b, code, want)
		}
	}
	check("/health", "", "ok", 200)
	check("/api/v1/logs/health", "a-read", "ok", 200)
	fail = &store.HealthError{Message: "wal write: no space left on device", Since: time.Now()}
	check("/health", "", "degraded", 200)
	check("/api/v1/logs/health", "a-read", "degraded", 200)
	_, b, _ := e.do("", "GET", "/health", nil)
	if !strings.Contains(string(b), "no space left") {
		t.Fatalf("health does not say why: %s", b)
	}
	fail = nil
	check("/health", "", "ok", 200)
	// A closed metadata database takes the service down.
	_ = e.db.Close()
	check("/health", "", "down", 503)
}
