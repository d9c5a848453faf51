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

	"k8s.io/utils/clock"
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

func clockOrSystem(c clock.PassiveClock) clock.PassiveClock {
	if c == nil {
		return clock.RealClock{}
	}
	return c
}
