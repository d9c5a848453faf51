package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestActingTenant(t *testing.T) {
	user := &Principal{TokenID: "t1", Tenant: "team-a", Scopes: ScopeRead | ScopeManage, Name: "ci"}
	admin := &Principal{TokenID: "t2", Tenant: "default", Scopes: ScopeAdmin, Name: "ops"}
	f := func(p *Principal, header, want string, wantErr error) {
		t.Helper()
		got, err := p.ActingTenant(header)
		if !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
			t.Fatalf("%s.ActingTenant(%q): got error %v; want %v", p.Name, header, err, wantErr)
		}
		if got != want {
			t.Fatalf("%s.ActingTenant(%q) = %q; want %q", p.Name, header, got, want)
		}
	}
	f(user, "", "team-a", nil)
	f(user, "team-a", "team-a", nil)
	f(user, "team-b", "", ErrForbidden)
	f(user, "Bad Name", "", ErrInvalidTenant)
	f(admin, "", "default", nil)
	f(admin, "team-b", "team-b", nil)
	f(admin, "a|b", "", ErrInvalidTenant)
}

func TestRequire(t *testing.T) {
	p := &Principal{Tenant: "team-a", Scopes: ScopeRead, Name: "grafana"}
	if err := p.Require(ScopeRead); err != nil {
		t.Fatalf("Require(read): %v", err)
	}
	err := p.Require(ScopeRead | ScopeWrite)
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "lacks scope write") {
		t.Fatalf("Require(read,write): got %v; want ErrForbidden naming write", err)
	}
	admin := &Principal{Scopes: ScopeAdmin}
	if err := admin.Require(ScopeManage | ScopeWrite); err != nil {
		t.Fatalf("admin Require(manage,write): %v", err)
	}
}
