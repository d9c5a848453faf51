package auth

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Class is a rate-limit class: which allowance a request draws from.
type Class uint8

// The classes. Request classes count requests per token; ClassPush counts
// bytes per tenant.
const (
	// ClassStandard is most calls under /api/v1/logs and /v2/apps.
	ClassStandard Class = iota
	// ClassHeavy is searches and archive operations there.
	ClassHeavy
	// ClassLoki is calls under /loki.
	ClassLoki
	// ClassLokiHeavy is expensive Loki calls (range queries, series, stats).
	ClassLokiHeavy
	// ClassKube is calls under /apis.
	ClassKube
	// ClassPush is pushed bytes, on any push route.
	ClassPush
	numClasses
)

var classNames = [numClasses]string{"standard", "heavy", "loki", "loki_heavy", "kube", "push"}

// String returns the class name used in limits JSON and metrics labels.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// bucket returns the token bucket of a class under l: it holds capacity
// units and refills rate units per period. capacity 0 means unlimited.
func (l *Limits) bucket(c Class) (capacity, rate int64, period time.Duration) {
	perMinute := func(n int) (int64, int64, time.Duration) { return int64(n), int64(n), time.Minute }
	switch c {
	case ClassStandard:
		return perMinute(l.Requests.Standard)
	case ClassHeavy:
		return perMinute(l.Requests.Heavy)
	case ClassLoki:
		return perMinute(l.Requests.Loki)
	case ClassLokiHeavy:
		return perMinute(l.Requests.LokiHeavy)
	case ClassKube:
		return perMinute(l.Requests.Kube)
	case ClassPush:
		if l.PushBytesPerSecond <= 0 {
			return 0, 0, time.Second
		}
		return l.PushBurstBytes, l.PushBytesPerSecond, time.Second
	}
	panic(fmt.Sprintf("BUG: unknown rate-limit class %d", c))
}

// LimitSource gives a tenant's limits; *LimitTable is one. For is called on
// every Allow, concurrently, and must not block.
type LimitSource interface {
	For(tenant string) Limits
}

var _ LimitSource = (*LimitTable)(nil)

// Key names who is being limited.
type Key struct {
	// Tenant is the acting tenant: it picks the limits, and it is the bucket
	// for ClassPush.
	Tenant string
	// Token is the token ID: the bucket for request classes.
	Token string
}

// Decision is the outcome of Allow, with what HTTP needs for the
// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset and
// Retry-After headers.
type Decision struct {
	Allowed bool
	// Limit is the bucket's capacity (requests, or bytes for ClassPush); 0
	// means the class is unlimited for this tenant, and the other fields
	// are zero. A request for more than Limit units is never allowed:
	// answer it with 413 rather than 429.
	Limit int
	// Remaining is how many units are left after this decision.
	Remaining int
	// ResetSeconds is the number of seconds until the bucket is full again.
	ResetSeconds int
	// RetryAfter, when not Allowed, is how long to wait before the same
	// request would be allowed.
	RetryAfter time.Duration
}

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// SweepInterval is how often idle buckets are dropped. A bucket is idle
	// once it has refilled completely, when dropping it changes nothing, so
	// memory follows the number of keys active in the last few minutes.
	SweepInterval time.Duration
	// Clock tells the time; nil is the system clock.
	Clock clock.PassiveClock
}

// DefaultLimiterConfig returns the defaults.
func DefaultLimiterConfig() LimiterConfig {
	return LimiterConfig{SweepInterval: time.Minute}
}

// Validate checks the config.
func (c LimiterConfig) Validate() error {
	if c.SweepInterval <= 0 {
		return fmt.Errorf("limiter sweep interval must be positive, got %v", c.SweepInterval)
	}
	return nil
}

// numShards spreads buckets over locks so parallel requests rarely contend.
const numShards = 32

// maxSpan caps computed durations (in nanoseconds) so that sums with a Unix
// nanosecond clock cannot overflow, whatever limits are configured.
const maxSpan = 1 << 61

// Limiter enforces token-bucket rate limits per (key, class). It is safe for
// concurrent use.
//
// It is the generic cell rate algorithm: each bucket is one number, the time
// at which it will be full again (its theoretical arrival time, TAT). Taking
// n units pushes that time n/rate later, and is refused if it would then lie
// more than capacity/rate in the future. A bucket whose TAT has passed is
// full, the same as a missing one, and is dropped by the sweep. When a
// tenant's limits change, a bucket keeps the share of its capacity it had
// used.
type Limiter struct {
	limits LimitSource
	clock  clock.PassiveClock
	sweep  int64 // SweepInterval in nanoseconds
	seed   maphash.Seed
	shards [numShards]shard
}

type bucketKey struct {
	id    string
	class Class
}

type shard struct {
	mu sync.Mutex // guards tat and nextSweep
	// tat maps each bucket to the Unix nanosecond time it will be full.
	tat       map[bucketKey]int64
	nextSweep int64
	_         [40]byte // keep shards on separate cache lines
}

// NewLimiter returns a Limiter taking each tenant's limits from limits.
func NewLimiter(limits LimitSource, cfg LimiterConfig) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{
		limits: limits,
		clock:  clockOrSystem(cfg.Clock),
		sweep:  int64(cfg.SweepInterval),
		seed:   maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[bucketKey]int64)
	}
	return l, nil
}

// Allow takes n units (1 for a request, the body size for a push) from the
// key's bucket of the given class if they are available, and reports the
// outcome. n = 0 only reports the bucket's state. A refused call takes
// nothing.
func (l *Limiter) Allow(key Key, class Class, n int64) Decision {
	if n < 0 {
		panic(fmt.Sprintf("BUG: rate limiter asked for %d units", n))
	}
	lim := l.limits.For(key.Tenant)
	capacity, rate, period := lim.bucket(class)
	if capacity <= 0 || rate <= 0 {
		return Decision{Allowed: true}
	}
	k := bucketKey{id: key.Token, class: class}
	if class == ClassPush {
		k.id = key.Tenant
	}
	// tau is how long an empty bucket takes to fill.
	tau := mulDiv(capacity, int64(period), rate, false)
	s := &l.shards[maphash.String(l.seed, k.id)%numShards]
	now := l.clock.Now().UnixNano()

	s.mu.Lock()
	if now >= s.nextSweep {
		s.dropFull(now)
		s.nextSweep = now + l.sweep
	}
	tat, ok := s.tat[k]
	if !ok || tat < now {
		tat = now
	}
	allowed := false
	var retry int64
	if n > capacity {
		retry = tau
	} else {
		next := tat + mulDiv(n, int64(period), rate, true)
		if next-now <= tau {
			allowed = true
			if next > now {
				s.tat[k] = next
				tat = next
			}
		} else {
			retry = next - now - tau
		}
	}
	s.mu.Unlock()

	// tat is now the bucket's state after this decision.
	remaining := min(mulDiv(max(tau-(tat-now), 0), rate, int64(period), false), capacity)
	return Decision{
		Allowed:      allowed,
		Limit:        int(capacity),
		Remaining:    int(remaining),
		ResetSeconds: int((tat - now + int64(time.Second) - 1) / int64(time.Second)),
		RetryAfter:   time.Duration(retry),
	}
}

// dropFull deletes the buckets that are full at now.
func (s *shard) dropFull(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
}

// mulDiv returns a*b/c for non-negative a, b and positive c, rounded up if
// up is set, computed in 128 bits and capped at maxSpan.
func mulDiv(a, b, c int64, up bool) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return maxSpan
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if up && r != 0 {
		q++
	}
	return int64(min(q, maxSpan))
}
