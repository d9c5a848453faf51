package collect

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// processCPU returns the CPU time the test process used so far.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestThroughput measures the figure: 500 containers writing 100
// lines/s each (50,000 lines/s). It runs only with KUBELOG_COLLECT_BENCH=1.
// The collector's CPU is the test process's CPU while collecting minus the
// writers' own, measured first without collecting; lag is from a line's node
// timestamp (its write) to the store's commit.
func TestThroughput(t *testing.T) {
	testenv.SkipIfDisabled(t)
	if os.Getenv("KUBELOG_COLLECT_BENCH") != "1" {
		t.Skip("set KUBELOG_COLLECT_BENCH=1 to measure throughput")
	}
	hub := loghub(t)
	const ns, pods, perPod, rate = "bench", 50, 10, 100
	names := make([]string, perPod)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	var cs []*container
	for p := 0; p < pods; p++ {
		cs = append(cs, newPod(t, ns, fmt.Sprintf("pod-%d", p), names, testenv.PodOptions{NoWait: true})...)
	}
	// write has every container write rate lines a second, 10 at a time,
	// for d.
	write := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		for i, c := range cs {
			src := hub[i%len(hub)]
			wg.Go(func() {
				tick := time.NewTicker(time.Second / (rate / 10))
				defer tick.Stop()
				for j := 0; ; j += 10 {
					lines := make([]string, 10)
					for k := range lines {
						lines[k] = src[(j+k)%len(src)]
					}
					c.write(t, lines...)
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
				}
			})
		}
		wg.Wait()
	}
	const phase = 20 * time.Second
	cpu0 := processCPU(t)
	write(phase)
	writersCPU := processCPU(t) - cpu0

	cfg := store.DefaultConfig(t.TempDir())
	var mu sync.Mutex
	var lags []time.Duration
	cfg.OnCommit = func(_ string, es []store.CommittedEntry) {
		now := time.Now().UnixNano()
		mu.Lock()
		for _, e := range es {
			lags = append(lags, time.Duration(now-e.Entry.Timestamp))
		}
		mu.Unlock()
	}
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := startManager(t, testConfig(), st, &collector.MemoryCheckpoints{}, ns)
	waitCollected(t, st, 2*time.Minute, cs) // catch up with the first phase
	mu.Lock()
	lags = nil
	mu.Unlock()
	before := m.Status()[0].LinesCollected
	cpu1 := processCPU(t)
	start := time.Now()
	write(phase)
	waitCollected(t, st, 2*time.Minute, cs)
	elapsed := time.Since(start)
	collectCPU := processCPU(t) - cpu1 - writersCPU
	lines := m.Status()[0].LinesCollected - before
	mu.Lock()
	slices.Sort(lags)
	p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
	mu.Unlock()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d containers: %d lines in %v (%.0f lines/s); collector+store CPU %.2f cores (writers %.2f cores, subtracted); lag p50 %v p99 %v; peak RSS of the test process (collector, store and writers) %d MiB",
		len(cs), lines, elapsed.Round(time.Millisecond), float64(lines)/elapsed.Seconds(),
		collectCPU.Seconds()/elapsed.Seconds(), writersCPU.Seconds()/phase.Seconds(), p50.Round(time.Millisecond), p99.Round(time.Millisecond), ru.Maxrss>>10)
	m.Close()
	checkExact(t, st, cs)
}
