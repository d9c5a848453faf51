package security_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestEgressProbing is attack 3: with the default egress policy, a tenant's
// cluster server or S3 endpoint on loopback (by address, by name, by IPv6
// and IPv4-mapped forms, through 0.0.0.0) or at the cloud metadata address
// is refused by policy and never connected to, directly or through a
// redirect; and where loopback is allowed, a closed port and an open port
// that is no S3 or Kubernetes server answer alike, without the dial's
// details, and what an internal HTTP service answers is not passed back, so
// that the API cannot map or read the server's network.
func TestEgressProbing(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Run("DefaultPolicy", testDefaultPolicy)
	t.Run("RedirectToRefusedAddress", testRedirect)
	t.Run("ClosedAndOpenPortsAlike", testClosedAndOpen)
}

// testDefaultPolicy runs on a server with the default policy (--egress-allow
// given empty: no loopback allowance), with a listener on the probed port.
func testDefaultPolicy(t *testing.T) {
	s := startServer(t, "--egress-allow", "")
	evil := s.tenantToken(t, "evil")
	trap := newTCPTrap(t)
	port := strconv.Itoa(trap.port)
	servers := []string{
		"https://127.0.0.1:" + port,
		"http://127.0.0.1:" + port,
		"https://localhost:" + port,
		"https://[::1]:" + port,
		"https://[::ffff:127.0.0.1]:" + port,
		"https://0.0.0.0:" + port,
		"https://127.0.0.2:" + port,
		"https://169.254.169.254/",
		"http://169.254.169.254/latest/meta-data",
	}
	for _, srv := range servers {
		doc := kubeconfigDoc(map[string]any{"server": srv, "insecure-skip-tls-verify": true}, map[string]any{"token": "x"})
		start := time.Now()
		r := s.do(t, evil, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": "probe", "kubeconfig": doc})
		t.Logf("cluster server %s: %d %s in %v", srv, r.code, r.id, time.Since(start).Round(time.Millisecond))
		if r.code != 400 || r.id != "endpoint_refused_by_policy" {
			t.Errorf("cluster server %s: got %s; want 400 with id endpoint_refused_by_policy", srv, r)
		}
	}
	endpoints := []string{
		"127.0.0.1:" + port,
		"http://127.0.0.1:" + port,
		"http://localhost:" + port,
		"[::1]:" + port,
		"0.0.0.0:" + port,
		"169.254.169.254",
		"http://169.254.169.254",
		s3.Host, // the real MinIO, on loopback
	}
	for _, ep := range endpoints {
		body := policyBody("probe", "probe-bucket", `{namespace="x"}`)
		body["destination"].(map[string]any)["endpoint"] = ep
		start := time.Now()
		r := s.do(t, evil, "POST", "/api/v1/logs/archive/policies", body)
		t.Logf("archive endpoint %s: %d %s in %v", ep, r.code, r.id, time.Since(start).Round(time.Millisecond))
		if r.code != 400 || r.id != "endpoint_refused_by_policy" {
			t.Errorf("archive endpoint %s: got %s; want 400 with id endpoint_refused_by_policy", ep, r)
		}
	}
	trap.untouched(t)
	if !trap.has6 {
		t.Log("no IPv6 loopback: [::1] was checked for its answer only")
	}
}

// leaks are what an error message must not hold: how a dial failed.
var leaks = []string{"connection refused", "dial", "i/o timeout", "EOF", "reset by peer", "no route", "tls:", "handshake"}

// testClosedAndOpen runs on the shared server, which allows loopback.
func testClosedAndOpen(t *testing.T) {
	w := shared(t)
	s := w.srv
	closed := "127.0.0.1:" + strconv.Itoa(closedPort(t))
	open := newTCPTrap(t)
	check := func(t *testing.T, what string, rs map[string]reply, endpoints map[string]string) {
		t.Helper()
		var ids []string
		var msgs []string
		for _, k := range []string{"closed", "open"} {
			r := rs[k]
			if r.code != 400 {
				t.Errorf("%s at the %s port: got %s; want 400", what, k, r)
			}
			for _, l := range leaks {
				if strings.Contains(strings.ToLower(r.msg), strings.ToLower(l)) {
					t.Errorf("%s at the %s port: the message tells how the dial failed (%q): %q", what, k, l, r.msg)
				}
			}
			ids = append(ids, r.id)
			msgs = append(msgs, strings.ReplaceAll(r.msg, endpoints[k], "ENDPOINT"))
		}
		if ids[0] != ids[1] || ids[0] != "endpoint_unreachable" {
			t.Errorf("%s: ids closed %q, open %q; want both endpoint_unreachable", what, ids[0], ids[1])
		}
		if msgs[0] != msgs[1] {
			t.Errorf("%s: the messages tell a closed port from an open one:\n  closed: %q\n  open:   %q", what, rs["closed"].msg, rs["open"].msg)
		}
	}

	t.Run("Archive", func(t *testing.T) {
		rs := map[string]reply{}
		eps := map[string]string{"closed": closed, "open": open.addr()}
		for k, ep := range eps {
			body := policyBody("probe", "probe-bucket", `{namespace="x"}`)
			body["destination"].(map[string]any)["endpoint"] = ep
			start := time.Now()
			rs[k] = s.do(t, w.evil, "POST", "/api/v1/logs/archive/policies", body)
			t.Logf("archive endpoint at the %s port: %s in %v", k, rs[k], time.Since(start).Round(time.Millisecond))
		}
		check(t, "archive endpoint", rs, eps)
	})
	t.Run("Cluster", func(t *testing.T) {
		rs := map[string]reply{}
		eps := map[string]string{"closed": closed, "open": open.addr()}
		for k, ep := range eps {
			doc := kubeconfigDoc(map[string]any{"server": "https://" + ep, "insecure-skip-tls-verify": true}, map[string]any{"token": "x"})
			start := time.Now()
			rs[k] = s.do(t, w.evil, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": "probe", "kubeconfig": doc})
			t.Logf("cluster server at the %s port: %s in %v", k, rs[k], time.Since(start).Round(time.Millisecond))
		}
		check(t, "cluster server", rs, eps)
	})
	if open.conns.Load() == 0 {
		t.Error("the open port got no connection: the check above did not test what it should")
	}

	// An internal HTTP service that is no S3 server: what it answers does
	// not come back to the tenant, or the API reads internal services out.
	t.Run("NoReflection", func(t *testing.T) {
		const secret = "INTERNAL-SERVICE-SECRET-3b9d"
		for _, tc := range []struct {
			name, contentType, body string
			code                    int
		}{
			{"xml-error", "application/xml", "<?xml version=\"1.0\"?><Error><Code>" + secret + "</Code><Message>" + secret + "</Message></Error>", 403},
			{"html", "text/html", "<html><title>" + secret + "</title></html>", 404},
			{"json", "application/json", `{"error":"` + secret + `"}`, 500},
		} {
			internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(tc.body))
			}))
			body := policyBody("probe", "probe-bucket", `{namespace="x"}`)
			body["destination"].(map[string]any)["endpoint"] = internal.URL
			r := s.do(t, w.evil, "POST", "/api/v1/logs/archive/policies", body)
			t.Logf("archive endpoint at an internal %s service: %s", tc.name, r)
			if r.code != 400 || strings.Contains(strings.ToUpper(string(r.body)), strings.ToUpper(secret)) {
				t.Errorf("archive endpoint at an internal service answering %d %s: got %s; want 400 without what the service answered "+
					"(internal/archive/s3.go classify passes the response's code and message through)", tc.code, tc.name, r)
			}
			doc := kubeconfigDoc(map[string]any{"server": internal.URL}, map[string]any{"token": "x"})
			r = s.do(t, w.evil, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": "probe", "kubeconfig": doc})
			t.Logf("cluster server at an internal %s service: %s", tc.name, r)
			if r.code != 400 || strings.Contains(strings.ToUpper(string(r.body)), strings.ToUpper(secret)) {
				t.Errorf("cluster server at an internal service answering %d %s: got %s; want 400 without what the service answered", tc.code, tc.name, r)
			}
			internal.Close()
		}
	})
}

// testRedirect: with only 127.0.0.1 allowed, an endpoint there that
// redirects to 127.0.0.2 (loopback, refused) does not get kubelog to
// connect to 127.0.0.2.
func testRedirect(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var trapped atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			trapped.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	target := ln.Addr().String()
	var asked atomic.Int64
	redirect := func(scheme string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked.Add(1)
			http.Redirect(w, r, scheme+"://"+target+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		})
	}
	plain := httptest.NewServer(redirect("http"))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(redirect("https"))
	t.Cleanup(tlsSrv.Close)

	s := startServer(t, "--egress-allow", "127.0.0.1/32")
	evil := s.tenantToken(t, "evil")
	doc := kubeconfigDoc(map[string]any{"server": tlsSrv.URL, "insecure-skip-tls-verify": true}, map[string]any{"token": "x"})
	r := s.do(t, evil, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": "redirect", "kubeconfig": doc})
	t.Logf("cluster server redirecting to %s: %s", target, r)
	if r.code != 400 || (r.id != "endpoint_refused_by_policy" && r.id != "endpoint_unreachable") {
		t.Errorf("cluster server redirecting to %s: got %s; want 400 endpoint_refused_by_policy or endpoint_unreachable", target, r)
	}
	body := policyBody("redirect", "redirect-bucket", `{namespace="x"}`)
	body["destination"].(map[string]any)["endpoint"] = plain.URL
	r = s.do(t, evil, "POST", "/api/v1/logs/archive/policies", body)
	t.Logf("archive endpoint redirecting to %s: %s", target, r)
	if r.code != 400 {
		t.Errorf("archive endpoint redirecting to %s: got %s; want 400", target, r)
	}
	if asked.Load() == 0 {
		t.Fatal("the redirecting endpoints were never asked: the check did not test redirects")
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("kubelog followed a redirect to %s, refused by the policy: %d connections", target, n)
	}
}
