package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/timeparse"
)

func TestDefaultLimits(t *testing.T) {
	l := DefaultLimits()
	if err := l.Validate(); err != nil {
		t.Fatalf("DefaultLimits().Validate(): %v", err)
	}
	if err := (Limits{}).Validate(); err != nil {
		t.Fatalf("Limits{}.Validate(): %v", err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	want := `{"requests_per_minute":{"standard":100,"heavy":10,"loki":1200,"loki_heavy":120,"kube":1200},` +
		`"push_bytes_per_second":67108864,"push_burst_bytes":134217728,"retention":"720h0m0s",` +
		`"max_tail_sessions":50,"max_tail_sessions_per_user":10}`
	if string(b) != want {
		t.Fatalf("JSON = %s; want %s", b, want)
	}
}

func TestLimitsValidate(t *testing.T) {
	f := func(mod func(*Limits), wantSubstr string) {
		t.Helper()
		l := DefaultLimits()
		mod(&l)
		err := l.Validate()
		if err == nil || !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("Validate: got %v; want an error containing %q", err, wantSubstr)
		}
	}
	f(func(l *Limits) { l.Requests.Standard = -1 }, "requests_per_minute.standard")
	f(func(l *Limits) { l.Requests.LokiHeavy = -1 }, "requests_per_minute.loki_heavy")
	f(func(l *Limits) { l.PushBytesPerSecond = -1 }, "push_bytes_per_second")
	f(func(l *Limits) { l.PushBurstBytes = 0 }, "push_burst_bytes must be positive")
	f(func(l *Limits) { l.Retention = -1 }, "retention")
	f(func(l *Limits) { l.MaxTailSessions = -1 }, "max_tail_sessions")
	f(func(l *Limits) { l.MaxTailSessionsPerUser = -1 }, "max_tail_sessions_per_user")
}

func TestLimitTable(t *testing.T) {
	tbl := NewLimitTable(DefaultLimits())
	if got := tbl.For("anyone"); got != DefaultLimits() {
		t.Fatalf("For(anyone) = %+v; want defaults", got)
	}
	big := DefaultLimits()
	big.Requests.Standard = 1000
	m := map[string]Limits{"big": big}
	tbl.Replace(m)
	delete(m, "big") // the table keeps its own copy
	if got := tbl.For("big").Requests.Standard; got != 1000 {
		t.Fatalf("For(big).Requests.Standard = %d; want 1000", got)
	}
	if got := tbl.For("other"); got != DefaultLimits() {
		t.Fatalf("For(other) = %+v; want defaults", got)
	}
}

func TestLimitTableLoad(t *testing.T) {
	ctx := context.Background()
	db, _ := openMeta(t)
	for _, name := range []string{"team-a", "team-b", "team-c"} {
		if _, err := db.EnsureTenant(ctx, name); err != nil {
			t.Fatalf("EnsureTenant: %v", err)
		}
	}
	a := DefaultLimits()
	a.Requests.Heavy = 50
	a.Retention = timeparse.Duration(7 * timeparse.Day)
	if err := StoreTenantLimits(ctx, db, "team-a", a); err != nil {
		t.Fatalf("StoreTenantLimits: %v", err)
	}
	bad := DefaultLimits()
	bad.MaxTailSessions = -1
	if err := StoreTenantLimits(ctx, db, "team-a", bad); err == nil {
		t.Fatalf("StoreTenantLimits(invalid): got nil error; want one")
	}
	// A hand-written partial document keeps the defaults for what it omits.
	if err := db.SetTenantLimits(ctx, "team-b", json.RawMessage(`{"retention":"2w","max_tail_sessions":3}`)); err != nil {
		t.Fatalf("SetTenantLimits: %v", err)
	}

	tbl := NewLimitTable(DefaultLimits())
	if err := tbl.Load(ctx, db); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := tbl.For("team-a"); got != a {
		t.Fatalf("For(team-a) = %+v; want %+v", got, a)
	}
	wantB := DefaultLimits()
	wantB.Retention = timeparse.Duration(14 * timeparse.Day)
	wantB.MaxTailSessions = 3
	if got := tbl.For("team-b"); got != wantB {
		t.Fatalf("For(team-b) = %+v; want %+v", got, wantB)
	}
	if got := tbl.For("team-c"); got != DefaultLimits() {
		t.Fatalf("For(team-c) = %+v; want defaults", got)
	}

	// A broken stored document fails Load and leaves the table as it was.
	if err := db.SetTenantLimits(ctx, "team-c", json.RawMessage(`{"retention":"soon"}`)); err != nil {
		t.Fatalf("SetTenantLimits: %v", err)
	}
	if err := tbl.Load(ctx, db); err == nil || !strings.Contains(err.Error(), `"team-c"`) {
		t.Fatalf("Load with a bad document: got %v; want an error naming team-c", err)
	}
	if got := tbl.For("team-a"); got != a {
		t.Fatalf("For(team-a) after failed Load = %+v; want %+v", got, a)
	}
	if got := time.Duration(tbl.For("team-b").Retention); got != 14*timeparse.Day {
		t.Fatalf("team-b retention after failed Load = %v; want 2w", got)
	}
}
