package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func testToken(id, tenant, name string, created time.Time) Token {
	return Token{ID: id, Tenant: tenant, Name: name, Hash: "hash-" + id, Scopes: "read,write", CreatedAt: created}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	if _, err := d.EnsureTenant(ctx, "team-a"); err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

	tok1 := testToken("id1", DefaultTenant, "ci", t0)
	tok1.ExpiresAt = t0.Add(720 * time.Hour)
	tok2 := testToken("id2", "team-a", "ci", t0.Add(time.Second))
	tok3 := testToken("id3", "team-a", "grafana", t0.Add(2*time.Second))
	for _, tok := range []Token{tok1, tok2, tok3} {
		if err := d.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.ID, err)
		}
	}

	conflict := func(name string, tok Token) {
		t.Helper()
		if err := d.CreateToken(ctx, tok); !errors.Is(err, ErrConflict) {
			t.Fatalf("CreateToken(%s): got %v; want ErrConflict", name, err)
		}
	}
	dupID := testToken("id1", "team-a", "other", t0)
	dupID.Hash = "fresh"
	conflict("duplicate id", dupID)
	dupHash := testToken("id9", "team-a", "other", t0)
	dupHash.Hash = tok1.Hash
	conflict("duplicate hash", dupHash)
	conflict("duplicate live name", testToken("id9", "team-a", "ci", t0))

	if err := d.CreateToken(ctx, testToken("id9", "nope", "ci", t0)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CreateToken(missing tenant): got %v; want ErrNotFound", err)
	}
	if err := d.CreateToken(ctx, Token{ID: "x"}); err == nil {
		t.Fatalf("CreateToken(incomplete): got nil error; want one")
	}

	got, err := d.LookupTokenByHash(ctx, tok1.Hash)
	if err != nil {
		t.Fatalf("LookupTokenByHash: %v", err)
	}
	if got != tok1 {
		t.Fatalf("LookupTokenByHash = %+v; want %+v", got, tok1)
	}
	if _, err := d.LookupTokenByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LookupTokenByHash(nope): got %v; want ErrNotFound", err)
	}

	ids := func(tenant string) string {
		t.Helper()
		ts, err := d.ListTokens(ctx, tenant)
		if err != nil {
			t.Fatalf("ListTokens(%q): %v", tenant, err)
		}
		var s string
		for _, tok := range ts {
			s += tok.ID + " "
		}
		return s
	}
	if got, want := ids(""), "id1 id2 id3 "; got != want {
		t.Fatalf("ListTokens(all) = %q; want %q", got, want)
	}
	if got, want := ids("team-a"), "id2 id3 "; got != want {
		t.Fatalf("ListTokens(team-a) = %q; want %q", got, want)
	}
	if got, want := ids("nope"), ""; got != want {
		t.Fatalf("ListTokens(nope) = %q; want %q", got, want)
	}

	// Revoking through another tenant looks like a missing token.
	if err := d.RevokeToken(ctx, DefaultTenant, "id2", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RevokeToken(other tenant): got %v; want ErrNotFound", err)
	}
	if err := d.RevokeToken(ctx, "", "missing", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RevokeToken(missing): got %v; want ErrNotFound", err)
	}
	revokedAt := t0.Add(time.Hour)
	if err := d.RevokeToken(ctx, "team-a", "id2", revokedAt); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := d.RevokeToken(ctx, "", "id2", revokedAt.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeToken again: %v", err)
	}
	got, _ = d.LookupTokenByHash(ctx, tok2.Hash)
	if !got.RevokedAt.Equal(revokedAt) {
		t.Fatalf("RevokedAt = %v; want the first revocation %v", got.RevokedAt, revokedAt)
	}
	// The name of a revoked token is free again.
	if err := d.CreateToken(ctx, testToken("id4", "team-a", "ci", t0.Add(3*time.Second))); err != nil {
		t.Fatalf("CreateToken(reused name): %v", err)
	}

	used := t0.Add(2 * time.Hour)
	if err := d.TouchToken(ctx, "id1", used); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	if err := d.TouchToken(ctx, "id1", used.Add(-time.Minute)); err != nil {
		t.Fatalf("TouchToken(older): %v", err)
	}
	got, _ = d.LookupTokenByHash(ctx, tok1.Hash)
	if !got.LastUsedAt.Equal(used) {
		t.Fatalf("LastUsedAt = %v; want %v (never moved back)", got.LastUsedAt, used)
	}
	if err := d.TouchToken(ctx, "missing", used); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TouchToken(missing): got %v; want ErrNotFound", err)
	}
}

// TestTwoHandlesWriteConcurrently is the server and `kubelog token create`
// sharing one file: both write at once and neither sees "database is locked".
func TestTwoHandlesWriteConcurrently(t *testing.T) {
	ctx := context.Background()
	server, path := openTest(t)
	cli := openPath(t, path)
	if err := server.CreateToken(ctx, testToken("seed", DefaultTenant, "seed", time.Now())); err != nil {
		t.Fatalf("CreateToken(seed): %v", err)
	}

	const perWriter = 40
	var wg sync.WaitGroup
	errs := make(chan error, 16*perWriter)
	for w, d := range []*DB{server, cli, server, cli} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				tenant := fmt.Sprintf("t%d", i%5)
				if _, err := d.EnsureTenant(ctx, tenant); err != nil {
					errs <- err
					continue
				}
				if err := d.CreateToken(ctx, testToken(id, tenant, id, time.Now())); err != nil {
					errs <- err
					continue
				}
				if err := d.TouchToken(ctx, "seed", time.Now()); err != nil {
					errs <- err
				}
				if i%3 == 0 {
					if err := d.RevokeToken(ctx, tenant, id, time.Now()); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	// Readers on both handles at the same time.
	for _, d := range []*DB{server, cli} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				if _, err := d.ListTokens(ctx, ""); err != nil {
					errs <- err
				}
				if _, err := d.LookupTokenByHash(ctx, "hash-seed"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent access: %v", err)
	}
	ts, err := cli.ListTokens(ctx, "")
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if got, want := len(ts), 4*perWriter+1; got != want {
		t.Fatalf("tokens after concurrent writes: got %d; want %d", got, want)
	}
}
