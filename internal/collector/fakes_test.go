package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// errBroken breaks a fake stream, as a dropped connection does.
var errBroken = errors.New("connection reset")

// t0 is when the fake clocks start, and the node timestamps of the fake logs.
var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// line returns a log line as the API sends it with timestamps=true, stamped
// sec seconds and nsec nanoseconds after t0.
func line(sec, nsec int, text string) string {
	return stamp(sec, nsec).Format("2006-01-02T15:04:05.000000000Z07:00") + " " + text
}

// stamp returns the time sec seconds and nsec nanoseconds after t0.
func stamp(sec, nsec int) time.Time {
	return t0.Add(time.Duration(sec)*time.Second + time.Duration(nsec))
}

// fakeLogs is a LogSource whose streams the test writes: each OpenLog hands
// a fakeStream to the test on opens, and the stream ends with the context
// it was opened with, as an API stream does.
type fakeLogs struct {
	opens chan *fakeStream
}

var _ LogSource = (*fakeLogs)(nil)

// fakeStream is one opened stream: its options and the write end of its body.
type fakeStream struct {
	namespace, pod string
	opts           corev1.PodLogOptions
	w              *io.PipeWriter
}

func newFakeLogs() *fakeLogs { return &fakeLogs{opens: make(chan *fakeStream)} }

func (f *fakeLogs) OpenLog(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	r, w := io.Pipe()
	select {
	case f.opens <- &fakeStream{namespace: namespace, pod: pod, opts: *opts, w: w}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	context.AfterFunc(ctx, func() { r.CloseWithError(ctx.Err()) })
	return r, nil
}

// write sends lines, each with a newline, and returns once they were read.
func (s *fakeStream) write(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(s.w, l+"\n"); err != nil {
			t.Fatalf("write %q: %v", l, err)
		}
	}
}

// since returns the stream's SinceTime, or the zero time.
func (s *fakeStream) since() time.Time {
	if s.opts.SinceTime == nil {
		return time.Time{}
	}
	return s.opts.SinceTime.Time
}

// memSink is a Sink keeping entries in memory.
type memSink struct {
	mu sync.Mutex
	// entries are the entries appended (guarded by mu).
	entries []logmodel.Entry
}

func (s *memSink) Append(_ context.Context, _ string, es []logmodel.Entry) (store.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, es...)
	return store.AppendResult{Accepted: len(es)}, nil
}

// stored returns the entries appended so far.
func (s *memSink) stored() []logmodel.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logmodel.Entry(nil), s.entries...)
}

// texts returns the lines of the entries appended so far, joined by spaces.
func (s *memSink) texts() string {
	var out []string
	for _, e := range s.stored() {
		out = append(out, string(e.Line))
	}
	return strings.Join(out, " ")
}

// harness is a cluster collector without an API server: its pods are in an
// indexer the test edits, its logs come from fakeLogs and its clock is fake.
type harness struct {
	t    *testing.T
	clk  *testingclock.FakeClock
	logs *fakeLogs
	sink *memSink
	pods cache.Indexer
	c    *clusterCollector
}

// newHarness returns a harness whose collector selects every container.
// The config has BatchLines 1, so that each line is stored once read, and
// idle timeout and lifetime long enough not to interfere; edit adjusts it.
func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clk: testingclock.NewFakeClock(t0), logs: newFakeLogs(), sink: &memSink{},
		pods: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})}
	cfg := DefaultConfig()
	cfg.Clock = h.clk
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.BatchLines = 1
	cfg.IdleTimeout, cfg.MaxStreamLifetime = time.Hour, 24*time.Hour
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewManager(cfg, h.sink, &MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	sels, err := compileSelections([]Selection{{ID: "all", Namespace: "*", IncludeInit: true, Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	h.c = &clusterCollector{
		m: m, spec: Cluster{ID: "c1", Name: "test", Tenant: "t1"}, logs: h.logs,
		pods: corelisters.NewPodLister(h.pods), synced: func() bool { return true },
		sels:    sels,
		slots:   make(chan struct{}, cfg.MaxStreams),
		kick:    make(chan struct{}, 1),
		streams: make(map[string]context.CancelFunc),
		done:    make(map[string]types.UID),
	}
	h.c.ctx, h.c.cancel = context.WithCancel(context.Background())
	t.Cleanup(h.c.stop)
	return h
}

// setPod adds pod to the informer's view, or replaces it there, and
// reconciles.
func (h *harness) setPod(pod *corev1.Pod) {
	h.t.Helper()
	if err := h.pods.Update(pod); err != nil {
		h.t.Fatal(err)
	}
	h.c.reconcile()
}

// open waits for the next stream opened, stepping the clock by step (when
// positive) while it waits, through backoffs.
func (h *harness) open(step time.Duration) *fakeStream {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case s := <-h.logs.opens:
			return s
		case <-time.After(time.Millisecond):
		}
		if step > 0 {
			h.clk.Step(step)
		}
		if time.Now().After(deadline) {
			h.t.Fatal("no stream opened")
		}
	}
}

// noOpen checks that no stream opens for a moment.
func (h *harness) noOpen() {
	h.t.Helper()
	select {
	case s := <-h.logs.opens:
		h.t.Fatalf("stream opened with %+v; want none", s.opts)
	case <-time.After(50 * time.Millisecond):
	}
}

// waitTexts waits until the stored lines are want.
func (h *harness) waitTexts(want string) {
	h.t.Helper()
	eventually(h.t, func() bool { return h.sink.texts() == want }, func() string {
		return "stored lines " + h.sink.texts() + "; want " + want
	})
}

// eventually waits until cond holds, failing with what's message after 10s.
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(time.Millisecond)
	}
}

// pod returns pod ns/web, UID u1, with container app's status st.
func pod(st corev1.ContainerStatus) *corev1.Pod {
	st.Name = "app"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-0", Containers: []corev1.Container{{Name: "app"}}},
		Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{st}},
	}
}

// running is the status of a container's running instance.
func running(restart int32, id string) corev1.ContainerStatus {
	return corev1.ContainerStatus{RestartCount: restart, ContainerID: id, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

// exited is the status of a container's terminated instance.
func exited(restart int32, id string) corev1.ContainerStatus {
	return corev1.ContainerStatus{RestartCount: restart, ContainerID: id, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ContainerID: id}}}
}
