package collect

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// writeAll writes each container's share of the loghub lines at mixed rates
// and returns when all are written.
func writeAll(ctx context.Context, t *testing.T, cs []*container, hub [][]string, perContainer int) {
	var wg sync.WaitGroup
	for i, c := range cs {
		src := hub[i%len(hub)]
		lines := make([]string, 0, perContainer)
		for j := 0; j < perContainer; j++ {
			lines = append(lines, src[(i*37+j)%len(src)])
		}
		// Mixed rates: from 1 line per 50ms to 20 lines per 10ms.
		chunk := 1 + (i%5)*5
		interval := time.Duration(10+(i%4)*15) * time.Millisecond
		wg.Go(func() { writeAtRate(ctx, t, c, lines, chunk, interval) })
	}
	wg.Wait()
}

// TestNamespaces is case (a): 3 namespaces × 20 containers writing loghub lines
// at mixed rates while being collected, with a short stream lifetime and idle
// timeout so that streams also reconnect and resume along the way.
func TestNamespaces(t *testing.T) {
	testenv.SkipIfDisabled(t)
	hub := loghub(t)
	ctx := testContext(t)
	var cs []*container
	nss := []string{"ns-a", "ns-b", "ns-c"}
	for _, ns := range nss {
		for p := 0; p < 4; p++ {
			cs = append(cs, newPod(t, ns, fmt.Sprintf("pod-%d", p), []string{"c0", "c1", "c2", "c3", "c4"}, testenv.PodOptions{Labels: map[string]string{"app": "web"}})...)
		}
	}
	st := newStore(t)
	cfg := testConfig()
	cfg.MaxStreamLifetime = 3 * time.Second
	cfg.IdleTimeout = time.Second
	m := startManager(t, cfg, st, &collector.MemoryCheckpoints{}, nss...)
	start := time.Now()
	go func() {
		// Reconnect every stream mid-way, as POST /clusters/refresh does.
		time.Sleep(3 * time.Second)
		if err := m.Refresh("c1"); err != nil {
			t.Error(err)
		}
	}()
	writeAll(ctx, t, cs, hub, 300)
	waitCollected(t, st, 60*time.Second, cs)
	elapsed := time.Since(start)
	s := m.Status()[0]
	t.Logf("status: %+v (collected in %v)", s, elapsed.Round(time.Millisecond))
	if !s.Reachable || s.ServerVersion == "" || s.PodsWatched < 12 {
		t.Errorf("status: got %+v; want reachable, a version and at least 12 pods", s)
	}
	m.Close()
	checkExact(t, st, cs)
}

// TestAPIServerRestart is case (b): kube-apiserver restarted while containers
// write.
func TestAPIServerRestart(t *testing.T) {
	testenv.SkipIfDisabled(t)
	hub := loghub(t)
	ctx := testContext(t)
	const ns = "apirestart"
	var cs []*container
	for p := 0; p < 2; p++ {
		cs = append(cs, newPod(t, ns, fmt.Sprintf("pod-%d", p), []string{"a", "b", "c"}, testenv.PodOptions{})...)
	}
	st := newStore(t)
	m := startManager(t, testConfig(), st, &collector.MemoryCheckpoints{}, ns)
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeAll(ctx, t, cs, hub, 400)
	}()
	time.Sleep(time.Second)
	if err := cluster.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	// The pod informer's watch reconnected: a pod created after the restart
	// is collected.
	late := newPod(t, ns, "late", []string{"a"}, testenv.PodOptions{})
	late[0].write(t, "after the restart 1", "after the restart 2")
	cs = append(cs, late...)
	waitCollected(t, st, 60*time.Second, cs)
	t.Logf("status: %+v", m.Status()[0])
	m.Close()
	checkExact(t, st, cs)
}

// lossyCheckpoints drops every Save once lost is set, as when kubelog dies
// after the store acknowledged entries but before their resume point was
// saved.
type lossyCheckpoints struct {
	collector.Checkpoints
	lost atomic.Bool
}

func (c *lossyCheckpoints) Save(ctx context.Context, key string, r collector.Resume) error {
	if c.lost.Load() {
		return nil
	}
	return c.Checkpoints.Save(ctx, key, r)
}

// TestCollectorRestart is case (c): the Manager closed and a new one started
// mid-stream with the same SQLite checkpoints and store, as when kubelog
// restarts. In "checkpoints lost" the resume points saved after some point
// are lost, as in a kill -9 between the store's acknowledgement and the save:
// the new Manager sends entries again and the store keeps them once.
func TestCollectorRestart(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Run("graceful", func(t *testing.T) { testCollectorRestart(t, "kubelogrestart", false) })
	t.Run("checkpoints lost", func(t *testing.T) { testCollectorRestart(t, "kubelogcrash", true) })
}

// countingSink counts the entries the store dropped as already stored.
type countingSink struct {
	*store.Store
	duplicates atomic.Int64
}

func (s *countingSink) Append(ctx context.Context, tenant string, es []logmodel.Entry) (store.AppendResult, error) {
	res, err := s.Store.Append(ctx, tenant, es)
	s.duplicates.Add(int64(res.Duplicates))
	return res, err
}

func testCollectorRestart(t *testing.T, ns string, lose bool) {
	hub := loghub(t)
	ctx := testContext(t)
	var cs []*container
	for p := 0; p < 2; p++ {
		cs = append(cs, newPod(t, ns, fmt.Sprintf("pod-%d", p), []string{"a", "b", "c"}, testenv.PodOptions{})...)
	}
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := newStore(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeAll(ctx, t, cs, hub, 600)
	}()
	sink := &countingSink{Store: st}
	for i := 0; i < 3; i++ {
		cps := &lossyCheckpoints{Checkpoints: collector.NewSQLCheckpoints(db)}
		m := startManager(t, testConfig(), sink, cps, ns)
		time.Sleep(700 * time.Millisecond)
		cps.lost.Store(lose)
		time.Sleep(300 * time.Millisecond)
		m.Close()
		time.Sleep(300 * time.Millisecond) // written while kubelog is down
	}
	m := startManager(t, testConfig(), st, collector.NewSQLCheckpoints(db), ns)
	<-done
	waitCollected(t, st, 60*time.Second, cs)
	m.Close()
	checkExact(t, st, cs)
	t.Logf("entries sent again and dropped by the store as duplicates: %d", sink.duplicates.Load())
	if lose && sink.duplicates.Load() == 0 {
		t.Fatal("duplicates after losing checkpoints: got none; want entries sent again")
	}
}
