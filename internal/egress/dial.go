package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

const (
	// dialTimeout bounds one DialContext, DNS resolution included.
	dialTimeout = 10 * time.Second
	// maxRedirects is how many redirects CheckRedirect follows.
	maxRedirects = 5
)

// DialContext connects to addr (host:port) like net.Dialer.DialContext, for
// the networks "tcp", "tcp4" and "tcp6", within 10 seconds or ctx, whichever
// ends first. The policy is checked on the address each socket connects to,
// after DNS resolution, so a name resolving to a refused address is refused
// however often it re-resolves; of several addresses only allowed ones are
// tried. Every error is an *Error: Refused if the policy refused the address
// (or the network), Unreachable for anything else, DNS failures, timeouts and
// cancellation included (errors.Is still finds context.Canceled).
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &Error{Kind: Refused, Target: addr, Err: fmt.Errorf("network %q is not allowed, only tcp", network)}
	}
	d := net.Dialer{Timeout: dialTimeout, Control: p.control}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		kind := Unreachable
		var r *refusal
		if errors.As(err, &r) {
			kind = Refused
		}
		return nil, &Error{Kind: kind, Target: addr, Err: err}
	}
	return conn, nil
}

// control is the net.Dialer Control hook: address is the resolved ip:port
// the socket is about to connect to.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusal{why: invalid}
	}
	if r := p.refusal(ap.Addr()); r != nil {
		return r
	}
	return nil
}

// Transport returns a copy of base, or of a default transport if base is
// nil, that connects only through DialContext: it uses no proxy (one from
// the environment would connect on kubelog's behalf to addresses the policy
// never sees) and drops base's own dial and TLS dial functions. TLS still
// happens on top of the checked connection. base is not modified. Use it
// with CheckRedirect as the client's redirect policy.
func (p Policy) Transport(base *http.Transport) *http.Transport {
	var t *http.Transport
	if base == nil {
		t = &http.Transport{
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		}
	} else {
		t = base.Clone()
	}
	t.Proxy = nil
	t.DialContext = p.DialContext
	// Deprecated Dial is ignored once DialContext is set, but DialTLS is
	// used whenever DialTLSContext is nil, so both TLS dialers go.
	t.Dial = nil    //lint:ignore SA1019 cleared so that no dialer of the base transport bypasses the policy
	t.DialTLS = nil //lint:ignore SA1019 cleared so that no dialer of the base transport bypasses the policy
	t.DialTLSContext = nil
	return t
}

// CheckRedirect is an http.Client CheckRedirect policy: it follows at most 5
// redirects, only to http or https, never from https to http, and not to a
// literal IP address the policy refuses (a name is checked when DialContext
// connects). Its errors are *Error of Kind Refused; net/http wraps them in a
// *url.Error, where Classify finds them.
func (p Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	u := req.URL
	switch {
	case len(via) > maxRedirects:
		return redirectError(u, fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects))
	case u.Scheme != "http" && u.Scheme != "https":
		return redirectError(u, fmt.Errorf("%w: scheme %q", errRedirect, u.Scheme))
	case len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && u.Scheme == "http":
		return redirectError(u, fmt.Errorf("%w: https to http", errRedirect))
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		if r := p.refusal(ip); r != nil {
			return redirectError(u, r)
		}
	}
	return nil
}

// redirectError is the Refused Error for a redirect to u.
func redirectError(u *url.URL, cause error) *Error {
	return &Error{Kind: Refused, Target: u.Host, Err: fmt.Errorf("redirect to %s: %w", u.Redacted(), cause)}
}

// NoProxy is a proxy function that never uses a proxy, for
// rest.Config.Proxy of client-go, which otherwise uses the proxy from the
// environment.
func NoProxy(*http.Request) (*url.URL, error) { return nil, nil }
