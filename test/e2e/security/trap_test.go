package security_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tlsTrap is an HTTPS server that plays a Kubernetes API server which
// accepts anything: it answers every request with an empty PodList, so that
// a kubeconfig pointing at it would pass kubelog's connection check. It
// counts connections and records the Authorization headers it is sent.
type tlsTrap struct {
	*httptest.Server
	conns atomic.Int64

	mu sync.Mutex
	// auth are the Authorization headers received (guarded by mu).
	auth []string
}

func newTLSTrap(t *testing.T) *tlsTrap {
	t.Helper()
	tr := &tlsTrap{}
	tr.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.auth = append(tr.auth, r.Header.Get("Authorization"))
		tr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}`))
	}))
	tr.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			tr.conns.Add(1)
		}
	}
	tr.StartTLS()
	t.Cleanup(tr.Close)
	return tr
}

// untouched fails the test if anything connected to the trap, saying which
// Authorization headers (shortened) arrived and whether one held a secret.
func (tr *tlsTrap) untouched(t *testing.T, secrets ...string) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, h := range tr.auth {
		for _, s := range secrets {
			if s != "" && strings.Contains(h, s) {
				t.Errorf("the trap received a secret in an Authorization header (%d bytes)", len(h))
			}
		}
	}
	if n := tr.conns.Load(); n != 0 {
		t.Errorf("the trap at %s got %d connections and %d requests; want none", tr.URL, n, len(tr.auth))
	}
}

// tcpTrap is a TCP port on loopback, on 127.0.0.1 and, when the host has
// IPv6, on [::1] with the same number, that accepts connections, counts them
// and closes them at once: open, but no S3 or Kubernetes server.
type tcpTrap struct {
	port  int
	has6  bool
	conns atomic.Int64
}

func newTCPTrap(t *testing.T) *tcpTrap {
	t.Helper()
	tr := &tcpTrap{}
	var lns []net.Listener
	for range 20 {
		ln4, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln4.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
		if err != nil && isNoIPv6(err) {
			lns, tr.port = []net.Listener{ln4}, port
			break
		}
		if err != nil { // the port is taken on ::1: try another
			ln4.Close()
			continue
		}
		lns, tr.port, tr.has6 = []net.Listener{ln4, ln6}, port, true
		break
	}
	if len(lns) == 0 {
		t.Fatal("no loopback port free on both 127.0.0.1 and ::1")
	}
	for _, ln := range lns {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				tr.conns.Add(1)
				c.Close()
			}
		}()
	}
	return tr
}

// isNoIPv6 reports whether a listen on ::1 failed because the host has no
// IPv6 loopback.
func isNoIPv6(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && (strings.Contains(se.Error(), "address not available") ||
		strings.Contains(se.Error(), "address family not supported") || strings.Contains(se.Error(), "cannot assign"))
}

// addr is host:port of the trap on 127.0.0.1.
func (tr *tcpTrap) addr() string { return "127.0.0.1:" + strconv.Itoa(tr.port) }

func (tr *tcpTrap) untouched(t *testing.T) {
	t.Helper()
	if n := tr.conns.Load(); n != 0 {
		t.Errorf("the listener on port %d got %d connections; want none", tr.port, n)
	}
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// noFileAppears fails the test if path exists now or appears within d.
func noFileAppears(t *testing.T, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if b, err := os.ReadFile(path); err == nil {
			t.Fatalf("%s exists: a program ran on the server (it wrote %q)", path, b)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
