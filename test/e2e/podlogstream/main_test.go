// Package podlogstream tests the PodLogStream API (tilt.dev/v1alpha1)
// end to end: a real kubelog serve binary over HTTPS, a real kubectl and
// client-go's dynamic client against it, and a real kube-apiserver with kwok
// whose containers write the lines the test then finds in the store.
//
// The test pods carry kubelog.io/exclude=true, so that kubelog's default
// "collect everything" selection leaves them alone: what is stored of them
// comes from PodLogStream objects only.
package podlogstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// adminToken is the bootstrap admin token of the servers the tests start.
const adminToken = "e2e-podlogstream-admin-token-0123456789"

var (
	// cluster is the cluster every test shares; nil when KUBELOG_E2E=0.
	cluster *testenv.Cluster
	// srv is the kubelog serve every test but the restart one shares.
	srv *server
	// work holds the binaries, certificates and kubeconfigs.
	work string
	// kubelogBin and kubectlBin are the binaries.
	kubelogBin, kubectlBin string
	// certFile, keyFile and caPEM are the serving certificate.
	certFile, keyFile string
	caPEM             []byte
)

var gvr = schema.GroupVersionResource{Group: "tilt.dev", Version: "v1alpha1", Resource: "podlogstreams"}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if testenv.Disabled() {
		return m.Run()
	}
	var err error
	if work, err = os.MkdirTemp("", "kubelog-e2e-pls-"); err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(work)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	bins, err := testenv.Binaries()
	if err != nil {
		log.Print(err)
		return 1
	}
	kubectlBin = filepath.Join(bins, "kubectl")
	if kubelogBin, err = testenv.BuildKubelog(work); err != nil {
		log.Print(err)
		return 1
	}
	if err := writeCert(); err != nil {
		log.Print(err)
		return 1
	}
	cluster, err = testenv.StartCluster(ctx, filepath.Join(work, "cluster"), testenv.ClusterOptions{Node: "node-0"})
	if err != nil {
		log.Print(err)
		return 1
	}
	defer cluster.Stop()
	if srv, err = startServer(filepath.Join(work, "data")); err != nil {
		log.Print(err)
		return 1
	}
	defer srv.stop()
	return m.Run()
}

// writeCert writes a self-signed serving certificate for 127.0.0.1.
func writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "kubelog-e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(work, "tls.crt"), filepath.Join(work, "tls.key")
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}

// server is a kubelog serve process collecting from the test cluster.
type server struct {
	*testenv.Kubelog
}

// startServer starts kubelog serve on dataDir, over HTTPS, collecting from
// the test cluster.
func startServer(dataDir string) (*server, error) {
	k, err := testenv.StartKubelog(kubelogBin, dataDir, nil, "--bootstrap-token", adminToken, "--kubeconfig", cluster.Kubeconfig(),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile)
	if err != nil {
		return nil, err
	}
	return &server{Kubelog: k}, nil
}

// stop stops the server with SIGINT and waits.
func (s *server) stop() { _ = s.Stop(os.Interrupt) }

// restConfig is a client-go config reaching s with token.
func (s *server) restConfig(token string) *rest.Config {
	return &rest.Config{Host: s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}}
}

// dynamicClient is client-go's dynamic client for the resource, with token.
func (s *server) dynamicClient(t *testing.T, token string) dynamic.ResourceInterface {
	t.Helper()
	dc, err := dynamic.NewForConfig(s.restConfig(token))
	if err != nil {
		t.Fatal(err)
	}
	return dc.Resource(gvr)
}

// kubeconfig writes a kubeconfig for kubectl holding token and returns its
// path.
func (s *server) kubeconfig(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubelog
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: kubelog
  user:
    token: %s
contexts:
- name: kubelog
  context: {cluster: kubelog, user: kubelog}
current-context: kubelog
`, s.URL, base64.StdEncoding.EncodeToString(caPEM), token)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// httpClient trusts the test certificate.
func httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 30 * time.Second, Transport: testenv.Checked(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}})}
}

// api is a client of s acting with token.
func (s *server) api(token string) *apiclient.Client {
	return apiclient.New(s.URL, token, httpClient())
}

// do makes a request to s with token and returns the status and body.
func (s *server) do(t *testing.T, token, method, path, contentType, body string) (int, []byte) {
	t.Helper()
	var hdr []string
	if contentType != "" {
		hdr = []string{"Content-Type", contentType}
	}
	resp, b, err := testenv.Request(httpClient(), method, s.URL+path, token, strings.NewReader(body), hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// createToken creates a token of tenant with scopes and returns its secret.
func (s *server) createToken(t *testing.T, tenant, name, scopes string) string {
	t.Helper()
	out, err := s.api(adminToken).CreateToken(t.Context(), apiclient.TokenRequest{Tenant: tenant, Name: name, Scopes: scopes})
	if err != nil || out.Token == "" {
		t.Fatalf("create token: %v", err)
	}
	return out.Token
}

// logs pages through GET /api/v1/logs?namespace=&pod= and returns the lines
// by container.
func (s *server) logs(t *testing.T, ns, pod string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	cursor := ""
	for {
		page, err := s.api(adminToken).Logs(t.Context(), apiclient.LogsQuery{Namespace: ns, Pod: pod, Direction: "forward", Limit: 5000, Cursor: cursor})
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		for _, l := range page.Logs {
			out[l.Container] = append(out[l.Container], l.Message)
		}
		if !page.HasMore {
			return out
		}
		cursor = page.NextCursor
	}
}

// logqlLines runs a LogQL log query over the last hour through the Loki API
// and returns the lines by container.
func (s *server) logqlLines(t *testing.T, query string) map[string][]string {
	t.Helper()
	q := url.Values{"query": {query}, "limit": {"5000"}, "direction": {"forward"},
		"start": {fmt.Sprint(time.Now().Add(-time.Hour).UnixNano())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).UnixNano())}}
	code, b := s.do(t, adminToken, "GET", "/loki/api/v1/query_range?"+q.Encode(), "", "")
	var resp struct {
		Data struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || code != 200 {
		t.Fatalf("logql %s: %d %s", query, code, b)
	}
	out := map[string][]string{}
	for _, r := range resp.Data.Result {
		for _, v := range r.Values {
			out[r.Stream["container"]] = append(out[r.Stream["container"]], v[1])
		}
	}
	return out
}

// kubectl runs kubectl with a kubeconfig and returns its output.
func kubectl(t *testing.T, kubeconfig string, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustKubectl runs kubectl and fails the test when it fails.
func mustKubectl(t *testing.T, kubeconfig, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(t, kubeconfig, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// container is a simulated container: its CRI log and the lines written.
type container struct {
	name string
	w    *testenv.CRIWriter

	mu sync.Mutex
	// lines are the lines written (guarded by mu).
	lines []string
}

func (c *container) write(t *testing.T, format string, n int) {
	t.Helper()
	for i := range n {
		line := fmt.Sprintf(format, i)
		if err := c.w.Line(line); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		c.lines = append(c.lines, line)
		c.mu.Unlock()
	}
}

func (c *container) written() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// newPod creates pod ns/name, excluded from kubelog's default selection,
// with the named containers each logging to a new CRI file.
func newPod(t *testing.T, ns, name string, names ...string) map[string]*container {
	t.Helper()
	opts := testenv.PodOptions{NodeName: "node-0", Annotations: map[string]string{collector.ExcludeAnnotation: "true"}}
	ws, err := cluster.CreateLoggingPod(t.Context(), t.TempDir(), ns, name, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	cs := make(map[string]*container, len(ws))
	for i, w := range ws {
		t.Cleanup(func() { w.Close() })
		cs[names[i]] = &container{name: names[i], w: w}
	}
	return cs
}

// waitFor polls cond every 200ms until it returns "" or timeout, then fails
// with its last answer.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %v: %s", what, timeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitStored waits until the store holds exactly the lines each container
// wrote (and nothing of the others).
func waitStored(t *testing.T, s *server, ns, pod string, want map[string][]string) {
	t.Helper()
	waitFor(t, 60*time.Second, "stored lines of "+ns+"/"+pod, func() string {
		got := s.logs(t, ns, pod)
		var diffs []string
		for c, lines := range want {
			if d := testenv.DiffMultiset(got[c], lines); d != "" {
				diffs = append(diffs, c+": "+d)
			}
		}
		for c := range got {
			if _, ok := want[c]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: %d lines stored, none expected", c, len(got[c])))
			}
		}
		slices.Sort(diffs)
		return strings.Join(diffs, "; ")
	})
}
