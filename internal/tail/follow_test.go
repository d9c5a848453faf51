package tail

import (
	testingclock "k8s.io/utils/clock/testing"

	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

func openStore(t *testing.T, hub *Hub) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig(t.TempDir())
	cfg.OnCommit = hub.OnCommit
	cfg.HeadMaxBytes = 64 << 10 // flush often: replay reads parts and heads
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ingest appends batches in the background and records what was stored.
type ingest struct {
	mu     sync.Mutex
	stored []logmodel.Entry
	done   chan struct{}
}

func startIngest(t *testing.T, s *store.Store, batches, size int, pause time.Duration) *ingest {
	in := &ingest{done: make(chan struct{})}
	services := []string{"payments", "web", "auth"}
	levels := []string{"info", "error", "debug"}
	go func() {
		defer close(in.done)
		rng := rand.New(rand.NewPCG(7, 9))
		for b := 0; b < batches; b++ {
			var es []logmodel.Entry
			for i := 0; i < size; i++ {
				svc := services[rng.IntN(len(services))]
				es = append(es, logmodel.Entry{
					Labels:    logmodel.FromPairs("app", svc, "namespace", "ns-"+svc, "pod", fmt.Sprint("p", rng.IntN(3))),
					Timestamp: time.Now().UnixNano() - int64(rng.IntN(1000)), // slightly out of order
					Line:      []byte(fmt.Sprintf("batch %d entry %d timeout=%v", b, i, rng.IntN(4) == 0)),
					Metadata:  logmodel.FromPairs("level", levels[rng.IntN(len(levels))]),
				})
			}
			res, err := s.Append(context.Background(), "t", es)
			if err != nil {
				t.Error(err)
				return
			}
			in.mu.Lock()
			for i, c := range res.Cursors {
				es[i].Cursor = c
				in.stored = append(in.stored, es[i])
			}
			in.mu.Unlock()
			time.Sleep(pause)
		}
	}()
	return in
}

func (in *ingest) matching(from logmodel.Cursor, match func(*logmodel.Entry) bool) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for i := range in.stored {
		e := &in.stored[i]
		if e.Cursor.Seq > from.Seq && match(e) {
			out = append(out, string(e.Line))
		}
	}
	return out
}

// followWithBreaks follows from a cursor, breaking the connection at random
// points and resuming from the last delivered cursor, until want entries
// arrived or the deadline passes.
func followWithBreaks(t *testing.T, hub *Hub, s *store.Store, flt *Filter, service string, from logmodel.Cursor,
	in *ingest, rng *rand.Rand, slow time.Duration) []string {
	t.Helper()
	var got []string
	cursor := from
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithCancel(context.Background())
		breakAfter := 1 + rng.IntN(300)
		n := 0
		complete := func() bool {
			select {
			case <-in.done:
				return len(got) >= len(in.matching(from, modelMatch(flt, service)))
			default:
				return false
			}
		}
		idle := func() error {
			if complete() {
				cancel()
			}
			return nil
		}
		err := hub.Follow(ctx, s, FollowSpec{Tenant: "t", Query: QueryFor("t", flt, service), Cursor: cursor, ReadBatch: 1 + rng.IntN(100), Idle: idle},
			func(ev Event) error {
				if ev.Gap != nil {
					t.Fatalf("unexpected gap %+v", ev.Gap)
				}
				if ev.Entry.Cursor.Seq <= cursor.Seq {
					t.Fatalf("cursor went back: %d after %d", ev.Entry.Cursor.Seq, cursor.Seq)
				}
				got = append(got, string(ev.Entry.Line))
				cursor = ev.Entry.Cursor
				n++
				if slow > 0 {
					time.Sleep(slow)
				}
				if n >= breakAfter {
					cancel()
				}
				return nil
			})
		cancel()
		if err != nil && err != context.Canceled {
			t.Fatal(err)
		}
		if complete() {
			return got
		}
	}
	return got
}

func TestFollowWithRandomBreaksIsExact(t *testing.T) {
	hub := NewHub(DefaultHubConfig())
	defer hub.Close()
	s := openStore(t, hub)
	for _, tc := range []struct{ filter, service string }{
		{"", "*"},
		{"level=error", "payments"},
		{`"timeout=true" or level=debug`, "*"},
	} {
		t.Run(tc.filter+"/"+tc.service, func(t *testing.T) {
			from := s.LastCursor("t")
			in := startIngest(t, s, 120, 40, time.Millisecond)
			flt, err := ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			got := followWithBreaks(t, hub, s, flt, tc.service, from, in, rand.New(rand.NewPCG(1, 2)), 0)
			<-in.done
			want := in.matching(from, modelMatch(flt, tc.service))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("received %d entries; want exactly the %d that matched, in cursor order", len(got), len(want))
			}
		})
	}
}

func TestSlowConsumerReceivesEverything(t *testing.T) {
	hub := NewHub(HubConfig{QueueBatches: 8, SubscriberEntries: 32})
	defer hub.Close()
	s := openStore(t, hub)
	from := s.LastCursor("t")
	// Ingest 2,000 entries in about 0.2 s; the consumer takes 1 ms each,
	// ten times slower.
	in := startIngest(t, s, 100, 20, 2*time.Millisecond)
	flt, _ := ParseFilter("")
	got := followWithBreaks(t, hub, s, flt, "*", from, in, rand.New(rand.NewPCG(3, 4)), 100*time.Microsecond)
	want := in.matching(from, modelMatch(flt, "*"))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("slow consumer received %d entries; want %d", len(got), len(want))
	}
}

func TestGapAfterRetention(t *testing.T) {
	hub := NewHub(DefaultHubConfig())
	defer hub.Close()
	clock := time.Now()
	clk := testingclock.NewFakePassiveClock(clock)
	cfg := store.DefaultConfig(t.TempDir())
	cfg.OnCommit = hub.OnCommit
	cfg.PartWindow = time.Hour
	cfg.Clock = clk
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ls := logmodel.FromPairs("app", "a")
	old := []logmodel.Entry{{Labels: ls, Timestamp: clock.Add(-5 * time.Hour).UnixNano(), Line: []byte("old 1")}, {Labels: ls, Timestamp: clock.Add(-5*time.Hour + 1).UnixNano(), Line: []byte("old 2")}}
	if _, err := s.Append(ctx, "t", old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "t", []logmodel.Entry{{Labels: ls, Timestamp: clock.UnixNano(), Line: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.SetRetention("t", 2*time.Hour)
	if err := s.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	var events []Event
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	flt, _ := ParseFilter("")
	_ = hub.Follow(fctx, s, FollowSpec{Tenant: "t", Query: QueryFor("t", flt, "*"), Cursor: logmodel.Cursor{Seq: 1}}, func(ev Event) error {
		events = append(events, ev)
		if len(events) == 2 {
			cancel()
		}
		return nil
	})
	if len(events) != 2 || events[0].Gap == nil || events[0].Gap.Missing != 1 || events[1].Entry == nil || string(events[1].Entry.Line) != "new" {
		t.Fatalf("events %+v; want one gap of 1 entry, then \"new\"", events)
	}
}

// modelMatch is the model of which live entries a follow of QueryFor(f,
// service) delivers, written without the store.
func modelMatch(f *Filter, service string) func(e *logmodel.Entry) bool {
	return func(e *logmodel.Entry) bool {
		if service != "" && service != "*" && e.Labels.Get("app") != service {
			return false
		}
		return f.Match(e.Labels, e.Metadata, e.Line)
	}
}
