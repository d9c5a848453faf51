package apispec_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kubelog/kubelog/internal/apispec"
	"github.com/kubelog/kubelog/internal/httpapi"
)

func load(t *testing.T) *apispec.Document {
	t.Helper()
	d, err := apispec.Load(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFind(t *testing.T) {
	d := load(t)
	f := func(method, path, want string) {
		t.Helper()
		o, ok := d.Find(method, path)
		got := ""
		if ok {
			got = o.Path
		}
		if got != want {
			t.Errorf("Find(%s %s) = %q; want %q", method, path, got, want)
		}
	}
	f("GET", "/api/v1/logs", "/api/v1/logs")
	f("GET", "/api/v1/logs/", "/api/v1/logs/")
	f("GET", "/api/v1/logs/tail/sessions/s1/stream", "/api/v1/logs/tail/sessions/{id}/stream")
	f("GET", "/api/v1/logs/clusters/status", "/api/v1/logs/clusters/status")
	f("GET", "/api/v1/logs/clusters/c1/metrics", "/api/v1/logs/clusters/{clusterId}/metrics")
	f("GET", "/api/v1/logs/config/disable", "/api/v1/logs/config/{id}")
	f("POST", "/api/v1/logs/config/disable", "/api/v1/logs/config/disable")
	f("GET", "/api/v1/logs/tail/sessions//stream", "")
	f("PUT", "/api/v1/logs/stats", "")
	f("GET", "/loki/api/v1/labels", "")
}

func TestCheckAnswer(t *testing.T) {
	d := load(t)
	logs, _ := d.Find("GET", "/api/v1/logs")
	policies, _ := d.Find("GET", "/api/v1/logs/archive/policies")
	stream, _ := d.Find("GET", "/api/v1/logs/tail/sessions/s/stream")
	entry := `{"timestamp":"2026-11-21T12:00:00Z","cursor":"c","cluster":"","namespace":"ns","pod":"p","container":"c","level":"info","message":"m","labels":null,"metadata":{"stream":"stdout"}}`
	page := func(entry string) string {
		return `{"logs":[` + entry + `],"has_more":false,"next_cursor":"","stats":{"scanned_bytes":1,"scanned_lines":1,"blocks_scanned":0,"blocks_skipped":0,"took_ms":0.5}}`
	}
	policy := `{"id":"p","name":"n","tenant":"t","selector":"{}","older_than":"1h","schedule":"","compression":"gzip","destination":{"endpoint":"e","region":"","bucket":"b","prefix":"","access_key_id":"","secret_access_key":"","path_style":true,"tls":false},"delete_after_archive":false,"enabled":true,"created_at":"2026-11-21T12:00:00Z","updated_at":"2026-11-21T12:00:00Z"}`
	f := func(o *apispec.Operation, status int, ct, body string, wantErr string) {
		t.Helper()
		err := d.CheckAnswer(o, status, ct, []byte(body))
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%d %s: %v; want no error", status, body, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%d %s: %v; want an error with %q", status, body, err, wantErr)
		}
	}
	f(logs, 200, "application/json", page(entry), "")
	f(logs, 200, "application/json", page(strings.Replace(entry, `"cursor":"c",`, "", 1)), `required property "cursor"`)
	f(logs, 200, "application/json", page(strings.Replace(entry, `"pod":"p"`, `"pod":"p","node":"n"`, 1)), `property "node" is not in the schema`)
	f(logs, 200, "application/json", page(strings.Replace(entry, `"pod":"p"`, `"pod":7`, 1)), "$.logs[0].pod: a number, want a string")
	f(logs, 200, "text/plain", "x", "content type text/plain is not documented")
	f(logs, 400, "application/json", `{"id":"bad_request","message":"m","request_id":"r"}`, "")
	f(logs, 400, "application/json", `{"id":"bad_request","message":"m"}`, `required property "request_id"`)
	f(policies, 200, "application/json", policy, "")
	f(policies, 200, "application/json", `{"policies":[`+policy+`],"total":1}`, "")
	f(policies, 200, "application/json", `{"policies":[],"total":-1.5}`, "matches 0 of the oneOf schemas")
	f(stream, 200, "text/event-stream", "", "")
}

func TestTransport(t *testing.T) {
	d := load(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/logs":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"logs": []any{}, "has_more": false})
		case "/api/v1/logs/health":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok","version":"dev","uptime_seconds":1,"components":{}}`))
		case "/loki/api/v1/labels":
			_, _ = w.Write([]byte("anything"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &apispec.Transport{Doc: d}}
	f := func(path, wantErr string) {
		t.Helper()
		resp, err := hc.Get(srv.URL + path)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
		}
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("GET %s: %v; want no error", path, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("GET %s: %v; want an error with %q", path, err, wantErr)
		}
	}
	f("/api/v1/logs", `required property "next_cursor" is missing`)
	f("/api/v1/logs/health", "")
	f("/api/v1/logs/nope", "not the JSON error body")
	f("/loki/api/v1/labels", "")
	f("/elsewhere", "")
}
