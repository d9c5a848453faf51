package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/logmodel"
)

func (e *env) createSession(token string, body map[string]any) (int, apiclient.Session, string) {
	e.t.Helper()
	code, b, _ := e.do(token, "POST", "/api/v1/logs/tail/sessions", body)
	var s apiclient.Session
	_ = json.Unmarshal(b, &s)
	return code, s, string(b)
}

func TestTailSessionsAPI(t *testing.T) {
	l := noLimits()
	l.MaxTailSessions, l.MaxTailSessionsPerUser = 3, 2
	e := newEnv(t, l)
	ok := map[string]any{"tenantId": "team-a", "userUuid": "u1", "filter": "level=error", "service": "checkout"}
	code, s, b := e.createSession("a-read", ok)
	if code != 200 || s.ID == "" || s.TenantID != "team-a" || !s.Active || s.LastCursor == "" || s.CreatedAt == "" || s.Filter != "level=error" {
		t.Fatalf("create: %d %s", code, b)
	}
	if _, err := time.Parse(time.RFC3339, s.CreatedAt); err != nil {
		t.Fatalf("createdAt %q is not RFC3339", s.CreatedAt)
	}
	bad := []struct {
		body    map[string]any
		status  int
		id, msg string
	}{
		{map[string]any{"tenantId": "team-b", "userUuid": "u1", "filter": "", "service": "*"}, 403, "forbidden", "tenantId"},
		{map[string]any{"userUuid": "u1", "filter": "", "service": "*"}, 400, "bad_request", "tenantId"},
		{map[string]any{"tenantId": "team-a", "userUuid": "", "filter": "", "service": "*"}, 400, "bad_request", "userUuid"},
		{map[string]any{"tenantId": "team-a", "userUuid": strings.Repeat("u", 129), "filter": "", "service": "*"}, 400, "bad_request", "userUuid"},
		{map[string]any{"tenantId": "team-a", "userUuid": "u1", "filter": "level=error and", "service": "*"}, 400, "invalid_filter", "at 15"},
		{map[string]any{"tenantId": "team-a", "userUuid": "u1", "filter": "level", "service": "*"}, 400, "invalid_filter", "expected ="},
		{map[string]any{"tenantId": "team-a", "userUuid": "u1", "filter": ""}, 400, "bad_request", "service"},
		{map[string]any{"tenantId": "team-a", "userUuid": "u1", "filter": "", "service": "*", "lastCursor": "cursor-0000001"}, 400, "bad_request", "lastCursor"},
		{map[string]any{"tenantId": "team-a", "userUuid": "u1", "filter": "", "service": "*", "extra": 1}, 400, "bad_request", "extra"},
	}
	for _, c := range bad {
		code, b, _ := e.do("a-read", "POST", "/api/v1/logs/tail/sessions", c.body)
		var eb errorBody
		_ = json.Unmarshal(b, &eb)
		if code != c.status || eb.ID != c.id || !strings.Contains(eb.Message, c.msg) {
			t.Errorf("%v: %d %s; want %d %s mentioning %q", c.body, code, b, c.status, c.id, c.msg)
		}
	}
	// An admin may create a session in another tenant.
	if code, s2, b := e.createSession("admin", map[string]any{"tenantId": "team-b", "userUuid": "ops", "filter": "", "service": "*"}); code != 200 || s2.TenantID != "team-b" {
		t.Fatalf("admin create in team-b: %d %s", code, b)
	}
	// Quotas: two per user, three per tenant.
	if code, _, b := e.createSession("a-read", ok); code != 200 {
		t.Fatalf("second for u1: %d %s", code, b)
	}
	code, _, b = e.createSession("a-read", ok)
	if code != 429 || !strings.Contains(b, "quota_exceeded") || !strings.Contains(b, "per user") {
		t.Fatalf("third for u1: %d %s", code, b)
	}
	other := map[string]any{"tenantId": "team-a", "userUuid": "u2", "filter": "", "service": "*"}
	if code, _, b := e.createSession("a-read", other); code != 200 {
		t.Fatalf("first for u2: %d %s", code, b)
	}
	code, _, b = e.createSession("a-read", other)
	if code != 429 || !strings.Contains(b, "per tenant") {
		t.Fatalf("fourth in tenant: %d %s", code, b)
	}
	// List, filter, get, patch, delete.
	code, lb, _ := e.do("a-read", "GET", "/api/v1/logs/tail/sessions?userUuid=u1&active=true", nil)
	var list struct{ Sessions []apiclient.Session }
	_ = json.Unmarshal(lb, &list)
	if code != 200 || len(list.Sessions) != 2 {
		t.Fatalf("list: %d %s", code, lb)
	}
	if code, pb, _ := e.do("a-read", "PATCH", "/api/v1/logs/tail/sessions/"+s.ID, map[string]any{"filter": "level=warn", "service": "*"}); code != 200 || !strings.Contains(string(pb), `"filter":"level=warn"`) {
		t.Fatalf("patch: %d %s", code, pb)
	}
	if code, _, _ := e.do("a-read", "PATCH", "/api/v1/logs/tail/sessions/"+s.ID, map[string]any{"filter": "(("}); code != 400 {
		t.Fatalf("bad patch: %d", code)
	}
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		if code, _, _ := e.do("b-rw", m, "/api/v1/logs/tail/sessions/"+s.ID, map[string]any{}); code != 404 {
			t.Fatalf("%s another tenant's session: %d; want 404", m, code)
		}
	}
	if code, _, _ := e.do("b-rw", "GET", "/api/v1/logs/tail/sessions/"+s.ID+"/stream", nil); code != 404 {
		t.Fatalf("stream another tenant's session: %d", code)
	}
	code, db, _ := e.do("a-read", "DELETE", "/api/v1/logs/tail/sessions/"+s.ID, nil)
	if code != 200 || !strings.Contains(string(db), `"active":false`) {
		t.Fatalf("delete: %d %s", code, db)
	}
	if code, _, _ := e.do("a-read", "GET", "/api/v1/logs/tail/sessions/"+s.ID+"/stream", nil); code != 409 {
		t.Fatalf("stream of an ended session: %d; want 409", code)
	}
	// Ending a session frees quota.
	if code, _, b := e.createSession("a-read", ok); code != 200 {
		t.Fatalf("after delete: %d %s", code, b)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ kind, id, data string }

// readSSE reads events from a stream until fn returns false.
func readSSE(t *testing.T, resp *http.Response, fn func(sseEvent) bool) {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data != "" && !fn(ev) {
				return
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func (e *env) openStream(token, id, lastEventID string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/logs/tail/sessions/"+id+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[token])
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp
}

// TestSSEResumeIsExact pushes while a client reads, breaks the connection,
// resumes with Last-Event-ID and with the stored cursor, and checks that the
// lines received are exactly the matching ones.
func TestSSEResumeIsExact(t *testing.T) {
	e := newEnv(t, noLimits())
	_, s, _ := e.createSession("a-read", map[string]any{"tenantId": "team-a", "userUuid": "u", "filter": `level=error or "needle"`, "service": "checkout"})
	var want []string
	push := func(from, to int) {
		for i := from; i < to; i++ {
			app := "checkout"
			if i%3 == 0 {
				app = "other"
			}
			line := fmt.Sprintf("INFO line %d", i)
			if i%2 == 0 {
				line = fmt.Sprintf("ERROR line %d", i)
			}
			e.pushJSON("a-write", map[string]string{"app": app, "namespace": "shop"}, time.Now(), line)
			if app == "checkout" && i%2 == 0 {
				want = append(want, line)
			}
		}
	}
	push(0, 30) // before the first connection: replayed from the store
	var mu sync.Mutex
	var got []string
	lastID := ""
	read := func(resp *http.Response, max int) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			n := 0
			readSSE(t, resp, func(ev sseEvent) bool {
				var ent logmodel.EntryJSON
				if err := json.Unmarshal([]byte(ev.data), &ent); err != nil || ent.Cursor != ev.id {
					t.Errorf("event %+v: %v", ev, err)
					return false
				}
				mu.Lock()
				got = append(got, ent.Message)
				lastID = ev.id
				mu.Unlock()
				n++
				return n < max
			})
		}()
		return done
	}
	for conn := 0; conn < 4; conn++ {
		mu.Lock()
		from := lastID
		mu.Unlock()
		resp := e.openStream("a-read", s.ID, from)
		done := read(resp, 4)        // break the connection after 4 events
		push(30+conn*20, 50+conn*20) // live, while connected
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		resp.Body.Close()
		<-done
	}
	// The stored cursor follows what was written to the client: at least
	// as far as what the client read.
	time.Sleep(1500 * time.Millisecond)
	_, gb, _ := e.do("a-read", "GET", "/api/v1/logs/tail/sessions/"+s.ID, nil)
	var stored apiclient.Session
	_ = json.Unmarshal(gb, &stored)
	sc, _ := logmodel.ParseCursor(stored.LastCursor)
	lc, _ := logmodel.ParseCursor(lastID)
	if sc.Seq < lc.Seq {
		t.Fatalf("stored lastCursor %d is behind the last event read %d", sc.Seq, lc.Seq)
	}
	// Resume from the client's own last event and read the rest.
	resp := e.openStream("a-read", s.ID, lastID)
	done := read(resp, 1<<30)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp.Body.Close()
	<-done
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("received %d:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}
}

func TestWebSocketResumeIsExact(t *testing.T) {
	e := newEnv(t, noLimits())
	_, s, _ := e.createSession("a-read", map[string]any{"tenantId": "team-a", "userUuid": "u", "filter": "", "service": "*"})
	var want []string
	for i := 0; i < 25; i++ {
		line := fmt.Sprintf("line %d", i)
		e.pushJSON("a-write", map[string]string{"app": "x"}, time.Now(), line)
		want = append(want, line)
	}
	var got []string
	cursor := ""
	for len(got) < len(want) {
		url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/v1/logs/tail/sessions/" + s.ID + "/stream"
		if cursor != "" {
			url += "?cursor=" + cursor
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.tokens["a-read"]}}})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 6 && len(got) < len(want); n++ {
			_, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ent logmodel.EntryJSON
			if err := json.Unmarshal(msg, &ent); err != nil {
				t.Fatal(err)
			}
			got = append(got, ent.Message)
			cursor = ent.Cursor
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
		cancel()
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("received %v; want %v", got, want)
	}
}

func TestStreamGetsHeartbeatsAndLimits(t *testing.T) {
	l := noLimits()
	l.Requests = auth.RequestRates{Standard: 100}
	e := newEnv(t, l)
	_, s, _ := e.createSession("a-read", map[string]any{"tenantId": "team-a", "userUuid": "u", "filter": "", "service": "*"})
	resp := e.openStream("a-read", s.ID, "")
	defer resp.Body.Close()
	if resp.Header.Get("X-RateLimit-Limit") != "100" {
		t.Fatalf("stream response lacks rate-limit headers: %v", resp.Header)
	}
	if code, b, _ := e.do("a-read", "GET", "/api/v1/logs/tail/sessions/"+s.ID+"/stream", nil, "Last-Event-ID", "garbage"); code != 400 {
		t.Fatalf("bad Last-Event-ID: %d %s", code, b)
	}
}

// TestSessionActiveFollowsItsClient checks that a session is active while a
// client reads its stream, and not once the client has gone, until another
// connects; the quota counts active sessions only.
func TestSessionActiveFollowsItsClient(t *testing.T) {
	e := newEnv(t, noLimits())
	_, s, _ := e.createSession("a-read", map[string]any{"tenantId": "team-a", "userUuid": "u", "filter": "", "service": "*"})
	active := func() bool {
		t.Helper()
		code, b, _ := e.do("a-read", "GET", "/api/v1/logs/tail/sessions/"+s.ID, nil)
		if code != 200 {
			t.Fatalf("get: %d %s", code, b)
		}
		var got apiclient.Session
		_ = json.Unmarshal(b, &got)
		return got.Active
	}
	if !active() {
		t.Fatal("a new session is not active")
	}
	resp := e.openStream("a-read", s.ID, "")
	if !active() {
		t.Fatal("not active while a client reads it")
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for active() {
		if time.Now().After(deadline) {
			t.Fatal("still active after its client went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, lb, _ := e.do("a-read", "GET", "/api/v1/logs/tail/sessions?active=false", nil)
	if code != 200 || !strings.Contains(string(lb), s.ID) {
		t.Fatalf("list active=false: %d %s", code, lb)
	}
	resp = e.openStream("a-read", s.ID, "")
	defer resp.Body.Close()
	if !active() {
		t.Fatal("not active again after a client reconnected")
	}
}

func TestSessionFieldBounds(t *testing.T) {
	e := newEnv(t, noLimits())
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"tenantId": "team-a", "userUuid": "u", "filter": strings.Repeat("a ", maxFilterBytes), "service": "*"}, "filter: 16384 bytes"},
		{map[string]any{"tenantId": "team-a", "userUuid": "u", "filter": "", "service": strings.Repeat("s", 254)}, "service: 254 bytes"},
	} {
		if code, _, b := e.createSession("a-read", c.body); code != 400 || !strings.Contains(b, c.want) {
			t.Errorf("got %d %.200s; want 400 with %q", code, b, c.want)
		}
	}
}
