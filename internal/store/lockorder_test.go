package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// TestOldestCursorDuringDuplicateChecks: the writer holds the active head's
// lock while a duplicate check takes mu; OldestCursor, reading the heads,
// must not hold mu meanwhile, or it deadlocks with them and a waiting Append.
func TestOldestCursorDuringDuplicateChecks(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	a := logmodel.FromPairs("app", "a")
	var es []logmodel.Entry
	for i := range 200 {
		es = append(es, ent(a, testBase.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("line %d", i)))
	}
	mustAppend(t, s, "t", es...)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					fn(i)
				}
			}
		}()
	}
	// Old entries, each checked against the flushed part and the heads.
	loop(func(i int) { _, _ = s.Append(context.Background(), "t", es[i%len(es):i%len(es)+1]) })
	loop(func(i int) {
		_, _ = s.Append(context.Background(), fmt.Sprintf("u%d", i%8), []logmodel.Entry{ent(a, testBase.Add(time.Hour), "new")})
	})
	loop(func(int) { s.OldestCursor("t") })
	time.Sleep(2 * time.Second)
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Append and OldestCursor deadlocked")
	}
}
