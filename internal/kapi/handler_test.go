package kapi

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testServer serves a Handler acting in the tenant named by the X-Tenant
// header (default "t").
func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	h := NewHandler(memObjects(t), nil, "test")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := r.Header.Get("X-Tenant")
		if tenant == "" {
			tenant = "t"
		}
		h.ServeResource(w, r, tenant)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// call makes a request and returns the status code and body.
func call(t *testing.T, srv *httptest.Server, method, path, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// wantStatus checks a Status error's code, reason and first cause field.
func wantStatus(t *testing.T, code int, body []byte, wantCode int, reason metav1.StatusReason, causeField string) {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("not a Status: %s", body)
	}
	if code != wantCode || int(st.Code) != wantCode || st.Reason != reason || st.Kind != "Status" {
		t.Fatalf("got %d %s (code %d, kind %q): %s; want %d %s", code, st.Reason, st.Code, st.Kind, st.Message, wantCode, reason)
	}
	if causeField != "" && (st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field != causeField) {
		t.Fatalf("got causes %+v; want field %s", st.Details, causeField)
	}
}

func create(t *testing.T, srv *httptest.Server, name, tier string) PodLogStream {
	t.Helper()
	body := `{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"` + name + `","labels":{"tier":"` + tier + `"}},"spec":{"pod":"p"}}`
	code, b := call(t, srv, "POST", ResourcePath, "application/json", body)
	var out PodLogStream
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", name, code, b)
	}
	_ = json.Unmarshal(b, &out)
	return out
}

func TestHandlerErrors(t *testing.T) {
	srv := testServer(t)
	code, b := call(t, srv, "POST", ResourcePath, "application/json", `{"metadata":{"name":"x"},"spec":{}}`)
	wantStatus(t, code, b, 422, metav1.StatusReasonInvalid, "spec.pod")
	code, b = call(t, srv, "POST", ResourcePath+"?fieldValidation=Strict", "application/json", `{"metadata":{"name":"x"},"spec":{"pod":"p","bogus":1}}`)
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	if !strings.Contains(string(b), `unknown field \"spec.bogus\"`) {
		t.Fatalf("strict decoding message: %s", b)
	}
	code, b = call(t, srv, "POST", ResourcePath, "application/json", `{"metadata":{"name":"x"},"spec":{"pod":"p","sinceTime":"yesterday"}}`)
	wantStatus(t, code, b, 422, metav1.StatusReasonInvalid, "spec.sinceTime")
	code, b = call(t, srv, "POST", ResourcePath, "application/json", `{"metadata":{"name":"Bad_Name"},"spec":{"pod":"p"}}`)
	wantStatus(t, code, b, 422, metav1.StatusReasonInvalid, "metadata.name")
	code, b = call(t, srv, "POST", ResourcePath, "application/json", `{"kind":"Pod","metadata":{"name":"x"},"spec":{"pod":"p"}}`)
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "POST", ResourcePath+"?dryRun=Maybe", "application/json", `{"metadata":{"name":"x"},"spec":{"pod":"p"}}`)
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "GET", ResourcePath+"/nope", "", "")
	wantStatus(t, code, b, 404, metav1.StatusReasonNotFound, "")
	code, b = call(t, srv, "GET", ResourcePath+"?labelSelector=a%3D%3D%3D", "", "")
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "GET", ResourcePath+"?fieldSelector=status.phase%3Dx", "", "")
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "GET", ResourcePath+"?limit=-1", "", "")
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "GET", ResourcePath+"?continue=garbage", "", "")
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "POST", ResourcePath+"/x", "application/json", `{}`)
	wantStatus(t, code, b, 405, metav1.StatusReasonMethodNotAllowed, "")
	create(t, srv, "a", "web")
	code, b = call(t, srv, "PATCH", ResourcePath+"/a", "application/apply-patch+yaml", "spec: {pod: q}")
	wantStatus(t, code, b, 415, metav1.StatusReasonUnsupportedMediaType, "")
	if !strings.Contains(string(b), "server-side apply is not supported") {
		t.Fatalf("server-side apply message: %s", b)
	}
	code, b = call(t, srv, "PATCH", ResourcePath+"/a?force=true", "application/merge-patch+json", `{}`)
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "DELETE", ResourcePath+"/a?propagationPolicy=Sometimes", "", "")
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	code, b = call(t, srv, "DELETE", ResourcePath+"/a?gracePeriodSeconds=-3", "", "")
	wantStatus(t, code, b, 400, metav1.StatusReasonBadRequest, "")
	// Another tenant's object is not found.
	req, _ := http.NewRequest("GET", srv.URL+ResourcePath+"/a", nil)
	req.Header.Set("X-Tenant", "other")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("other tenant's get: got %d; want 404", resp.StatusCode)
	}
}

func TestHandlerUpdatePatchConflict(t *testing.T) {
	srv := testServer(t)
	a := create(t, srv, "a", "web")
	stale := a.ResourceVersion
	code, b := call(t, srv, "PATCH", ResourcePath+"/a", "application/merge-patch+json", `{"spec":{"namespace":"prod"}}`)
	var p PodLogStream
	if err := json.Unmarshal(b, &p); err != nil || code != 200 || p.Spec.Namespace != "prod" || p.Generation != 2 {
		t.Fatalf("merge patch: %d %s", code, b)
	}
	code, b = call(t, srv, "PATCH", ResourcePath+"/a", "application/json-patch+json", `[{"op":"replace","path":"/spec/pod","value":"q"}]`)
	if err := json.Unmarshal(b, &p); err != nil || code != 200 || p.Spec.Pod != "q" || p.Generation != 3 {
		t.Fatalf("json patch: %d %s", code, b)
	}
	code, b = call(t, srv, "PATCH", ResourcePath+"/a", "application/strategic-merge-patch+json", `{"metadata":{"labels":{"tier":"db"}}}`)
	if err := json.Unmarshal(b, &p); err != nil || code != 200 || p.Labels["tier"] != "db" || p.Generation != 3 {
		t.Fatalf("strategic merge patch: %d %s", code, b)
	}
	body := `{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"a","resourceVersion":"` + stale + `"},"spec":{"pod":"z"}}`
	code, b = call(t, srv, "PUT", ResourcePath+"/a", "application/json", body)
	wantStatus(t, code, b, 409, metav1.StatusReasonConflict, "")
	body = `{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"a","resourceVersion":"` + p.ResourceVersion + `"},"spec":{"pod":"z"},"status":{"containerStatuses":[{"name":"x","active":true}]}}`
	code, b = call(t, srv, "PUT", ResourcePath+"/a", "application/json", body)
	if err := json.Unmarshal(b, &p); err != nil || code != 200 || p.Spec.Pod != "z" || len(p.Status.ContainerStatuses) != 0 {
		t.Fatalf("update (status ignored): %d %s", code, b)
	}
	code, b = call(t, srv, "PUT", ResourcePath+"/a/status", "application/json", body)
	wantStatus(t, code, b, 409, metav1.StatusReasonConflict, "")
	code, b = call(t, srv, "PATCH", ResourcePath+"/a/status", "application/merge-patch+json", `{"spec":{"pod":"ignored"},"status":{"containerStatuses":[{"name":"x","active":true}]}}`)
	if err := json.Unmarshal(b, &p); err != nil || code != 200 || p.Spec.Pod != "z" || len(p.Status.ContainerStatuses) != 1 {
		t.Fatalf("status patch: %d %s", code, b)
	}
	// PUT of a missing object creates it (201).
	code, b = call(t, srv, "PUT", ResourcePath+"/new", "application/yaml", "apiVersion: tilt.dev/v1alpha1\nkind: PodLogStream\nmetadata: {name: new}\nspec: {pod: p}\n")
	if code != http.StatusCreated {
		t.Fatalf("create by update: %d %s", code, b)
	}
	code, b = call(t, srv, "GET", ResourcePath+"/new?pretty=true", "", "")
	if code != 200 || !strings.Contains(string(b), "\n  \"metadata\"") {
		t.Fatalf("pretty get: %d %s", code, b)
	}
}

func TestHandlerListPagingSelectorsDeleteCollection(t *testing.T) {
	srv := testServer(t)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		tier := "web"
		if n == "c" || n == "e" {
			tier = "db"
		}
		create(t, srv, n, tier)
	}
	list := func(q string) PodLogStreamList {
		t.Helper()
		code, b := call(t, srv, "GET", ResourcePath+q, "", "")
		var l PodLogStreamList
		if err := json.Unmarshal(b, &l); err != nil || code != 200 {
			t.Fatalf("list %s: %d %s", q, code, b)
		}
		return l
	}
	names := func(l PodLogStreamList) string {
		var s []string
		for _, i := range l.Items {
			s = append(s, i.Name)
		}
		return strings.Join(s, ",")
	}
	p1 := list("?limit=2")
	if names(p1) != "a,b" || p1.Continue == "" || *p1.RemainingItemCount != 3 {
		t.Fatalf("page 1: %s continue %q", names(p1), p1.Continue)
	}
	create(t, srv, "aa", "web") // after the first page: not in the paged list
	p2 := list("?limit=2&continue=" + p1.Continue)
	p3 := list("?limit=2&continue=" + p2.Continue)
	if names(p2) != "c,d" || names(p3) != "e" || p3.Continue != "" {
		t.Fatalf("pages 2 and 3: %s / %s", names(p2), names(p3))
	}
	if got := names(list("?labelSelector=tier%3Ddb")); got != "c,e" {
		t.Fatalf("labelSelector: got %s", got)
	}
	if got := names(list("?fieldSelector=metadata.name%3Dd")); got != "d" {
		t.Fatalf("fieldSelector: got %s", got)
	}
	if got := names(list("?resourceVersion=" + p1.ResourceVersion + "&resourceVersionMatch=Exact")); got != "a,b,c,d,e" {
		t.Fatalf("list at an exact resourceVersion: got %s", got)
	}
	start := time.Now()
	code, b := call(t, srv, "GET", ResourcePath+"?resourceVersion=999&timeoutSeconds=1", "", "")
	wantStatus(t, code, b, 504, metav1.StatusReasonTimeout, "")
	if d := time.Since(start); d < time.Second || d > 2*time.Second {
		t.Fatalf("list ahead of the store answered after %v; want about timeoutSeconds=1", d)
	}
	code, b = call(t, srv, "DELETE", ResourcePath+"?labelSelector=tier%3Dweb&dryRun=All", "", "")
	if code != 200 || names(list("")) != "a,aa,b,c,d,e" {
		t.Fatalf("dry-run deletecollection: %d %s", code, b)
	}
	code, b = call(t, srv, "DELETE", ResourcePath+"?labelSelector=tier%3Dweb", "", "")
	if code != 200 || names(list("")) != "c,e" {
		t.Fatalf("deletecollection: %d %s; left %s", code, b, names(list("")))
	}
}

func TestHandlerWatch(t *testing.T) {
	srv := testServer(t)
	create(t, srv, "a", "web")
	resp, err := http.Get(srv.URL + ResourcePath + "?watch=true&resourceVersion=1&fieldSelector=metadata.name%3Db&timeoutSeconds=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	create(t, srv, "c", "web")
	create(t, srv, "b", "web")
	call(t, srv, "PATCH", ResourcePath+"/b", "application/merge-patch+json", `{"spec":{"pod":"q"}}`)
	call(t, srv, "DELETE", ResourcePath+"/b", "", "")
	sc := bufio.NewScanner(resp.Body)
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < 3 {
		line := make(chan string)
		go func() {
			if sc.Scan() {
				line <- sc.Text()
			}
			close(line)
		}()
		select {
		case l, ok := <-line:
			if !ok {
				t.Fatalf("watch ended after %v", got)
			}
			var ev struct {
				Type   string
				Object PodLogStream
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev.Type+" "+ev.Object.Name+" "+ev.Object.ResourceVersion)
		case <-deadline:
			t.Fatalf("got %v; want 3 events", got)
		}
	}
	if strings.Join(got, ",") != "ADDED b 3,MODIFIED b 4,DELETED b 5" {
		t.Fatalf("events: got %v", got)
	}
}

func TestHandlerTable(t *testing.T) {
	srv := testServer(t)
	create(t, srv, "a", "web")
	req, _ := http.NewRequest("GET", srv.URL+ResourcePath, nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tbl metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&tbl); err != nil {
		t.Fatal(err)
	}
	if tbl.Kind != "Table" || len(tbl.Rows) != 1 || tbl.Rows[0].Cells[0] != "a" || tbl.Rows[0].Cells[2] != "p" || len(tbl.Rows[0].Object.Raw) == 0 {
		t.Fatalf("table: got %+v", tbl)
	}
}

func TestHandlerWatchInitialEventsAndBookmark(t *testing.T) {
	srv := testServer(t)
	create(t, srv, "a", "web")
	create(t, srv, "b", "web")
	resp, err := http.Get(srv.URL + ResourcePath + "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() {
		var ev struct {
			Type   string
			Object struct {
				Metadata metav1.ObjectMeta
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type+" "+ev.Object.Metadata.Name+" "+ev.Object.Metadata.Annotations[metav1.InitialEventsAnnotationKey])
	}
	// The watch ends after timeoutSeconds.
	if strings.Join(got, ",") != "ADDED a ,ADDED b ,BOOKMARK  true" {
		t.Fatalf("events: got %q", got)
	}
}

func TestHandlerGenerateName(t *testing.T) {
	srv := testServer(t)
	code, b := call(t, srv, "POST", ResourcePath, "application/json", `{"metadata":{"generateName":"gen-"},"spec":{"pod":"p"}}`)
	var p PodLogStream
	if err := json.Unmarshal(b, &p); err != nil || code != 201 || !strings.HasPrefix(p.Name, "gen-") || len(p.Name) != 9 {
		t.Fatalf("generateName: %d %s", code, b)
	}
	code, b = call(t, srv, "POST", ResourcePath, "application/json", `{"metadata":{"generateName":"Bad_"},"spec":{"pod":"p"}}`)
	wantStatus(t, code, b, 422, metav1.StatusReasonInvalid, "metadata.generateName")
}
