package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
)

func openMeta(t testing.TB) (*meta.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	return openMetaPath(t, path), path
}

func openMetaPath(t testing.TB, path string) *meta.DB {
	t.Helper()
	db, err := meta.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestGenerateToken(t *testing.T) {
	a, b := generateToken(), generateToken()
	if a == b {
		t.Fatalf("two tokens are equal: %s", a)
	}
	if !strings.HasPrefix(a, "klg_") || len(a) != 47 || !wellFormed(a) {
		t.Fatalf("token %q: want klg_ and 43 base64url characters", a)
	}
	if h := hashToken(a); len(h) != 64 || h == hashToken(b) {
		t.Fatalf("hash %q: want 64 hex characters, distinct per token", h)
	}
}

func TestWellFormed(t *testing.T) {
	good := generateToken()
	f := func(s string, want bool) {
		t.Helper()
		if got := wellFormed(s); got != want {
			t.Fatalf("wellFormed(%q) = %v; want %v", s, got, want)
		}
	}
	f(good, true)
	f("", false)
	f(good[:46], false)
	f(good+"A", false)
	f("xyz_"+good[4:], true) // an imported token
	f("short-secret", false)
	f(strings.Repeat("a", 19), false)
	f(strings.Repeat("a", 20), true)
	f(strings.Repeat("a", 20)+" ", false)
	f("klg_"+strings.Repeat("!", 43), false)
	// The last character carries 4 unused bits, which must be zero.
	f("klg_"+strings.Repeat("A", 42)+"B", false)
}

func TestIssueToken(t *testing.T) {
	ctx := context.Background()
	db, _ := openMeta(t)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

	secret, tok, err := IssueToken(ctx, db, now, TokenSpec{Tenant: "default", Name: "ci", Scopes: ScopeRead | ScopeWrite, TTL: 720 * time.Hour})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	if !wellFormed(secret) || tok.Hash != hashToken(secret) || strings.Contains(tok.Hash, secret) {
		t.Fatalf("IssueToken: secret %q, row %+v; want a well-formed secret stored only as its hash", secret, tok)
	}
	if tok.Scopes != "read,write" || !tok.ExpiresAt.Equal(now.Add(720*time.Hour)) || tok.Tenant != "default" {
		t.Fatalf("IssueToken row = %+v", tok)
	}
	stored, err := db.LookupTokenByHash(ctx, tok.Hash)
	if err != nil || stored != tok {
		t.Fatalf("stored row = %+v, %v; want %+v", stored, err, tok)
	}

	_, forever, err := IssueToken(ctx, db, now, TokenSpec{Tenant: "default", Name: "forever", Scopes: ScopeAdmin})
	if err != nil || !forever.ExpiresAt.IsZero() {
		t.Fatalf("IssueToken(no ttl) = %+v, %v; want no expiry", forever, err)
	}

	if _, _, err := IssueToken(ctx, db, now, TokenSpec{Tenant: "default", Name: "ci", Scopes: ScopeRead}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("IssueToken(same name): got %v; want meta.ErrConflict", err)
	}
	if _, _, err := IssueToken(ctx, db, now, TokenSpec{Tenant: "nope", Name: "ci", Scopes: ScopeRead}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("IssueToken(missing tenant): got %v; want meta.ErrNotFound", err)
	}
}

func TestTokenSpecValidate(t *testing.T) {
	f := func(spec TokenSpec, wantSubstr string) {
		t.Helper()
		err := spec.Validate()
		if err == nil || !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("Validate(%+v): got %v; want an error containing %q", spec, err, wantSubstr)
		}
	}
	ok := TokenSpec{Tenant: "default", Name: "ci", Scopes: ScopeRead}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v): %v", ok, err)
	}
	bad := ok
	bad.Tenant = "Bad"
	f(bad, "invalid tenant name")
	bad = ok
	bad.Name = ""
	f(bad, "token name must be")
	bad.Name = strings.Repeat("n", 129)
	f(bad, "token name must be")
	bad.Name = "a\nb"
	f(bad, "unprintable")
	bad = ok
	bad.Scopes = 0
	f(bad, "at least one scope")
	bad = ok
	bad.TTL = -time.Hour
	f(bad, "must not be negative")
}
