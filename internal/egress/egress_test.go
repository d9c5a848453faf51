package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func prefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	ps, err := ParsePrefixes(s)
	if err != nil {
		t.Fatalf("ParsePrefixes(%q): %v", s, err)
	}
	return ps
}

func TestPolicyCheck(t *testing.T) {
	def := DefaultPolicy()
	strict := Policy{}
	admin := Policy{AllowPrivate: true, Allow: prefixes(t, "127.0.0.1, 169.254.10.0/24"), Deny: prefixes(t, "8.8.4.0/24, 10.9.0.0/16, 2001:db8:bad::/48")}
	f := func(name string, p Policy, addr string, wantOK bool) {
		t.Helper()
		ip := netip.MustParseAddr(addr)
		err := p.Check(ip)
		if ok := err == nil; ok != wantOK {
			t.Errorf("%s: Check(%s) = %v; want allowed=%v", name, addr, err, wantOK)
			return
		}
		if err != nil {
			e := Classify(err)
			if e == nil || e.Kind != Refused || e.ID() != "endpoint_refused_by_policy" {
				t.Errorf("%s: Check(%s) = %#v; want a Refused *Error", name, addr, err)
			}
		}
	}
	for _, p := range []struct {
		name string
		p    Policy
	}{{"default", def}, {"strict", strict}} {
		f(p.name, p.p, "127.0.0.1", false)
		f(p.name, p.p, "127.255.0.9", false)
		f(p.name, p.p, "::1", false)
		f(p.name, p.p, "::ffff:127.0.0.1", false)
		f(p.name, p.p, "169.254.169.254", false)
		f(p.name, p.p, "::ffff:169.254.169.254", false)
		f(p.name, p.p, "fe80::1", false)
		f(p.name, p.p, "fe80::1%eth0", false)
		f(p.name, p.p, "224.0.0.251", false)
		f(p.name, p.p, "239.1.2.3", false)
		f(p.name, p.p, "ff02::1", false)
		f(p.name, p.p, "ff0e::1", false)
		f(p.name, p.p, "0.0.0.0", false)
		f(p.name, p.p, "0.1.2.3", false)
		f(p.name, p.p, "::", false)
		f(p.name, p.p, "::ffff:0.0.0.0", false)
		f(p.name, p.p, "255.255.255.255", false)
		f(p.name, p.p, "240.0.0.1", false)
		f(p.name, p.p, "::7f00:1", false)           // IPv4-compatible 127.0.0.1
		f(p.name, p.p, "::ffff:0:a9fe:a9fe", false) // IPv4-translated 169.254.169.254
		f(p.name, p.p, "2001:0:4136:e378:8000:63bf:3fff:fdd2", false)
		f(p.name, p.p, "64:ff9b::7f00:1", false)    // NAT64 of 127.0.0.1
		f(p.name, p.p, "64:ff9b::a9fe:a9fe", false) // NAT64 of 169.254.169.254
		f(p.name, p.p, "2002:7f00:1::1", false)     // 6to4 of 127.0.0.1
		f(p.name, p.p, "8.8.8.8", true)
		f(p.name, p.p, "::ffff:8.8.8.8", true)
		f(p.name, p.p, "172.32.0.1", true)
		f(p.name, p.p, "100.128.0.1", true)
		f(p.name, p.p, "2606:4700::1111", true)
		f(p.name, p.p, "64:ff9b::808:808", true) // NAT64 of 8.8.8.8
		f(p.name, p.p, "2002:808:808::1", true)
	}
	for _, addr := range []string{"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.254", "fd00::1", "fc00::1", "fec0::1", "::ffff:10.1.2.3", "64:ff9b::a01:203", "64:ff9b:1::1", "2002:a01:203::1"} {
		f("default", def, addr, true)
		f("strict", strict, addr, false)
	}
	f("admin", admin, "127.0.0.1", true)
	f("admin", admin, "::ffff:127.0.0.1", true)
	f("admin", admin, "127.0.0.2", false)
	f("admin", admin, "::1", false)
	f("admin", admin, "169.254.10.7", true)
	f("admin", admin, "169.254.169.254", false)
	f("admin", admin, "8.8.4.4", false)
	f("admin", admin, "8.8.8.8", true)
	f("admin", admin, "10.9.1.1", false)
	f("admin", admin, "64:ff9b::a09:101", false) // NAT64 of denied 10.9.1.1
	f("admin", admin, "10.8.1.1", true)
	f("admin", admin, "2001:db8:bad::1", false)
	f("admin", admin, "2001:db8:600d::1", true)
	f("deny beats allow", Policy{Allow: prefixes(t, "8.0.0.0/8"), Deny: prefixes(t, "8.8.8.8")}, "8.8.8.8", false)
	f("mapped prefix", Policy{Deny: []netip.Prefix{netip.MustParsePrefix("::ffff:8.8.0.0/112")}}, "8.8.1.1", false)
	f("mapped prefix", Policy{Allow: []netip.Prefix{netip.MustParsePrefix("::ffff:127.0.0.0/104")}}, "127.0.0.5", true)
	f("v6 prefix not v4", Policy{Deny: prefixes(t, "::/0")}, "8.8.8.8", true)
	f("v6 prefix not v4", Policy{Deny: prefixes(t, "::/0")}, "2606:4700::1111", false)

	if err := def.Check(netip.Addr{}); err == nil {
		t.Errorf("Check(zero Addr) = nil; want refused")
	}
}

func TestCheckCause(t *testing.T) {
	f := func(p Policy, addr, wantMsg, wantCause string) {
		t.Helper()
		e := Classify(p.Check(netip.MustParseAddr(addr)))
		if e == nil {
			t.Fatalf("Check(%s) = nil; want refused", addr)
		}
		if got := e.Error(); got != wantMsg {
			t.Errorf("Check(%s).Error() = %q; want %q", addr, got, wantMsg)
		}
		if got := e.Err.Error(); got != wantCause {
			t.Errorf("Check(%s) cause = %q; want %q", addr, got, wantCause)
		}
	}
	f(DefaultPolicy(), "169.254.169.254", "endpoint refused by policy: 169.254.169.254 resolves to an address kubelog may not connect to (loopback, link-local, unspecified or a range the operator refused)", "169.254.169.254 is link-local")
	f(DefaultPolicy(), "::1", "endpoint refused by policy: ::1 resolves to an address kubelog may not connect to (loopback, link-local, unspecified or a range the operator refused)", "::1 is loopback")
	f(Policy{}, "10.0.0.1", "endpoint refused by policy: 10.0.0.1 resolves to an address kubelog may not connect to (loopback, link-local, unspecified or a range the operator refused)", "10.0.0.1 is private and the policy does not allow private addresses")
	f(DefaultPolicy(), "64:ff9b::7f00:1", "endpoint refused by policy: 64:ff9b::7f00:1 resolves to an address kubelog may not connect to (loopback, link-local, unspecified or a range the operator refused)", "64:ff9b::7f00:1 embeds 127.0.0.1, which is loopback")
	f(Policy{Deny: prefixes(t, "1.1.1.1")}, "1.1.1.1", "endpoint refused by policy: 1.1.1.1 resolves to an address kubelog may not connect to (loopback, link-local, unspecified or a range the operator refused)", "1.1.1.1 is in the operator's deny list")
}

func TestValidate(t *testing.T) {
	if err := (Policy{Allow: prefixes(t, "10.0.0.0/8"), Deny: prefixes(t, "::1")}).Validate(); err != nil {
		t.Errorf("Validate() = %v; want nil", err)
	}
	if err := (Policy{Deny: []netip.Prefix{{}}}).Validate(); err == nil || !strings.Contains(err.Error(), "deny item 1") {
		t.Errorf("Validate(zero deny prefix) = %v; want an error naming deny item 1", err)
	}
	if err := (Policy{Allow: []netip.Prefix{{}}}).Validate(); err == nil || !strings.Contains(err.Error(), "allow item 1") {
		t.Errorf("Validate(zero allow prefix) = %v; want an error naming allow item 1", err)
	}
}

func TestParsePrefixes(t *testing.T) {
	ok := func(in, want string) {
		t.Helper()
		ps, err := ParsePrefixes(in)
		if err != nil {
			t.Fatalf("ParsePrefixes(%q): %v", in, err)
		}
		if got := joinPrefixes(ps); got != want {
			t.Errorf("ParsePrefixes(%q) = %q; want %q", in, got, want)
		}
	}
	ok("", "")
	ok("   ", "")
	ok("10.0.0.0/8", "10.0.0.0/8")
	ok(" 10.0.0.0/8 , 192.168.1.1 ,fd00::/8", "10.0.0.0/8,192.168.1.1/32,fd00::/8")
	ok("::1", "::1/128")
	ok("10.1.2.3/8", "10.0.0.0/8")
	ok("::ffff:10.0.0.0/104", "10.0.0.0/8")
	ok("::ffff:1.2.3.4", "1.2.3.4/32")
	ok("0.0.0.0/0,::/0", "0.0.0.0/0,::/0")
	if ps, _ := ParsePrefixes(""); ps != nil {
		t.Errorf("ParsePrefixes(\"\") = %v; want nil", ps)
	}

	bad := func(in, wantItem string) {
		t.Helper()
		ps, err := ParsePrefixes(in)
		if err == nil {
			t.Fatalf("ParsePrefixes(%q) = %v; want an error", in, ps)
		}
		if !strings.Contains(err.Error(), wantItem) {
			t.Errorf("ParsePrefixes(%q) error %q; want it to name %s", in, err, wantItem)
		}
	}
	bad("10.0.0.0/33", `item 1 "10.0.0.0/33"`)
	bad("10.0.0.0/8, 300.1.1.1", `item 2 "300.1.1.1"`)
	bad("10.0.0.0/8,,::1", `item 2 ""`)
	bad("10.0.0.0/8,", `item 2 ""`)
	bad("example.com", `item 1 "example.com"`)
	bad("fe80::1%eth0", `item 1 "fe80::1%eth0"`)
	bad("10.0.0.0/x", `item 1 "10.0.0.0/x"`)
	bad("1.2.3.4/", `item 1 "1.2.3.4/"`)
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// listen starts a TCP server on 127.0.0.1 that accepts and closes
// connections until the test ends, and returns its port.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// closedPort returns a port on 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

const refusedMsg = " resolves to an address kubelog may not connect to (loopback, link-local, unspecified or a range the operator refused)"

func TestDialContext(t *testing.T) {
	port := listen(t)
	loopback := Policy{AllowPrivate: true, Allow: prefixes(t, "127.0.0.0/8")}
	ctx := context.Background()

	t.Run("loopback refused by default", func(t *testing.T) {
		conn, err := DefaultPolicy().DialContext(ctx, "tcp", "127.0.0.1:"+port)
		if err == nil {
			conn.Close()
			t.Fatal("dial 127.0.0.1 succeeded; want refused")
		}
		e := Classify(err)
		if e == nil || e.Kind != Refused {
			t.Fatalf("dial error %#v; want a Refused *Error", err)
		}
		if got, want := err.Error(), "endpoint refused by policy: 127.0.0.1"+refusedMsg; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
		if e.Target != "127.0.0.1:"+port {
			t.Errorf("Target = %q; want 127.0.0.1:%s", e.Target, port)
		}
	})
	t.Run("loopback allowed by Allow", func(t *testing.T) {
		conn, err := loopback.DialContext(ctx, "tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conn.Close()
	})
	t.Run("localhost refused at connect time", func(t *testing.T) {
		conn, err := DefaultPolicy().DialContext(ctx, "tcp", "localhost:"+port)
		if err == nil {
			conn.Close()
			t.Fatal("dial localhost succeeded; want refused")
		}
		e := Classify(err)
		if e == nil || e.Kind != Refused {
			t.Fatalf("dial error %v; want a Refused *Error", err)
		}
		if got, want := err.Error(), "endpoint refused by policy: localhost"+refusedMsg; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
		if !strings.Contains(e.Detail(), "is loopback") {
			t.Errorf("Detail() = %q; want the cause", e.Detail())
		}
	})
	t.Run("localhost allowed by Allow", func(t *testing.T) {
		conn, err := Policy{Allow: prefixes(t, "127.0.0.0/8,::1")}.DialContext(ctx, "tcp", "localhost:"+port)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conn.Close()
	})
	t.Run("closed port looks generic", func(t *testing.T) {
		closed := closedPort(t)
		conn, err := loopback.DialContext(ctx, "tcp", "127.0.0.1:"+closed)
		if err == nil {
			conn.Close()
			t.Fatal("dial closed port succeeded")
		}
		e := Classify(err)
		if e == nil || e.Kind != Unreachable || e.ID() != "endpoint_unreachable" {
			t.Fatalf("dial error %#v; want an Unreachable *Error", err)
		}
		if got, want := err.Error(), "endpoint unreachable: 127.0.0.1:"+closed; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("errors.Is(%v, ECONNREFUSED) = false; want the cause kept", e.Detail())
		}
	})
	t.Run("unresolvable name looks generic", func(t *testing.T) {
		_, err := loopback.DialContext(ctx, "tcp", "no-such-host.invalid:443")
		e := Classify(err)
		if e == nil || e.Kind != Unreachable {
			t.Fatalf("dial error %v; want an Unreachable *Error", err)
		}
		if got, want := err.Error(), "endpoint unreachable: no-such-host.invalid:443"; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := loopback.DialContext(cctx, "tcp", "127.0.0.1:"+port)
		if e := Classify(err); e == nil || e.Kind != Unreachable {
			t.Fatalf("dial error %v; want an Unreachable *Error", err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false; want true", err)
		}
	})
	t.Run("other networks refused", func(t *testing.T) {
		for _, network := range []string{"udp", "unix", "ip4:icmp"} {
			_, err := loopback.DialContext(ctx, network, "127.0.0.1:"+port)
			if e := Classify(err); e == nil || e.Kind != Refused {
				t.Errorf("dial %s: %v; want a Refused *Error", network, err)
			}
		}
	})
}

func TestErrorsLookAlike(t *testing.T) {
	// A tenant probing an internal address must not learn whether it is
	// open, closed or filtered from the message.
	port := listen(t)
	closed := closedPort(t)
	p := Policy{}
	ctx := context.Background()
	for _, addr := range []string{"127.0.0.1:" + port, "127.0.0.1:" + closed} {
		_, err := p.DialContext(ctx, "tcp", addr)
		if err == nil {
			t.Fatalf("dial %s succeeded; want refused", addr)
		}
		msg := err.Error()
		if want := "endpoint refused by policy: 127.0.0.1" + refusedMsg; msg != want {
			t.Errorf("dial %s: %q; want %q", addr, msg, want)
		}
		for _, leak := range []string{"connection refused", "timeout", "no route", "dial tcp", port, closed} {
			if strings.Contains(msg, leak) {
				t.Errorf("dial %s: %q contains %q", addr, msg, leak)
			}
		}
	}
	_, err := Policy{Allow: prefixes(t, "127.0.0.1")}.DialContext(ctx, "tcp", "127.0.0.1:"+closed)
	if err == nil {
		t.Fatal("dial closed port succeeded")
	}
	for _, leak := range []string{"connection refused", "dial tcp", "connect"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("closed port: %q contains %q", err.Error(), leak)
		}
	}
}

func TestHTTPClient(t *testing.T) {
	var hops int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/loop":
			hops++
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/hops":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if n > 0 {
				http.Redirect(w, r, fmt.Sprintf("/hops?n=%d", n-1), http.StatusFound)
				return
			}
			fmt.Fprint(w, "ok")
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	p := Policy{Allow: prefixes(t, "127.0.0.1")}
	client := &http.Client{Transport: p.Transport(nil), CheckRedirect: p.CheckRedirect}
	defer client.CloseIdleConnections()

	get := func(path string) error {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get("/"); err != nil {
		t.Fatalf("GET / through allowed loopback: %v", err)
	}
	if err := get("/hops?n=5"); err != nil {
		t.Errorf("GET with 5 redirects: %v; want ok", err)
	}

	err := get("/metadata")
	e := Classify(err)
	if e == nil || e.Kind != Refused {
		t.Fatalf("redirect to metadata: %v; want a Refused *Error", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("redirect error %T; want it wrapped in *url.Error by net/http", err)
	}
	if got, want := e.Error(), "endpoint refused by policy: 169.254.169.254"+refusedMsg; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}

	err = get("/loop")
	if e := Classify(err); e == nil || e.Kind != Refused || !strings.Contains(e.Error(), "not followed") {
		t.Errorf("redirect loop: %v; want a Refused redirect *Error", err)
	}
	if hops != maxRedirects+1 {
		t.Errorf("redirect loop hit the server %d times; want %d", hops, maxRedirects+1)
	}

	// Without Allow the server itself is refused at connect time.
	strict := DefaultPolicy()
	sc := &http.Client{Transport: strict.Transport(nil), CheckRedirect: strict.CheckRedirect}
	_, err = sc.Get(srv.URL)
	if e := Classify(err); e == nil || e.Kind != Refused {
		t.Errorf("GET loopback with default policy: %v; want a Refused *Error", err)
	}
}

func TestCheckRedirect(t *testing.T) {
	p := DefaultPolicy()
	req := func(raw string) *http.Request {
		t.Helper()
		r, err := http.NewRequest(http.MethodGet, raw, nil)
		if err != nil {
			t.Fatalf("new request %q: %v", raw, err)
		}
		return r
	}
	chain := func(n int, raw string) []*http.Request {
		via := make([]*http.Request, n)
		for i := range via {
			via[i] = req(raw)
		}
		return via
	}
	f := func(to string, via []*http.Request, wantOK bool) {
		t.Helper()
		err := p.CheckRedirect(req(to), via)
		if (err == nil) != wantOK {
			t.Errorf("CheckRedirect(%s, %d via) = %v; want allowed=%v", to, len(via), err, wantOK)
		}
		if err != nil {
			if e := Classify(err); e == nil || e.Kind != Refused {
				t.Errorf("CheckRedirect(%s) = %#v; want a Refused *Error", to, err)
			}
		}
	}
	f("https://example.com/", chain(1, "https://a.example/"), true)
	f("https://example.com/", chain(5, "https://a.example/"), true)
	f("https://example.com/", chain(6, "https://a.example/"), false)
	f("http://example.com/", chain(1, "https://a.example/"), false)
	f("https://example.com/", chain(1, "http://a.example/"), true)
	f("ftp://example.com/", chain(1, "http://a.example/"), false)
	f("http://169.254.169.254/", chain(1, "http://a.example/"), false)
	f("http://[::1]:8080/", chain(1, "http://a.example/"), false)
	f("http://[fe80::1%25eth0]/", chain(1, "http://a.example/"), false)
	f("http://[::ffff:127.0.0.1]/", chain(1, "http://a.example/"), false)
	f("http://10.0.0.1/", chain(1, "http://a.example/"), true)
	f("http://8.8.8.8:80/", chain(1, "http://a.example/"), true)
	f("http://metadata.internal/", chain(1, "http://a.example/"), true) // checked when dialled

	err := p.CheckRedirect(req("http://example.com/"), chain(1, "https://a.example/"))
	if got, want := err.Error(), "endpoint refused by policy: redirect to example.com not followed (more than 5 redirects, https to http, or not http(s))"; got != want {
		t.Errorf("downgrade Error() = %q; want %q", got, want)
	}
}

func TestTransport(t *testing.T) {
	p := DefaultPolicy()
	def := p.Transport(nil)
	if def.Proxy != nil || def.DialContext == nil || !def.ForceAttemptHTTP2 || def.TLSHandshakeTimeout == 0 {
		t.Errorf("Transport(nil) = proxy %v, dial %v, h2 %v, tls timeout %v; want no proxy, a dialer, HTTP/2, a TLS timeout",
			def.Proxy != nil, def.DialContext != nil, def.ForceAttemptHTTP2, def.TLSHandshakeTimeout)
	}
	var baseDialled bool
	dial := func(context.Context, string, string) (net.Conn, error) {
		baseDialled = true
		return nil, errors.New("base dialer")
	}
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dial,
		DialTLSContext:      dial,
		MaxIdleConnsPerHost: 7,
	}
	tr := p.Transport(base)
	if tr == base {
		t.Fatal("Transport(base) returned base; want a copy")
	}
	if tr.Proxy != nil || tr.DialTLSContext != nil || tr.MaxIdleConnsPerHost != 7 {
		t.Errorf("Transport(base) = proxy %v, TLS dial %v, idle %d; want no proxy, no TLS dial, idle 7",
			tr.Proxy != nil, tr.DialTLSContext != nil, tr.MaxIdleConnsPerHost)
	}
	if base.Proxy == nil || base.DialTLSContext == nil {
		t.Error("Transport(base) modified base")
	}
	_, err := tr.DialContext(context.Background(), "tcp", "127.0.0.1:1")
	if baseDialled {
		t.Error("Transport(base) dialled with base's dialer")
	}
	if e := Classify(err); e == nil || e.Kind != Refused {
		t.Errorf("Transport(base) dial 127.0.0.1: %v; want a Refused *Error", err)
	}
	if u, err := NoProxy(nil); u != nil || err != nil {
		t.Errorf("NoProxy() = %v, %v; want nil, nil", u, err)
	}
}

func TestClassifyPublic(t *testing.T) {
	inner := &Error{Kind: Refused, Target: "api.example:6443", Err: errors.New("cause")}
	wrapped := &url.Error{Op: "Get", URL: "https://api.example:6443/version", Err: fmt.Errorf("client-go: %w", inner)}
	if got := Classify(wrapped); got != inner {
		t.Errorf("Classify(wrapped) = %v; want the inner *Error", got)
	}
	if got := Classify(errors.New("plain")); got != nil {
		t.Errorf("Classify(plain) = %v; want nil", got)
	}
	if got := Classify(nil); got != nil {
		t.Errorf("Classify(nil) = %v; want nil", got)
	}
	if got := Public("x:1", wrapped); got != inner {
		t.Errorf("Public(wrapped) = %v; want the inner *Error", got)
	}
	if got := Public("x:1", nil); got != nil {
		t.Errorf("Public(nil) = %v; want nil", got)
	}
	tlsErr := errors.New("tls: failed to verify certificate: x509: certificate is valid for kubernetes.default.svc, not 10.0.0.1")
	pub := Public("api.example:6443", &url.Error{Op: "Get", URL: "https://api.example:6443", Err: tlsErr})
	if pub.Kind != Unreachable || pub.Error() != "endpoint unreachable: api.example:6443" {
		t.Errorf("Public(tls error) = %v (kind %v); want the generic Unreachable message", pub, pub.Kind)
	}
	if !errors.Is(pub, tlsErr) || !strings.Contains(pub.Detail(), "x509") {
		t.Errorf("Public(tls error) lost its cause: %q", pub.Detail())
	}
	if got := (&Error{}).Error(); got != "endpoint unreachable" {
		t.Errorf("zero Error.Error() = %q; want %q", got, "endpoint unreachable")
	}
	if got := (&Error{Kind: Kind(9), Target: "h:1"}).ID(); got != "endpoint_unreachable" {
		t.Errorf("unknown Kind ID = %q; want endpoint_unreachable", got)
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	p := Policy{AllowPrivate: true, Allow: prefixes(b, "127.0.0.1/32,192.0.2.0/24"), Deny: prefixes(b, "10.99.0.0/16,2001:db8::/32,203.0.113.0/24")}
	for _, s := range []string{"8.8.8.8", "10.1.2.3", "2606:4700::1111", "::ffff:1.1.1.1", "64:ff9b::808:808", "169.254.169.254"} {
		ip := netip.MustParseAddr(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Check(ip)
			}
		})
	}
}

func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"", " ", "10.0.0.0/8", " 10.0.0.0/8 , 192.168.1.1 ,fd00::/8", "::1", "10.1.2.3/8",
		"::ffff:10.0.0.0/104", "::ffff:1.2.3.4", "0.0.0.0/0,::/0", "10.0.0.0/33", "10.0.0.0/8,,::1", "fe80::1%eth0",
		"example.com", "1.2.3.4/", "::ffff:0:0/96", "::ffff:0:0/95"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePrefixes(s)
		if err != nil {
			if ps != nil {
				t.Fatalf("ParsePrefixes(%q) = %v with error %v; want nil", s, ps, err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if ps != nil {
				t.Fatalf("ParsePrefixes(%q) = %v; want nil", s, ps)
			}
			return
		}
		if n := strings.Count(s, ",") + 1; len(ps) != n {
			t.Fatalf("ParsePrefixes(%q) gave %d prefixes; want %d", s, len(ps), n)
		}
		for _, pr := range ps {
			if !pr.IsValid() || pr != pr.Masked() || pr.Addr().Zone() != "" || (pr.Addr().Is4In6() && pr.Bits() >= 96) {
				t.Fatalf("ParsePrefixes(%q) gave %v; want valid, masked, zoneless, not IPv4-mapped", s, pr)
			}
		}
		again, err := ParsePrefixes(joinPrefixes(ps))
		if err != nil {
			t.Fatalf("ParsePrefixes(%q) round trip of %q: %v", s, joinPrefixes(ps), err)
		}
		if joinPrefixes(again) != joinPrefixes(ps) {
			t.Fatalf("round trip of %q = %q; want %q", s, joinPrefixes(again), joinPrefixes(ps))
		}
	})
}
