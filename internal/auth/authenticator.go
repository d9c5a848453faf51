package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
	"k8s.io/utils/clock"
)

// TokenStore is where the Authenticator finds tokens; *meta.DB is one. Both
// methods may be called concurrently.
type TokenStore interface {
	// LookupTokenByHash returns the token with the given hash, or an error
	// matching meta.ErrNotFound.
	LookupTokenByHash(ctx context.Context, hash string) (meta.Token, error)
	// TouchToken records that the token was used at the given time.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

var _ TokenStore = (*meta.DB)(nil)

// AuthenticatorConfig configures an Authenticator.
type AuthenticatorConfig struct {
	// CacheTTL is how long a token lookup is reused before the store is
	// asked again. It bounds how late a revocation made by another process
	// takes effect.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached tokens.
	CacheSize int
	// TouchInterval is how stale a token's last-used time may get before
	// authentication writes it again; it keeps request paths from writing
	// to the database on every call.
	TouchInterval time.Duration
	// Clock tells the time for expiry and caching; nil is the system clock.
	Clock clock.PassiveClock
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// DefaultAuthenticatorConfig returns the defaults: revocations take effect
// within a second.
func DefaultAuthenticatorConfig() AuthenticatorConfig {
	return AuthenticatorConfig{
		CacheTTL:      time.Second,
		CacheSize:     10000,
		TouchInterval: time.Minute,
	}
}

// Validate checks the config.
func (c AuthenticatorConfig) Validate() error {
	if c.CacheTTL < 0 {
		return fmt.Errorf("authenticator cache ttl must not be negative, got %v", c.CacheTTL)
	}
	if c.CacheSize < 0 {
		return fmt.Errorf("authenticator cache size must not be negative, got %d", c.CacheSize)
	}
	if c.TouchInterval <= 0 {
		return fmt.Errorf("authenticator touch interval must be positive, got %v", c.TouchInterval)
	}
	return nil
}

// Authenticator turns bearer tokens into Principals. It is safe for
// concurrent use.
type Authenticator struct {
	store  TokenStore
	cfg    AuthenticatorConfig
	clock  clock.PassiveClock
	logger *slog.Logger

	mu sync.Mutex // guards cache
	// cache maps a token hash to its last lookup; it holds hashes, never
	// secrets.
	cache map[string]cachedToken
}

// cachedToken is one lookup result.
type cachedToken struct {
	principal Principal
	expiresAt time.Time // zero: never
	fetchedAt time.Time
}

// NewAuthenticator returns an Authenticator reading tokens from store.
func NewAuthenticator(store TokenStore, cfg AuthenticatorConfig) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{
		store:  store,
		cfg:    cfg,
		clock:  clockOrSystem(cfg.Clock),
		logger: logger,
		cache:  make(map[string]cachedToken),
	}, nil
}

// Authenticate checks a bearer token, given either bare or as an
// Authorization header value ("Bearer klg_..."). A missing, malformed,
// unknown, expired or revoked token is an error wrapping ErrUnauthenticated;
// any other error is the store failing.
func (a *Authenticator) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	token := strings.TrimSpace(bearer)
	if scheme, rest, _ := strings.Cut(token, " "); strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(rest)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	if !wellFormed(token) {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	hash := hashToken(token)
	now := a.clock.Now()

	a.mu.Lock()
	c, ok := a.cache[hash]
	a.mu.Unlock()
	if !ok || now.Sub(c.fetchedAt) >= a.cfg.CacheTTL || now.Before(c.fetchedAt) {
		var err error
		c, err = a.lookup(ctx, hash, now)
		if err != nil {
			return nil, err
		}
	}
	if !c.expiresAt.IsZero() && !now.Before(c.expiresAt) {
		return nil, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	}
	p := c.principal
	return &p, nil
}

// lookup reads the token from the store, checks it and caches the result.
func (a *Authenticator) lookup(ctx context.Context, hash string, now time.Time) (cachedToken, error) {
	tok, err := a.store.LookupTokenByHash(ctx, hash)
	if errors.Is(err, meta.ErrNotFound) {
		a.forget(hash)
		return cachedToken{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if err != nil {
		return cachedToken{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1 {
		a.forget(hash)
		return cachedToken{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if !tok.RevokedAt.IsZero() {
		a.forget(hash)
		return cachedToken{}, fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	}
	scopes, err := ParseScopes(tok.Scopes)
	if err != nil {
		// A row this package did not write; refuse it rather than guess.
		a.forget(hash)
		return cachedToken{}, fmt.Errorf("%w: token %s has bad scopes: %v", ErrUnauthenticated, tok.ID, err)
	}
	if now.Sub(tok.LastUsedAt) >= a.cfg.TouchInterval {
		if err := a.store.TouchToken(ctx, tok.ID, now); err != nil && ctx.Err() == nil {
			a.logger.Warn("cannot record token use; last_used_at will lag", "token_id", tok.ID, "err", err)
		}
	}
	c := cachedToken{
		principal: Principal{TokenID: tok.ID, Tenant: tok.Tenant, Scopes: scopes, Name: tok.Name},
		expiresAt: tok.ExpiresAt,
		fetchedAt: now,
	}
	a.remember(hash, c)
	return c, nil
}

func (a *Authenticator) remember(hash string, c cachedToken) {
	if a.cfg.CacheTTL == 0 || a.cfg.CacheSize == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.cache[hash]; !ok && len(a.cache) >= a.cfg.CacheSize {
		// Full: drop stale entries, and if none are, an arbitrary one.
		for h, old := range a.cache {
			if c.fetchedAt.Sub(old.fetchedAt) >= a.cfg.CacheTTL {
				delete(a.cache, h)
			}
		}
		for h := range a.cache {
			if len(a.cache) < a.cfg.CacheSize {
				break
			}
			delete(a.cache, h)
		}
	}
	a.cache[hash] = c
}

func (a *Authenticator) forget(hash string) {
	a.mu.Lock()
	delete(a.cache, hash)
	a.mu.Unlock()
}
