// Package security_test is kubelog's end-to-end security regression suite. It
// runs the real binary against a real control plane and a real MinIO and plays
// a hostile tenant, "evil", next to an honest one, "victim": kubeconfigs that
// would run programs or read the server's files, endpoints that probe the
// server's own network, secrets left readable on disk, query strings and keys
// that reach into another tenant, forged signed links, X-Scope-OrgID on every
// route, and path traversal in every name. Each test checks the refusal and
// that nothing happened behind it: no marker file written, no connection made
// to a listener the test owns, no byte of another tenant's data answered.
//
// Tests share one cluster, one S3 server and, where state does not matter,
// one kubelog server (see shared); the others start servers of their own.
package security_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/test/e2e/testenv"

	"github.com/kubelog/kubelog/internal/apiclient"
)

var (
	// cluster is the control plane every test shares; nil when KUBELOG_E2E=0.
	cluster *testenv.Cluster
	// s3 is the MinIO every test shares.
	s3 *testenv.S3
	// kubelogBin is the kubelog binary under test.
	kubelogBin string
	// realKubeconfig is the cluster's admin kubeconfig with inline
	// credentials, which the API accepts.
	realKubeconfig string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if testenv.Disabled() {
		return m.Run() // every test calls testenv.SkipIfDisabled
	}
	dir, err := os.MkdirTemp("", "kubelog-e2e-security-")
	if err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if kubelogBin, err = testenv.BuildKubelog(dir); err != nil {
		log.Print(err)
		return 1
	}
	// Generous: on a cold machine this includes building the binaries.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cluster, err = testenv.StartCluster(ctx, filepath.Join(dir, "cluster"), testenv.ClusterOptions{Node: "node-0"})
	if err != nil {
		log.Print(err)
		return 1
	}
	defer cluster.Stop()
	if s3, err = testenv.StartS3(ctx, filepath.Join(dir, "s3")); err != nil {
		log.Print("start S3: ", err)
		return 1
	}
	defer s3.Stop()
	b, err := os.ReadFile(cluster.Kubeconfig())
	if err != nil {
		log.Print(err)
		return 1
	}
	realKubeconfig = string(b)
	sharedDir = filepath.Join(dir, "shared")
	code := m.Run()
	if sharedWorld != nil {
		_ = sharedWorld.srv.Kill()
	}
	return code
}

// client sends the tests' requests. It does not follow redirects, so that a
// redirect is seen as what it is, and it gives up on a hung answer.
var client = &http.Client{
	Transport:     testenv.Checked(nil),
	Timeout:       2 * time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// baseArgs are the flags every server of the suite gets: no cluster of its
// own, no rate limits (the sweeps send hundreds of requests) and no fsync.
var baseArgs = []string{"--kubeconfig", "none", "--no-rate-limits", "--fsync", "never"}

// server is a running kubelog serve process.
type server struct {
	*testenv.Kubelog
	// admin is the admin token of tenant default that the server generated
	// at its first start and saved in <data-dir>/admin-token.
	admin string
}

// launch starts kubelog serve on dataDir with baseArgs and args. It passes no
// --bootstrap-token, so that the server writes its first admin token to
// <data-dir>/admin-token, a file a tenant's kubeconfig must never get read.
func launch(dataDir string, args ...string) (*server, error) {
	k, err := testenv.StartKubelog(kubelogBin, dataDir, nil, append(append([]string{}, baseArgs...), args...)...)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		_ = k.Kill()
		return nil, fmt.Errorf("read the admin token: %w", err)
	}
	return &server{Kubelog: k, admin: strings.TrimSpace(string(b))}, nil
}

// startServer starts a server with a data dir of its own, killed when the
// test ends; its log is shown when the test failed.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	s, err := launch(filepath.Join(t.TempDir(), "data"), args...)
	if err != nil {
		t.Fatal(err)
	}
	cleanupServer(t, s)
	return s
}

// cleanupServer kills s when the test ends and shows its log tail when the
// test failed.
func cleanupServer(t *testing.T, s *server) {
	t.Cleanup(func() {
		_ = s.Kill()
		if t.Failed() {
			l := s.Log()
			t.Logf("kubelog log (tail):\n%s", l[max(0, len(l)-8000):])
		}
	})
}

// reply is an answer with its body read and, for a JSON error body, its id
// and message.
type reply struct {
	code    int
	header  http.Header
	body    []byte
	id, msg string
}

func (r reply) String() string {
	b := string(r.body)
	if len(b) > 600 {
		b = b[:600] + "..."
	}
	return fmt.Sprintf("%d %s", r.code, strings.TrimSpace(b))
}

// has reports whether the body contains s.
func (r reply) has(s string) bool { return bytes.Contains(r.body, []byte(s)) }

// call sends method path (relative to the server, or an absolute URL) with
// token as bearer token unless empty, body as JSON unless it is nil, a
// string or a []byte, and the header pairs hdr.
func (s *server) call(token, method, path string, body any, hdr ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(raw)
	}
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = s.URL + path
	}
	if rd != nil {
		hdr = append([]string{"Content-Type", "application/json"}, hdr...)
	}
	resp, b, err := testenv.Request(client, method, u, token, rd, hdr...)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	r := reply{code: resp.StatusCode, header: resp.Header, body: b}
	var e apiclient.ErrorBody
	if json.Unmarshal(b, &e) == nil {
		r.id, r.msg = e.ID, e.Message
	}
	return r, nil
}

// do is call that fails the test on a transport error.
func (s *server) do(t *testing.T, token, method, path string, body any, hdr ...string) reply {
	t.Helper()
	r, err := s.call(token, method, path, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// must is do that fails the test unless the status is want, and decodes the
// answer into out when it is not nil.
func (s *server) must(t *testing.T, token string, want int, method, path string, body, out any) reply {
	t.Helper()
	r := s.do(t, token, method, path, body)
	if r.code != want {
		t.Fatalf("%s %s: got %s; want %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, r)
		}
	}
	return r
}

// wantError fails the test unless the answer is status code with error id.
func wantError(t *testing.T, what string, r reply, code int, id string) {
	t.Helper()
	if r.code != code || r.id != id {
		t.Fatalf("%s: got %s; want %d with id %s", what, r, code, id)
	}
}

// newToken creates a token of tenant with scopes with the admin token and
// returns its id and secret.
func (s *server) newToken(tenant, name, scopes string) (id, secret string, err error) {
	r, err := s.call(s.admin, "POST", "/api/v1/logs/tokens", map[string]string{"tenant": tenant, "name": name, "scopes": scopes})
	if err != nil {
		return "", "", err
	}
	var tok apiclient.Token
	if err := json.Unmarshal(r.body, &tok); err != nil || r.code != http.StatusCreated || tok.Token == "" {
		return "", "", fmt.Errorf("create a token of tenant %s: got %s; want 201 with the secret", tenant, r)
	}
	return tok.ID, tok.Token, nil
}

// tenantToken is newToken for a test: a read, write and manage token.
func (s *server) tenantToken(t *testing.T, tenant string) string {
	t.Helper()
	_, secret, err := s.newToken(tenant, "x", "read,write,manage")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// pushLine pushes one line with the stream labels through Loki's JSON push
// with a write token of the tenant.
func (s *server) pushLine(token string, labels map[string]string, ts time.Time, line string) error {
	body := map[string]any{"streams": []any{map[string]any{
		"stream": labels, "values": [][]string{{fmt.Sprint(ts.UnixNano()), line}},
	}}}
	r, err := s.call(token, "POST", "/loki/api/v1/push", body)
	if err != nil {
		return err
	}
	if r.code != http.StatusNoContent {
		return fmt.Errorf("push: got %s; want 204", r)
	}
	return nil
}

// registerCluster registers the test cluster as name with token and returns
// its id.
func (s *server) registerCluster(token, name string) (string, error) {
	r, err := s.call(token, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": name, "kubeconfig": realKubeconfig})
	if err != nil {
		return "", err
	}
	var c apiclient.Cluster
	if err := json.Unmarshal(r.body, &c); err != nil || r.code != http.StatusCreated || c.ID == "" {
		return "", fmt.Errorf("register cluster %s: got %s; want 201", name, r)
	}
	return c.ID, nil
}

// policyBody is an archive policy of the test MinIO's bucket under prefix
// "kubelog", with a selector and an endpoint that the caller may change.
func policyBody(name, bucket, selector string) map[string]any {
	return map[string]any{
		"name": name, "selector": selector, "older_than": "1h", "schedule": "@daily", "enabled": false,
		"destination": map[string]any{"endpoint": s3.Endpoint, "region": s3.Region, "bucket": bucket, "prefix": "kubelog",
			"access_key_id": s3.AccessKey, "secret_access_key": s3.SecretKey, "path_style": true},
	}
}

// create POSTs body to path with token, wants 201 (or 200) and returns the
// answer's id.
func (s *server) create(token, path string, body any) (string, error) {
	r, err := s.call(token, "POST", path, body)
	if err != nil {
		return "", err
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &o); err != nil || (r.code != http.StatusCreated && r.code != http.StatusOK) || o.ID == "" {
		return "", fmt.Errorf("POST %s: got %s; want 201 with an id", path, r)
	}
	return o.ID, nil
}

// world is the shared server and what each tenant has in it.
type world struct {
	srv *server
	// evil and victim are read, write and manage tokens of the two tenants.
	evil, victim string
	// victimTokenID is the id of victim's token.
	victimTokenID string
	// evilCluster and victimCluster are the ids of each tenant's registration
	// of the test cluster, as "evil-c" and "victim-c".
	evilCluster, victimCluster string
	// victimPolicy is victim's archive policy of bucket victimBucket,
	// selecting namespace victimNS.
	victimPolicy string
	// victimSession, victimConfig and victimJob are victim's tail session,
	// collection config and one-time collection job.
	victimSession, victimConfig, victimJob string
	// victimPLS is the name of victim's PodLogStream.
	victimPLS string
}

const (
	// victimNS is the namespace of victim's pushed lines.
	victimNS = "victim-ns"
	// victimLine is a line only victim has; no answer to evil may hold it.
	victimLine = "VICTIM-PRIVATE-LINE-7f3a"
	// victimOldLine is a line of victim's three hours old, for the archive.
	victimOldLine = "VICTIM-ARCHIVED-LINE-91c2"
	// victimBucket is the bucket of victim's archive policy.
	victimBucket = "victim-archive"
)

var (
	// sharedDir is the shared server's data dir.
	sharedDir string
	// sharedOnce starts the shared world at the first test that needs it.
	sharedOnce  sync.Once
	sharedWorld *world
	sharedErr   error
)

// shared returns the shared world: a server with loopback endpoints allowed,
// /metrics behind the admin token, and tenants evil and victim, victim with
// lines, a cluster, an archive policy, a tail session, a collection config, a
// collection job and a PodLogStream. Tests may add to it but must not change
// or delete what is there.
func shared(t *testing.T) *world {
	t.Helper()
	testenv.SkipIfDisabled(t)
	sharedOnce.Do(func() { sharedWorld, sharedErr = newWorld() })
	if sharedErr != nil {
		t.Fatalf("shared server: %v", sharedErr)
	}
	return sharedWorld
}

func newWorld() (w *world, err error) {
	s, err := launch(sharedDir, "--public-metrics=false", "--archive-tick", "1s")
	if err != nil {
		return nil, err
	}
	w = &world{srv: s, victimPLS: "victim-pls"}
	defer func() {
		if err != nil {
			_ = s.Kill()
			err = fmt.Errorf("%w\nkubelog log:\n%s", err, s.Log())
		}
	}()
	if _, w.evil, err = s.newToken("evil", "x", "read,write,manage"); err != nil {
		return nil, err
	}
	if w.victimTokenID, w.victim, err = s.newToken("victim", "x", "read,write,manage"); err != nil {
		return nil, err
	}
	if w.evilCluster, err = s.registerCluster(w.evil, "evil-c"); err != nil {
		return nil, err
	}
	if w.victimCluster, err = s.registerCluster(w.victim, "victim-c"); err != nil {
		return nil, err
	}
	labels := map[string]string{"cluster": "victim-c", "namespace": victimNS, "pod": "db-0", "container": "db"}
	if err = s.pushLine(w.victim, labels, time.Now(), victimLine); err != nil {
		return nil, err
	}
	if err = s.pushLine(w.victim, labels, time.Now().Add(-3*time.Hour), victimOldLine); err != nil {
		return nil, err
	}
	if w.victimPolicy, err = s.create(w.victim, "/api/v1/logs/archive/policies",
		policyBody("victim-policy", victimBucket, `{namespace="`+victimNS+`"}`)); err != nil {
		return nil, err
	}
	if w.victimSession, err = s.create(w.victim, "/api/v1/logs/tail/sessions",
		map[string]string{"tenantId": "victim", "userUuid": "victim-user", "filter": "", "service": "*"}); err != nil {
		return nil, err
	}
	if w.victimConfig, err = s.create(w.victim, "/api/v1/logs/config",
		map[string]any{"cluster_id": w.victimCluster, "namespace": victimNS}); err != nil {
		return nil, err
	}
	if w.victimJob, err = s.create(w.victim, "/api/v1/logs/collect",
		map[string]any{"cluster_id": w.victimCluster, "namespace": victimNS, "tail_lines": 1}); err != nil {
		return nil, err
	}
	pls := map[string]any{"apiVersion": "tilt.dev/v1alpha1", "kind": "PodLogStream", "metadata": map[string]any{"name": w.victimPLS},
		"spec": map[string]any{"pod": "db-0", "namespace": victimNS, "cluster": "victim-c"}}
	r, err := s.call(w.victim, "POST", "/apis/tilt.dev/v1alpha1/podlogstreams", pls)
	if err != nil {
		return nil, err
	}
	if r.code != http.StatusCreated {
		return nil, fmt.Errorf("create victim's PodLogStream: got %s; want 201", r)
	}
	return w, nil
}
