package auth

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

func newTestLimiter(t testing.TB, clk clock.PassiveClock, defaults Limits, tenants map[string]Limits) *Limiter {
	t.Helper()
	tbl := NewLimitTable(defaults)
	tbl.Replace(tenants)
	cfg := DefaultLimiterConfig()
	cfg.Clock = clk
	l, err := NewLimiter(tbl, cfg)
	if err != nil {
		t.Fatalf("NewLimiter: %v", err)
	}
	return l
}

// len returns the number of buckets held.
func (l *Limiter) len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

func TestLimiterBurstAndRefill(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock, DefaultLimits(), nil)
	key := Key{Tenant: "default", Token: "tok1"}

	for i := range 100 {
		d := l.Allow(key, ClassStandard, 1)
		if !d.Allowed || d.Limit != 100 || d.Remaining != 99-i {
			t.Fatalf("request %d: got %+v; want allowed, limit 100, remaining %d", i+1, d, 99-i)
		}
	}
	d := l.Allow(key, ClassStandard, 1)
	want := Decision{Allowed: false, Limit: 100, Remaining: 0, ResetSeconds: 60, RetryAfter: 600 * time.Millisecond}
	if d != want {
		t.Fatalf("request 101: got %+v; want %+v", d, want)
	}

	// One request's worth refills every 600ms.
	clock.Step(599 * time.Millisecond)
	if d := l.Allow(key, ClassStandard, 1); d.Allowed || d.RetryAfter != time.Millisecond {
		t.Fatalf("after 599ms: got %+v; want refused, retry after 1ms", d)
	}
	clock.Step(time.Millisecond)
	if d := l.Allow(key, ClassStandard, 1); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 600ms: got %+v; want allowed, remaining 0", d)
	}

	// Half a minute refills half the bucket; n = 0 only looks.
	clock.Step(30 * time.Second)
	want = Decision{Allowed: true, Limit: 100, Remaining: 50, ResetSeconds: 30}
	for range 2 {
		if d := l.Allow(key, ClassStandard, 0); d != want {
			t.Fatalf("peek after 30s: got %+v; want %+v", d, want)
		}
	}

	// A full minute refills it completely, and no further.
	clock.Step(10 * time.Minute)
	if d := l.Allow(key, ClassStandard, 1); !d.Allowed || d.Remaining != 99 || d.ResetSeconds != 1 {
		t.Fatalf("after 10m: got %+v; want allowed, remaining 99, reset in 1s", d)
	}
}

func TestLimiterSeparatesClassesAndTokens(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock, DefaultLimits(), nil)
	tok1 := Key{Tenant: "default", Token: "tok1"}
	tok2 := Key{Tenant: "default", Token: "tok2"}
	for range 10 {
		if d := l.Allow(tok1, ClassHeavy, 1); !d.Allowed {
			t.Fatalf("heavy: got %+v; want allowed", d)
		}
	}
	if d := l.Allow(tok1, ClassHeavy, 1); d.Allowed || d.Limit != 10 || d.RetryAfter != 6*time.Second {
		t.Fatalf("11th heavy: got %+v; want refused, limit 10, retry after 6s", d)
	}
	f := func(key Key, class Class, wantLimit, wantRemaining int) {
		t.Helper()
		d := l.Allow(key, class, 1)
		if !d.Allowed || d.Limit != wantLimit || d.Remaining != wantRemaining {
			t.Fatalf("%s for %s: got %+v; want allowed, limit %d, remaining %d", class, key.Token, d, wantLimit, wantRemaining)
		}
	}
	f(tok1, ClassStandard, 100, 99)
	f(tok1, ClassLoki, 1200, 1199)
	f(tok1, ClassLokiHeavy, 120, 119)
	f(tok1, ClassKube, 1200, 1199)
	f(tok2, ClassHeavy, 10, 9)
}

func TestLimiterPushBytesPerTenant(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock, DefaultLimits(), nil)
	// Two tokens of one tenant share its push budget.
	a := Key{Tenant: "team-a", Token: "tok1"}
	b := Key{Tenant: "team-a", Token: "tok2"}
	other := Key{Tenant: "team-b", Token: "tok3"}

	if d := l.Allow(a, ClassPush, 100*MiB); !d.Allowed || d.Limit != 128*MiB || d.Remaining != 28*MiB {
		t.Fatalf("first 100 MiB: got %+v; want allowed, limit 128 MiB, 28 MiB left", d)
	}
	d := l.Allow(b, ClassPush, 60*MiB)
	if d.Allowed || d.RetryAfter != 500*time.Millisecond || d.Remaining != 28*MiB {
		t.Fatalf("next 60 MiB: got %+v; want refused, retry after 500ms, 28 MiB left", d)
	}
	if d := l.Allow(other, ClassPush, 128*MiB); !d.Allowed {
		t.Fatalf("other tenant: got %+v; want allowed", d)
	}
	clock.Step(500 * time.Millisecond)
	if d := l.Allow(b, ClassPush, 60*MiB); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("60 MiB after 500ms: got %+v; want allowed, nothing left", d)
	}
	// More than the burst can never fit.
	clock.Step(time.Hour)
	if d := l.Allow(a, ClassPush, 128*MiB+1); d.Allowed || d.Limit != 128*MiB || d.RetryAfter <= 0 {
		t.Fatalf("burst+1 bytes: got %+v; want refused with limit 128 MiB", d)
	}
	if d := l.Allow(a, ClassPush, 128*MiB); !d.Allowed {
		t.Fatalf("exactly the burst: got %+v; want allowed", d)
	}
}

func TestLimiterPerTenantOverrides(t *testing.T) {
	clock := newFakeClock()
	big := DefaultLimits()
	big.Requests.Standard = 1000
	big.PushBytesPerSecond = 1
	big.PushBurstBytes = 10
	l := newTestLimiter(t, clock, DefaultLimits(), map[string]Limits{"big": big, "free": {}})

	if d := l.Allow(Key{Tenant: "big", Token: "t1"}, ClassStandard, 1); d.Limit != 1000 || d.Remaining != 999 {
		t.Fatalf("big tenant: got %+v; want limit 1000", d)
	}
	if d := l.Allow(Key{Tenant: "small", Token: "t2"}, ClassStandard, 1); d.Limit != 100 {
		t.Fatalf("default tenant: got %+v; want limit 100", d)
	}
	if d := l.Allow(Key{Tenant: "big", Token: "t1"}, ClassPush, 11); d.Allowed || d.Limit != 10 {
		t.Fatalf("big push over its 10-byte burst: got %+v; want refused, limit 10", d)
	}
	// A zero limit means unlimited.
	for range 10000 {
		if d := l.Allow(Key{Tenant: "free", Token: "t3"}, ClassHeavy, 1); d != (Decision{Allowed: true}) {
			t.Fatalf("unlimited tenant: got %+v; want allowed with no limit", d)
		}
	}
	if d := l.Allow(Key{Tenant: "free", Token: "t3"}, ClassPush, 1<<40); !d.Allowed {
		t.Fatalf("unlimited push: got %+v; want allowed", d)
	}
}

func TestLimiterFollowsLimitChanges(t *testing.T) {
	clock := newFakeClock()
	tbl := NewLimitTable(DefaultLimits())
	cfg := DefaultLimiterConfig()
	cfg.Clock = clock
	l, err := NewLimiter(tbl, cfg)
	if err != nil {
		t.Fatalf("NewLimiter: %v", err)
	}
	key := Key{Tenant: "team-a", Token: "t1"}
	for range 50 {
		l.Allow(key, ClassStandard, 1)
	}
	lower := DefaultLimits()
	lower.Requests.Standard = 10
	tbl.Replace(map[string]Limits{"team-a": lower})
	// The bucket keeps the share it had used: half of 100, so half of 10.
	want := Decision{Allowed: true, Limit: 10, Remaining: 4, ResetSeconds: 36}
	if d := l.Allow(key, ClassStandard, 1); d != want {
		t.Fatalf("after lowering the limit: got %+v; want %+v", d, want)
	}
}

func TestLimiterEvictsIdleBuckets(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock, DefaultLimits(), nil)
	for i := range 1000 {
		l.Allow(Key{Tenant: "default", Token: fmt.Sprintf("tok%d", i)}, ClassStandard, 1)
		l.Allow(Key{Tenant: fmt.Sprintf("t%d", i)}, ClassPush, MiB)
	}
	if got := l.len(); got != 2000 {
		t.Fatalf("buckets = %d; want 2000", got)
	}
	// Push buckets refill in under a second, request buckets in a minute;
	// a sweep runs at most once a minute per shard.
	clock.Step(time.Minute)
	for i := range 1000 {
		l.Allow(Key{Tenant: "default", Token: fmt.Sprintf("tok%d", i)}, ClassStandard, 0)
	}
	if got := l.len(); got != 0 {
		t.Fatalf("buckets after every bucket refilled and a sweep = %d; want 0", got)
	}
	// Peeking creates nothing; a used bucket stays until it refills.
	l.Allow(Key{Tenant: "default", Token: "busy"}, ClassStandard, 1)
	clock.Step(time.Minute - time.Nanosecond)
	for i := range 100 {
		l.Allow(Key{Tenant: "default", Token: fmt.Sprintf("tok%d", i)}, ClassStandard, 0)
	}
	if got := l.len(); got != 1 {
		t.Fatalf("buckets = %d; want only the busy one", got)
	}
}

func TestLimiterConcurrentExactlyCapacity(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter(t, clock, DefaultLimits(), nil)
	key := Key{Tenant: "default", Token: "shared"}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if l.Allow(key, ClassLoki, 1).Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 1200 {
		t.Fatalf("allowed %d of 1600 concurrent requests; want exactly 1200", got)
	}
}

func TestMulDiv(t *testing.T) {
	f := func(a, b, c int64, up bool, want int64) {
		t.Helper()
		if got := mulDiv(a, b, c, up); got != want {
			t.Fatalf("mulDiv(%d, %d, %d, %v) = %d; want %d", a, b, c, up, got, want)
		}
	}
	f(1, int64(time.Second), 64*MiB, false, 14)
	f(1, int64(time.Second), 64*MiB, true, 15)
	f(128*MiB, int64(time.Second), 64*MiB, true, int64(2*time.Second))
	f(1<<62, 1<<62, 1, false, maxSpan)
	f(0, 5, 7, true, 0)
}

func TestLimiterConfigValidate(t *testing.T) {
	if err := DefaultLimiterConfig().Validate(); err != nil {
		t.Fatalf("DefaultLimiterConfig().Validate(): %v", err)
	}
	if _, err := NewLimiter(NewLimitTable(DefaultLimits()), LimiterConfig{}); err == nil {
		t.Fatalf("NewLimiter(zero config): got nil error; want one about the sweep interval")
	}
}

func BenchmarkAllow(b *testing.B) {
	l := newTestLimiter(b, nil, Limits{Requests: RequestRates{Standard: 1 << 30}}, nil)
	key := Key{Tenant: "default", Token: "0123456789abcdef"}
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(key, ClassStandard, 1)
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := newTestLimiter(b, nil, DefaultLimits(), nil)
	keys := make([]Key, 1024)
	for i := range keys {
		keys[i] = Key{Tenant: "default", Token: fmt.Sprintf("%016x", i)}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i%len(keys)], ClassLoki, 1)
			i++
		}
	})
}
