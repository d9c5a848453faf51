package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// Limits are one tenant's limits. A zero value means "no limit" for every
// field, so Limits{} is an unlimited tenant (what `kubelog bench` runs with).
type Limits struct {
	// Requests are the request rate limits, per token, by class.
	Requests RequestRates `json:"requests_per_minute"`
	// PushBytesPerSecond is the tenant's sustained push rate in bytes.
	PushBytesPerSecond int64 `json:"push_bytes_per_second"`
	// PushBurstBytes is how many bytes the tenant may push at once after
	// being idle. It must be set when PushBytesPerSecond is.
	PushBurstBytes int64 `json:"push_burst_bytes"`
	// Retention is how long entries are kept, e.g. "30d"; 0 keeps them
	// until the disk budget evicts them.
	Retention timeparse.Duration `json:"retention"`
	// MaxTailSessions bounds the tenant's active tail sessions.
	MaxTailSessions int `json:"max_tail_sessions"`
	// MaxTailSessionsPerUser bounds the active tail sessions of one user
	// (userUuid) in the tenant.
	MaxTailSessionsPerUser int `json:"max_tail_sessions_per_user"`
}

// RequestRates are requests a minute allowed per token in each class. A
// token may spend a whole minute's allowance at once; it then refills evenly.
type RequestRates struct {
	// Standard applies under /api/v1/logs and /v2/apps.
	Standard int `json:"standard"`
	// Heavy applies to searches and archive operations there.
	Heavy int `json:"heavy"`
	// Loki applies under /loki.
	Loki int `json:"loki"`
	// LokiHeavy applies to Loki range queries and other expensive calls.
	LokiHeavy int `json:"loki_heavy"`
	// Kube applies under /apis.
	Kube int `json:"kube"`
}

// MiB is a mebibyte, for writing byte limits.
const MiB = 1 << 20

// DefaultLimits returns the limits of a tenant nobody has configured.
func DefaultLimits() Limits {
	return Limits{
		Requests: RequestRates{
			Standard:  100,
			Heavy:     10,
			Loki:      1200,
			LokiHeavy: 120,
			Kube:      1200,
		},
		PushBytesPerSecond:     64 * MiB,
		PushBurstBytes:         128 * MiB,
		Retention:              timeparse.Duration(30 * timeparse.Day),
		MaxTailSessions:        50,
		MaxTailSessionsPerUser: 10,
	}
}

// Validate checks the limits; errors name the JSON field.
func (l Limits) Validate() error {
	var errs []error
	nonNegative := func(field string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", field, v))
		}
	}
	nonNegative("requests_per_minute.standard", int64(l.Requests.Standard))
	nonNegative("requests_per_minute.heavy", int64(l.Requests.Heavy))
	nonNegative("requests_per_minute.loki", int64(l.Requests.Loki))
	nonNegative("requests_per_minute.loki_heavy", int64(l.Requests.LokiHeavy))
	nonNegative("requests_per_minute.kube", int64(l.Requests.Kube))
	nonNegative("push_bytes_per_second", l.PushBytesPerSecond)
	nonNegative("push_burst_bytes", l.PushBurstBytes)
	nonNegative("max_tail_sessions", int64(l.MaxTailSessions))
	nonNegative("max_tail_sessions_per_user", int64(l.MaxTailSessionsPerUser))
	if l.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention must not be negative, got %v", time.Duration(l.Retention)))
	}
	if l.PushBytesPerSecond > 0 && l.PushBurstBytes <= 0 {
		errs = append(errs, fmt.Errorf("push_burst_bytes must be positive when push_bytes_per_second is set"))
	}
	return errors.Join(errs...)
}

// decodeLimits reads a stored limits document over base, so that fields the
// document omits keep base's values.
func decodeLimits(raw json.RawMessage, base Limits) (Limits, error) {
	l := base
	if err := json.Unmarshal(raw, &l); err != nil {
		return Limits{}, err
	}
	if err := l.Validate(); err != nil {
		return Limits{}, err
	}
	return l, nil
}

// StoreTenantLimits validates l and stores it as the tenant's limits. Running
// servers pick it up on their next LimitTable.Load.
func StoreTenantLimits(ctx context.Context, db *meta.DB, tenant string, l Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("limits of tenant %q: %w", tenant, err)
	}
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("limits of tenant %q: %w", tenant, err)
	}
	return db.SetTenantLimits(ctx, tenant, raw)
}

// LimitTable holds every tenant's limits for the components that enforce
// them (the rate limiter, tail session quotas, retention). Reads are
// lock-free; it is safe for concurrent use.
type LimitTable struct {
	defaults Limits
	// tenants holds the tenants whose limits differ from defaults; it is
	// replaced whole, never modified.
	tenants atomic.Pointer[map[string]Limits]
}

// NewLimitTable returns a table in which every tenant has defaults until
// Load or Replace says otherwise.
func NewLimitTable(defaults Limits) *LimitTable {
	t := &LimitTable{defaults: defaults}
	t.tenants.Store(&map[string]Limits{})
	return t
}

// For returns the tenant's limits.
func (t *LimitTable) For(tenant string) Limits {
	if l, ok := (*t.tenants.Load())[tenant]; ok {
		return l
	}
	return t.defaults
}

// Replace sets the limits of the tenants in m; every other tenant gets the
// defaults. m is copied.
func (t *LimitTable) Replace(m map[string]Limits) {
	c := maps.Clone(m)
	if c == nil {
		c = map[string]Limits{}
	}
	t.tenants.Store(&c)
}

// Load reads every tenant's stored limits from db, each over the table's
// defaults, and replaces the table. On error (a stored document that does
// not decode or validate) the table is left unchanged. Call it at startup and
// periodically.
func (t *LimitTable) Load(ctx context.Context, db *meta.DB) error {
	tenants, err := db.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("load limits: %w", err)
	}
	m := make(map[string]Limits)
	for _, tn := range tenants {
		if tn.Limits == nil {
			continue
		}
		l, err := decodeLimits(tn.Limits, t.defaults)
		if err != nil {
			return fmt.Errorf("load limits of tenant %q: %w", tn.Name, err)
		}
		m[tn.Name] = l
	}
	t.tenants.Store(&m)
	return nil
}
