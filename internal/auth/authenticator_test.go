package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
	"k8s.io/utils/clock"
)

func newTestAuthenticator(t testing.TB, db *meta.DB, clk clock.PassiveClock) *Authenticator {
	t.Helper()
	cfg := DefaultAuthenticatorConfig()
	cfg.Clock = clk
	a, err := NewAuthenticator(db, cfg)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	db, _ := openMeta(t)
	clock := newFakeClock()
	a := newTestAuthenticator(t, db, clock)
	secret, tok, err := IssueToken(ctx, db, clock.Now(), TokenSpec{Tenant: "default", Name: "ci", Scopes: ScopeRead | ScopeWrite})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	want := Principal{TokenID: tok.ID, Tenant: "default", Scopes: ScopeRead | ScopeWrite, Name: "ci"}
	for _, bearer := range []string{secret, "Bearer " + secret, "bearer  " + secret + " "} {
		p, err := a.Authenticate(ctx, bearer)
		if err != nil {
			t.Fatalf("Authenticate(%q): %v", bearer, err)
		}
		if *p != want {
			t.Fatalf("Authenticate(%q) = %+v; want %+v", bearer, *p, want)
		}
	}

	unauth := func(bearer, reason string) {
		t.Helper()
		p, err := a.Authenticate(ctx, bearer)
		if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), reason) {
			t.Fatalf("Authenticate(%q) = %+v, %v; want ErrUnauthenticated (%s)", bearer, p, err, reason)
		}
	}
	unauth("", "no bearer token")
	unauth("Bearer ", "no bearer token")
	unauth("Basic dXNlcjpwYXNz", "malformed")
	unauth("klg_short", "malformed")
	unauth(generateToken(), "unknown token")
}

func TestAuthenticateRecordsUse(t *testing.T) {
	ctx := context.Background()
	db, _ := openMeta(t)
	clock := newFakeClock()
	a := newTestAuthenticator(t, db, clock)
	secret, tok, err := IssueToken(ctx, db, clock.Now(), TokenSpec{Tenant: "default", Name: "ci", Scopes: ScopeRead})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		row, err := db.LookupTokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatalf("LookupTokenByHash: %v", err)
		}
		return row.LastUsedAt
	}
	first := clock.Now()
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Fatalf("last used = %v; want %v", got, first)
	}
	// Within the touch interval, uses are not written.
	clock.Step(30 * time.Second)
	a.Authenticate(ctx, secret)
	if got := lastUsed(); !got.Equal(first) {
		t.Fatalf("last used after 30s = %v; want still %v", got, first)
	}
	clock.Step(31 * time.Second)
	a.Authenticate(ctx, secret)
	if got, want := lastUsed(), clock.Now(); !got.Equal(want) {
		t.Fatalf("last used after 61s = %v; want %v", got, want)
	}
}

func TestAuthenticateExpiry(t *testing.T) {
	ctx := context.Background()
	db, _ := openMeta(t)
	clock := newFakeClock()
	a := newTestAuthenticator(t, db, clock)
	secret, _, err := IssueToken(ctx, db, clock.Now(), TokenSpec{Tenant: "default", Name: "short", Scopes: ScopeRead, TTL: time.Hour})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	clock.Step(time.Hour - time.Nanosecond)
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatalf("Authenticate just before expiry: %v", err)
	}
	// Expiry applies even to a cached lookup.
	clock.Step(time.Nanosecond)
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Authenticate at expiry: got %v; want ErrUnauthenticated (expired)", err)
	}
}

// TestRevocationFromAnotherProcess revokes through a second handle on the
// same file, as `kubelog token revoke` does while the server runs.
func TestRevocationFromAnotherProcess(t *testing.T) {
	ctx := context.Background()
	server, path := openMeta(t)
	cli := openMetaPath(t, path)
	clock := newFakeClock()
	a := newTestAuthenticator(t, server, clock)

	secret, tok, err := IssueToken(ctx, cli, clock.Now(), TokenSpec{Tenant: "default", Name: "ci", Scopes: ScopeRead})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatalf("Authenticate a token made by the CLI: %v", err)
	}
	if err := cli.RevokeToken(ctx, "", tok.ID, clock.Now()); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	clock.Step(DefaultAuthenticatorConfig().CacheTTL)
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("Authenticate after revocation and one cache TTL: got %v; want ErrUnauthenticated (revoked)", err)
	}
}

func TestAuthenticatorCacheBounded(t *testing.T) {
	ctx := context.Background()
	db, _ := openMeta(t)
	clock := newFakeClock()
	cfg := DefaultAuthenticatorConfig()
	cfg.Clock = clock
	cfg.CacheSize = 3
	a, err := NewAuthenticator(db, cfg)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	for i := range 10 {
		secret, _, err := IssueToken(ctx, db, clock.Now(), TokenSpec{Tenant: "default", Name: string(rune('a' + i)), Scopes: ScopeRead})
		if err != nil {
			t.Fatalf("IssueToken: %v", err)
		}
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		a.mu.Lock()
		n := len(a.cache)
		a.mu.Unlock()
		if n > cfg.CacheSize {
			t.Fatalf("cache holds %d tokens; want at most %d", n, cfg.CacheSize)
		}
	}
}

// failingStore is a TokenStore whose database is down.
type failingStore struct{}

func (failingStore) LookupTokenByHash(context.Context, string) (meta.Token, error) {
	return meta.Token{}, errors.New("disk I/O error")
}

func (failingStore) TouchToken(context.Context, string, time.Time) error { return nil }

func TestAuthenticateStoreFailureIsNotUnauthenticated(t *testing.T) {
	a, err := NewAuthenticator(failingStore{}, DefaultAuthenticatorConfig())
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	_, err = a.Authenticate(context.Background(), generateToken())
	if err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("Authenticate with a failing store: got %v; want a server error, not ErrUnauthenticated", err)
	}
}

func TestAuthenticatorConfigValidate(t *testing.T) {
	f := func(mod func(*AuthenticatorConfig), wantSubstr string) {
		t.Helper()
		cfg := DefaultAuthenticatorConfig()
		mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("Validate: got %v; want an error containing %q", err, wantSubstr)
		}
	}
	f(func(c *AuthenticatorConfig) { c.CacheTTL = -1 }, "cache ttl")
	f(func(c *AuthenticatorConfig) { c.CacheSize = -1 }, "cache size")
	f(func(c *AuthenticatorConfig) { c.TouchInterval = 0 }, "touch interval")
}

func BenchmarkAuthenticateCached(b *testing.B) {
	ctx := context.Background()
	db, _ := openMeta(b)
	a, err := NewAuthenticator(db, DefaultAuthenticatorConfig())
	if err != nil {
		b.Fatal(err)
	}
	secret, _, err := IssueToken(ctx, db, time.Now(), TokenSpec{Tenant: "default", Name: "bench", Scopes: ScopeRead})
	if err != nil {
		b.Fatal(err)
	}
	bearer := "Bearer " + secret
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, bearer); err != nil {
			b.Fatal(err)
		}
	}
}
