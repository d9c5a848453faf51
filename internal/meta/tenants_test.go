package meta

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

func TestTenants(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)

	def, err := d.GetTenant(ctx, DefaultTenant)
	if err != nil {
		t.Fatalf("GetTenant(default): %v", err)
	}
	if def.CreatedAt.IsZero() || def.Limits != nil {
		t.Fatalf("default tenant = %+v; want a creation time and no limits", def)
	}

	a, err := d.EnsureTenant(ctx, "team-a")
	if err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	again, err := d.EnsureTenant(ctx, "team-a")
	if err != nil {
		t.Fatalf("EnsureTenant again: %v", err)
	}
	if !again.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("EnsureTenant again: created_at %v; want the first %v", again.CreatedAt, a.CreatedAt)
	}

	if _, err := d.GetTenant(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetTenant(nope): got %v; want ErrNotFound", err)
	}

	limits := json.RawMessage(`{"max_tail_sessions":5}`)
	if err := d.SetTenantLimits(ctx, "team-a", limits); err != nil {
		t.Fatalf("SetTenantLimits: %v", err)
	}
	got, err := d.GetTenant(ctx, "team-a")
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	if string(got.Limits) != string(limits) {
		t.Fatalf("limits: got %s; want %s", got.Limits, limits)
	}
	if err := d.SetTenantLimits(ctx, "team-a", json.RawMessage(`{bad`)); err == nil {
		t.Fatalf("SetTenantLimits(bad JSON): got nil error; want one")
	}
	if err := d.SetTenantLimits(ctx, "nope", limits); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetTenantLimits(nope): got %v; want ErrNotFound", err)
	}

	ts, err := d.ListTenants(ctx)
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	if len(ts) != 2 || ts[0].Name != DefaultTenant || ts[1].Name != "team-a" || ts[1].Limits == nil {
		t.Fatalf("ListTenants = %+v; want default, then team-a with limits", ts)
	}

	if err := d.SetTenantLimits(ctx, "team-a", nil); err != nil {
		t.Fatalf("SetTenantLimits(nil): %v", err)
	}
	if got, _ := d.GetTenant(ctx, "team-a"); got.Limits != nil {
		t.Fatalf("limits after clearing: got %s; want nil", got.Limits)
	}
}
