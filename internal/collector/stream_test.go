package collector

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubelog/kubelog/internal/logmodel"
)

const id = "containerd://abc"

// TestStreamIdleStall checks that a stream of a running container that goes
// silent for the idle timeout is opened again from its resume point.
func TestStreamIdleStall(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = time.Minute })
	h.setPod(pod(running(0, id)))
	s := h.open(0)
	if !s.opts.Follow || !s.opts.Timestamps || s.opts.Previous || s.opts.SinceTime != nil || s.opts.Container != "app" || s.pod != "web" {
		t.Fatalf("first stream of %s opened with %+v; want follow, timestamps, container app, from the start", s.pod, s.opts)
	}
	s.write(t, line(1, 0, "a"), line(2, 0, "b"))
	h.waitTexts("a b")
	h.clk.Step(30 * time.Second)
	h.noOpen()
	h.clk.Step(30 * time.Second)
	s2 := h.open(0)
	if !s2.since().Equal(stamp(2, 0)) || !s2.opts.Follow {
		t.Fatalf("stream after the stall opened with %+v; want follow from b's timestamp", s2.opts)
	}
	s2.write(t, line(2, 0, "b"), line(3, 0, "c"))
	h.waitTexts("a b c")
	if got := reconnectsFor(h.c, reasonIdle); got != 1 {
		t.Fatalf("idle reconnects: got %d; want 1", got)
	}
}

// TestStreamLifetime checks that a stream that lived MaxStreamLifetime is
// opened again from its resume point, even while lines flow.
func TestStreamLifetime(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxStreamLifetime = 10 * time.Minute })
	h.setPod(pod(running(0, id)))
	s := h.open(0)
	for i := range 10 {
		s.write(t, line(i, 0, "x"))
		h.clk.Step(time.Minute - time.Millisecond)
	}
	h.waitTexts("x x x x x x x x x x")
	h.clk.Step(time.Second)
	s2 := h.open(0)
	if !s2.since().Equal(stamp(9, 0)) {
		t.Fatalf("stream after the lifetime opened with %+v; want it from the last line's timestamp", s2.opts)
	}
	s2.write(t, line(9, 0, "x"), line(10, 0, "y"))
	h.waitTexts("x x x x x x x x x x y")
	if got := reconnectsFor(h.c, reasonLifetime); got != 1 {
		t.Fatalf("lifetime reconnects: got %d; want 1", got)
	}
}

// TestStreamFinishing checks that the stream of a container that exited is
// closed once quiet and read once more without follow, to its end, and then
// not opened again.
func TestStreamFinishing(t *testing.T) {
	h := newHarness(t, nil)
	h.setPod(pod(running(0, id)))
	s := h.open(0)
	s.write(t, line(1, 0, "a"), line(2, 0, "b"))
	h.waitTexts("a b")
	h.setPod(pod(exited(0, id)))
	h.clk.Step(time.Second)
	s2 := h.open(0)
	if s2.opts.Follow || !s2.since().Equal(stamp(2, 0)) {
		t.Fatalf("stream of the exited container opened with %+v; want no follow, from b's timestamp", s2.opts)
	}
	s2.write(t, line(2, 0, "b"), line(3, 0, "last words"))
	s2.w.Close()
	h.waitTexts("a b last words")
	eventually(t, func() bool { return doneCount(h.c) == 1 }, func() string { return "the instance is not marked read to its end" })
	h.c.reconcile()
	h.noOpen()
}

// TestStreamEndsWithContainer checks that a follow that ends because the
// container exited is read once more without follow, while one that ends
// while the container runs is opened again after a backoff.
func TestStreamEndsWithContainer(t *testing.T) {
	h := newHarness(t, nil)
	h.setPod(pod(running(0, id)))
	s := h.open(0)
	s.write(t, line(1, 0, "a"))
	h.waitTexts("a")
	s.w.Close()
	s = h.open(time.Second)
	if !s.opts.Follow || !s.since().Equal(stamp(1, 0)) {
		t.Fatalf("stream after a clean end opened with %+v; want follow from a's timestamp", s.opts)
	}
	if got := reconnectsFor(h.c, reasonError); got != 1 {
		t.Fatalf("error reconnects: got %d; want 1", got)
	}
	s.write(t, line(1, 0, "a"), line(2, 0, "b"))
	h.waitTexts("a b")
	h.setPod(pod(exited(0, id)))
	s.w.Close()
	s2 := h.open(0)
	if s2.opts.Follow {
		t.Fatalf("stream of the exited container opened with %+v; want no follow", s2.opts)
	}
	s2.write(t, line(2, 0, "b"))
	s2.w.Close()
	eventually(t, func() bool { return doneCount(h.c) == 1 }, func() string { return "the instance is not marked read to its end" })
	h.waitTexts("a b")
}

// TestStreamPrevious checks that the previous instance of a restarted
// container is read from the previous log to its end, beside the current
// one, and that each entry tells its instance.
func TestStreamPrevious(t *testing.T) {
	h := newHarness(t, nil)
	st := running(1, "containerd://new")
	st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ContainerID: "containerd://old"}
	h.setPod(pod(st))
	var prev, cur *fakeStream
	for range 2 {
		s := h.open(0)
		if s.opts.Previous {
			prev = s
		} else {
			cur = s
		}
	}
	if prev == nil || cur == nil || prev.opts.Follow || !cur.opts.Follow {
		t.Fatalf("streams opened: previous %+v, current %+v; want one of each, following the current only", prev, cur)
	}
	prev.write(t, line(1, 0, "old"))
	h.waitTexts("old")
	cur.write(t, line(5, 0, "new"))
	h.waitTexts("old new")
	prev.w.Close()
	eventually(t, func() bool { return doneCount(h.c) == 1 }, func() string { return "the previous instance is not marked read to its end" })
	f := func(e logmodel.Entry, restart, container string) {
		t.Helper()
		if got := e.Metadata.Get(logmodel.MetaRestart); got != restart {
			t.Errorf("%s: restart %q; want %q", e.Line, got, restart)
		}
		if got := e.Metadata.Get(logmodel.MetaContainerID); got != container {
			t.Errorf("%s: container ID %q; want %q", e.Line, got, container)
		}
		if got := e.Labels.Get("pod") + "/" + e.Labels.Get("container") + "@" + e.Labels.Get("node"); got != "web/app@node-0" {
			t.Errorf("%s: labels %v; want pod web, container app, node node-0", e.Line, e.Labels)
		}
	}
	es := h.sink.stored()
	f(es[0], "0", "containerd://old")
	f(es[1], "1", "containerd://new")
}

// TestStreamResume checks that a stream starts from its saved resume point,
// and that after a broken connection it goes on from the last line stored:
// no line is stored twice or lost, lines sharing a timestamp included, and
// the resume point is saved when the stream stops.
func TestStreamResume(t *testing.T) {
	h := newHarness(t, nil)
	key := "t1/c1/" + id
	if err := h.c.m.checkpoints.Save(context.Background(), key, Resume{Timestamp: stamp(2, 5).UnixNano(), Count: 2}); err != nil {
		t.Fatal(err)
	}
	h.setPod(pod(running(0, id)))
	s := h.open(0)
	if !s.since().Equal(stamp(2, 5)) {
		t.Fatalf("stream opened with %+v; want it from the saved resume point", s.opts)
	}
	// The API sends from the second: the lines before the resume point go.
	s.write(t, line(2, 0, "before"), line(2, 5, "b"), line(2, 5, "b"), line(2, 5, "b"), line(3, 0, "c"))
	h.waitTexts("b c")
	s.w.CloseWithError(errBroken)
	s2 := h.open(time.Second)
	if !s2.since().Equal(stamp(3, 0)) {
		t.Fatalf("stream after the break opened with %+v; want it from c's timestamp", s2.opts)
	}
	s2.write(t, line(3, 0, "c"), line(3, 0, "c"), line(4, 0, "d"))
	h.waitTexts("b c c d")
	es := h.sink.stored()
	for i, want := range []string{"2", "", "1", ""} {
		if got := es[i].Metadata.Get(logmodel.MetaOrdinal); got != want {
			t.Errorf("entry %d (%s): ordinal %q; want %q", i, es[i].Line, got, want)
		}
	}
	h.c.stop()
	r, ok, err := h.c.m.checkpoints.Load(context.Background(), key)
	if err != nil || !ok || r != (Resume{Timestamp: stamp(4, 0).UnixNano(), Count: 1}) {
		t.Fatalf("saved resume point: got %+v, %v, %v; want d's", r, ok, err)
	}
}

// reconnectsFor returns c's reconnections for reason.
func reconnectsFor(c *clusterCollector, reason string) int64 {
	for i, r := range reconnectReasons {
		if r == reason {
			return c.reconnects[i].Load()
		}
	}
	return -1
}

// doneCount returns how many instances c read to their end.
func doneCount(c *clusterCollector) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.done)
}
