package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/apispec"
)

func loadOpenAPI(t *testing.T) *apispec.Document {
	t.Helper()
	d, err := apispec.Load(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// docPath turns a mux pattern's path into an OpenAPI path template.
func docPath(p string) string { return strings.TrimSuffix(p, "{$}") }

// TestOpenAPIListsEveryRoute checks that the document has exactly the
// routes of kubelog's own surfaces, each with the query parameters its
// route declares and a token unless the route needs none.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	e := newEnv(t, noLimits())
	d := loadOpenAPI(t)
	documented := map[string]*apispec.Operation{}
	for _, o := range d.Operations() {
		documented[o.Method+" "+o.Path] = o
	}
	served := map[string]bool{}
	for _, rt := range e.api.table {
		method, p, ok := strings.Cut(rt.pattern, " ")
		if !ok || rt.surface != surfaceLogs {
			continue // catch-alls, Loki and Kubernetes surfaces
		}
		key := method + " " + docPath(p)
		served[key] = true
		o := documented[key]
		if o == nil {
			t.Errorf("%s is served but not in the OpenAPI document", rt.pattern)
			continue
		}
		got, want := slices.Sorted(slices.Values(o.Query)), slices.Sorted(slices.Values(rt.params))
		if !slices.Equal(got, want) {
			t.Errorf("%s: the document's query parameters are %v; want %v", rt.pattern, got, want)
		}
		if o.Public != (rt.scope == 0) {
			t.Errorf("%s: the document says public=%v; the route's scope is %v", rt.pattern, o.Public, rt.scope)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("%s is in the OpenAPI document but not served", key)
		}
	}
}

// checkedClient is a client of e whose answers are checked against the
// document.
func checkedClient(t *testing.T, e *env, token string) *apiclient.Client {
	t.Helper()
	hc := &http.Client{Transport: &apispec.Transport{Doc: loadOpenAPI(t)}}
	secret := e.tokens[token]
	return apiclient.New(e.srv.URL, secret, hc)
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, noLimits())
	c := checkedClient(t, e, "")
	var doc map[string]any
	if err := c.Do(context.Background(), "GET", apiclient.OpenAPIPath, nil, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi %v; want 3.0.3", doc["openapi"])
	}
	err := c.Do(context.Background(), "GET", apiclient.OpenAPIPath+"?x=1", nil, nil)
	if !apiclient.IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("an unknown parameter: %v; want a 400", err)
	}
}

// TestOpenAPIDescribesAnswers sends requests of each kind a server without
// clusters, archive or apps answers, and fails on any answer the document
// does not describe.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	e := newEnv(t, noLimits())
	ctx := context.Background()
	now := time.Now()
	for i := range 3 {
		e.pushJSON("a-rw", map[string]string{"namespace": "shop", "pod": "web-1", "container": "app"}, now.Add(-time.Duration(i+1)*time.Minute), "level=error boom", "ok")
	}
	a, admin := checkedClient(t, e, "a-rw"), checkedClient(t, e, "admin")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	page, err := a.Logs(ctx, apiclient.LogsQuery{Namespace: "shop", Limit: 2})
	must("logs", err)
	if len(page.Logs) != 2 || !page.HasMore {
		t.Fatalf("logs: %d entries, has_more %v; want 2, true", len(page.Logs), page.HasMore)
	}
	_, err = a.Logs(ctx, apiclient.LogsQuery{Namespace: "shop", Cursor: page.NextCursor})
	must("next page", err)
	limit := 1
	_, err = a.Search(ctx, apiclient.SearchRequest{Query: "boom", Limit: &limit})
	must("search", err)
	_, err = a.LogQL(ctx, apiclient.LogQLRequest{Query: `{namespace="shop"} |= "boom"`})
	must("logql streams", err)
	_, err = a.LogQL(ctx, apiclient.LogQLRequest{Query: `count_over_time({namespace="shop"}[1m])`, Start: now.Add(-time.Hour).Format(time.RFC3339), End: now.Format(time.RFC3339), Step: "1m"})
	must("logql matrix", err)
	_, err = a.Namespaces(ctx, nil)
	must("namespaces", err)
	_, err = a.Pods(ctx, url.Values{"namespace": {"shop"}})
	must("pods", err)
	_, err = a.Containers(ctx, url.Values{"namespace": {"shop"}, "pod": {"web-1"}})
	must("containers", err)
	_, err = a.Stats(ctx, url.Values{"since": {"1h"}, "interval": {"1m"}})
	must("stats", err)
	_, err = a.LogMetrics(ctx, nil)
	must("metrics", err)
	_, err = a.Health(ctx)
	must("health", err)
	_, err = a.StorageInfo(ctx)
	must("storage info", err)
	_, err = admin.StorageInfo(ctx)
	must("storage info as admin", err)

	tok, err := admin.CreateToken(ctx, apiclient.TokenRequest{Tenant: "team-a", Name: "openapi", Scopes: "read", ExpiresIn: "1d"})
	must("create token", err)
	_, err = admin.Tokens(ctx, true)
	must("tokens", err)
	_, err = admin.WithTenant("team-a").RevokeToken(ctx, tok.ID)
	must("revoke token", err)
	l, err := admin.Limits(ctx, "team-a")
	must("limits", err)
	_, err = admin.SetLimits(ctx, "team-a", l.Limits)
	must("set limits", err)

	s, err := a.CreateSession(ctx, apiclient.SessionRequest{TenantID: "team-a", UserUUID: "u1", Filter: `namespace="shop"`, Service: "*"})
	must("create session", err)
	_, err = a.Sessions(ctx, "u1", true)
	must("sessions", err)
	filter := `"boom"`
	_, err = a.PatchSession(ctx, s.ID, apiclient.SessionPatch{Filter: &filter})
	must("patch session", err)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := a.Stream(sctx, s.ID, page.Logs[0].Cursor)
	must("stream", err)
	ev, err := st.Next()
	must("stream event", err)
	if ev.Entry == nil || ev.ID == "" {
		t.Fatalf("stream event %+v; want an entry with its cursor", ev)
	}
	_ = st.Close()
	cancel()
	_, err = a.DeleteSession(ctx, s.ID)
	must("delete session", err)

	// Errors: bad input, no token, another scope, unknown paths and methods.
	var apiErr *apiclient.Error
	if _, err := a.Logs(ctx, apiclient.LogsQuery{Level: "loud"}); !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Body.RequestID == "" {
		t.Fatalf("a bad level: %v; want a 400 with a request id", err)
	}
	for _, c := range []struct {
		client       *apiclient.Client
		method, path string
		status       int
	}{
		{checkedClient(t, e, ""), "GET", "/api/v1/logs", 401},
		{a, "GET", "/api/v1/logs/tokens", 403},
		{a, "GET", "/api/v1/logs/nope", 404},
		{a, "PUT", "/api/v1/logs/stats", 405},
		{checkedClient(t, e, "b-manage"), "GET", "/api/v1/logs/archive/policies", 503},
		{checkedClient(t, e, "b-manage"), "GET", "/api/v1/logs/clusters/configs", 503},
		{a, "GET", "/metrics", 200},
		{a, "GET", "/v2/apps/nope", 404},
		{a, "GET", "/v2/nope", 404},
	} {
		err := c.client.Do(ctx, c.method, c.path, nil, nil)
		if c.status == 200 && err == nil {
			continue
		}
		if !apiclient.IsStatus(err, c.status) {
			t.Errorf("%s %s: %v; want %d", c.method, c.path, err, c.status)
		}
	}
}
