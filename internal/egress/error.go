package egress

import (
	"errors"
	"net"
)

// Kind says why an outbound connection failed.
type Kind uint8

const (
	// Unreachable means the endpoint could not be reached: a name that does
	// not resolve, a refused connection, a timeout, no route, a failed TLS
	// handshake. The tenant is deliberately not told which.
	Unreachable Kind = iota
	// Refused means the Policy does not let kubelog connect there.
	Refused
)

// String returns the same identifier as Error.ID.
func (k Kind) String() string {
	if k == Refused {
		return "endpoint_refused_by_policy"
	}
	return "endpoint_unreachable"
}

// Error is an outbound connection failure whose Error text is safe to show a
// tenant. Any Kind other than Refused reads as Unreachable.
type Error struct {
	// Kind says whether the endpoint was unreachable or refused.
	Kind Kind
	// Target is the endpoint as the tenant gave it, host:port or host; never
	// an address a name resolved to.
	Target string
	// Err is the real cause, for the server log only: it may name resolved
	// addresses and say how the dial failed.
	Err error
}

// errRedirect marks a Refused Error from CheckRedirect that is about the
// redirect rather than an address.
var errRedirect = errors.New("redirect not followed")

// Error returns a message that names Target and nothing else about the
// failure, so it may be shown to the tenant.
func (e *Error) Error() string {
	if e.Kind != Refused {
		if e.Target == "" {
			return "endpoint unreachable"
		}
		return "endpoint unreachable: " + e.Target
	}
	host := e.Target
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if errors.Is(e.Err, errRedirect) {
		return "endpoint refused by policy: redirect to " + host +
			" not followed (more than 5 redirects, https to http, or not http(s))"
	}
	return "endpoint refused by policy: " + host + " resolves to an address kubelog may not connect to" +
		" (loopback, link-local, unspecified or a range the operator refused)"
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) and the like
// still work.
func (e *Error) Unwrap() error { return e.Err }

// Detail returns Error followed by the cause, for the server log; it must
// not be shown to the tenant.
func (e *Error) Detail() string {
	if e.Err == nil {
		return e.Error()
	}
	return e.Error() + ": " + e.Err.Error()
}

// ID returns a stable identifier of the Kind for API error bodies and
// metrics: "endpoint_unreachable" or "endpoint_refused_by_policy".
func (e *Error) ID() string { return e.Kind.String() }

// Classify returns the outermost *Error in err's chain, such as the one the
// dialer returned inside a *url.Error of net/http or client-go, or nil if
// there is none.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Public turns the error of any outbound call to the tenant's endpoint
// target into one safe to show the tenant: the *Error in err's chain if
// there is one, else an Unreachable *Error for target with err as its cause.
// It returns nil for a nil err; assign the result to an *Error, or check err
// first, to avoid a non-nil error interface holding a nil pointer.
func Public(target string, err error) *Error {
	if err == nil {
		return nil
	}
	if e := Classify(err); e != nil {
		return e
	}
	return &Error{Kind: Unreachable, Target: target, Err: err}
}
