package collector

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// TestFollow checks Follow through a broken stream: the first stream starts
// as asked, the next from the last line taken without a duplicate, a last
// line without a newline is taken, and Follow returns at the end of the log.
func TestFollow(t *testing.T) {
	logs := newFakeLogs()
	tail := int64(10)
	var gone int
	spec := FollowSpec{Source: logs, Namespace: "ns", Pod: "web", MaxLineBytes: 1024,
		Options:    corev1.PodLogOptions{Container: "app", Follow: true, TailLines: &tail},
		BackoffMin: time.Second, BackoffMax: time.Second,
		Gone:  func(context.Context) bool { gone++; return false },
		Clock: steppedClock(t),
	}
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- Follow(context.Background(), spec, func(l Line) error {
			got = append(got, string(l.Stamp)+"|"+string(l.Text))
			return nil
		})
	}()
	s := <-logs.opens
	if !s.opts.Timestamps || !s.opts.Follow || s.opts.TailLines == nil || s.opts.SinceTime != nil || s.namespace != "ns" || s.pod != "web" {
		t.Fatalf("first stream opened with %+v; want follow, timestamps, TailLines", s.opts)
	}
	s.write(t, "2026-11-21T12:00:01.5Z a", "2026-11-21T12:00:01.5Z a", "not a log line")
	s.w.CloseWithError(errBroken)
	s = <-logs.opens
	if s.opts.TailLines != nil || !s.since().Equal(t0.Add(1500*time.Millisecond)) {
		t.Fatalf("stream after the break opened with %+v; want it from a's timestamp, without TailLines", s.opts)
	}
	s.write(t, "2026-11-21T12:00:01.5Z a", "2026-11-21T12:00:01.5Z a", "2026-11-21T12:00:01.5Z a")
	if _, err := s.w.Write([]byte("2026-11-21T12:00:02+01:00 unterminated")); err != nil {
		t.Fatal(err)
	}
	s.w.Close()
	if err := <-done; err != nil {
		t.Fatalf("Follow: %v; want nil at the end of the log", err)
	}
	want := "2026-11-21T12:00:01.5Z|a 2026-11-21T12:00:01.5Z|a 2026-11-21T12:00:01.5Z|a 2026-11-21T12:00:02+01:00|unterminated"
	if strings.Join(got, " ") != want || gone != 1 {
		t.Fatalf("got %q after %d checks for a gone container; want %q after 1", got, gone, want)
	}
}

// TestFollowStops checks that Follow returns the error that broke the stream
// once the container is gone, and ctx's error once ctx ends.
func TestFollowStops(t *testing.T) {
	logs := newFakeLogs()
	spec := FollowSpec{Source: logs, MaxLineBytes: 1024, BackoffMin: time.Second, BackoffMax: time.Second,
		Gone: func(context.Context) bool { return true }}
	done := make(chan error, 1)
	go func() { done <- Follow(context.Background(), spec, func(Line) error { return nil }) }()
	(<-logs.opens).w.CloseWithError(errBroken)
	if err := <-done; !errors.Is(err, errBroken) {
		t.Fatalf("Follow of a gone container: %v; want %v", err, errBroken)
	}

	ctx, cancel := context.WithCancel(context.Background())
	spec.Gone = nil
	errEmit := errors.New("stdout closed")
	go func() { done <- Follow(ctx, spec, func(Line) error { return errEmit }) }()
	s := <-logs.opens
	s.write(t, "2026-11-21T12:00:01Z a")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after ctx ended: %v; want %v", err, context.Canceled)
	}
}

// steppedClock returns a fake clock that a goroutine steps through every
// timer set on it, until the test ends.
func steppedClock(t *testing.T) *testingclock.FakeClock {
	clk := testingclock.NewFakeClock(t0)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				if clk.HasWaiters() {
					clk.Step(time.Minute)
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return clk
}
