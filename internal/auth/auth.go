// Package auth decides who a request is and how much it may do: bearer
// tokens (issued, hashed, looked up and cached), scopes, the tenant a
// request acts in, per-tenant limits and token-bucket rate limiting.
//
// Errors map to HTTP status codes: ErrUnauthenticated is 401, ErrForbidden
// 403 and ErrInvalidTenant 400. Everything else (a database failure) is the
// server's fault.
package auth

import (
	"errors"
	"time"
)

// ErrUnauthenticated is returned, wrapped with the reason, for a missing,
// malformed, unknown, expired or revoked token.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden is returned, wrapped, when a valid token lacks the scope or
// the tenant a request needs.
var ErrForbidden = errors.New("forbidden")

// ErrInvalidTenant is returned, wrapped, for a tenant name that does not
// match [a-z0-9][a-z0-9._-]{0,62}.
var ErrInvalidTenant = errors.New("invalid tenant name")

// Clock tells the time. Components take one so tests can move time by hand
// instead of sleeping; nil means the system clock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func clockOrSystem(c Clock) Clock {
	if c == nil {
		return systemClock{}
	}
	return c
}
