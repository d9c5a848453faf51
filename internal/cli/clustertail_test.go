package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

func TestClusterTailSpec(t *testing.T) {
	f := func(o tailOptions, wantErr string) {
		t.Helper()
		if o.output == "" {
			o.output = "default"
		}
		_, err := o.clusterTailSpec()
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%+v: got %v; want no error", o, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%+v: got %v; want an error containing %q", o, err, wantErr)
		}
	}
	f(tailOptions{}, "")
	f(tailOptions{podRegex: "^web-", container: "app", selector: "app=web,tier!=db", cluster: clusterTailFlags{since: "10m", include: []string{"err"}, exclude: []string{"debug"}, excludeContainer: "istio"}}, "")
	f(tailOptions{output: "yaml"}, "--output")
	f(tailOptions{podRegex: "("}, "POD_REGEX")
	f(tailOptions{container: "["}, "--container")
	f(tailOptions{cluster: clusterTailFlags{excludeContainer: "("}}, "--exclude-container")
	f(tailOptions{cluster: clusterTailFlags{include: []string{"("}}}, "--include")
	f(tailOptions{cluster: clusterTailFlags{exclude: []string{"("}}}, "--exclude")
	f(tailOptions{cluster: clusterTailFlags{since: "soon"}}, "--since")
	f(tailOptions{cluster: clusterTailFlags{since: "-5m"}}, "--since")
	f(tailOptions{selector: "a in ("}, "--selector")
	f(tailOptions{namespace: "x", allNamespaces: true}, "not both")
}

func TestClusterTailKeep(t *testing.T) {
	o := tailOptions{output: "raw", cluster: clusterTailFlags{include: []string{"error", "warn"}, exclude: []string{"healthz"}}}
	ct, err := o.clusterTailSpec()
	if err != nil {
		t.Fatal(err)
	}
	f := func(msg string, want bool) {
		t.Helper()
		if got := ct.keep(msg); got != want {
			t.Errorf("keep(%q): got %v; want %v", msg, got, want)
		}
	}
	f("an error", true)
	f("warn: disk", true)
	f("info", false)
	f("error on /healthz", false)
}

// errBroken breaks a scripted stream, as a dropped connection does.
var errBroken = errors.New("connection reset")

// scriptedLogs serves its streams in turn: each but the last breaks after
// its text with errBroken, the last ends.
type scriptedLogs struct {
	streams []string
	// onOpen, when set, is called with the number of streams opened before.
	onOpen func(n int)
	opened int
}

func (s *scriptedLogs) OpenLog(_ context.Context, _, _ string, _ *corev1.PodLogOptions) (io.ReadCloser, error) {
	n := s.opened
	s.opened++
	if s.onOpen != nil {
		s.onOpen(n)
	}
	if n >= len(s.streams) {
		return nil, fmt.Errorf("stream %d not scripted", n)
	}
	var r io.Reader = strings.NewReader(s.streams[n])
	if n < len(s.streams)-1 {
		r = io.MultiReader(r, iotest.ErrReader(errBroken))
	}
	return io.NopCloser(r), nil
}

// tailScripted runs ct's follow of container c of pod ns/p over logs until it
// returns, stepping a fake clock through each reconnect backoff.
func tailScripted(ct *clusterTail, logs *scriptedLogs) {
	clk := testingclock.NewFakeClock(time.Now())
	ct.clock, ct.logs = clk, logs
	ct.client = fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"}})
	if ct.status == nil {
		ct.status = io.Discard
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ct.follow(context.Background(), "ns", "p", "u", "c")
	}()
	for {
		select {
		case <-done:
			return
		default:
			if clk.HasWaiters() {
				clk.Step(tailBackoffMax)
			}
			runtime.Gosched()
		}
	}
}

// TestClusterTailResume checks that a reopened stream skips the lines
// already printed, counting lines that share a timestamp.
func TestClusterTailResume(t *testing.T) {
	var out strings.Builder
	ct := &clusterTail{output: "raw", out: bufio.NewWriter(&out)}
	first := "2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n"
	// Reopened from the second: the two b lines at :02 were printed already.
	again := "2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:03Z c\n"
	tailScripted(ct, &scriptedLogs{streams: []string{first, again}})
	if got, want := out.String(), "a\nb\nb\nb\nc\n"; got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

// TestClusterTailOutput checks what each output prints: the timestamp as the
// API sent it, a carriage return before the newline dropped, and a last line
// without a newline.
func TestClusterTailOutput(t *testing.T) {
	f := func(output string, timestamps bool, namespace, want string) {
		t.Helper()
		var out strings.Builder
		ct := &clusterTail{output: output, timestamps: timestamps, namespace: namespace, out: bufio.NewWriter(&out)}
		tailScripted(ct, &scriptedLogs{streams: []string{"2026-01-01T00:00:01.5+01:00 one\r\n2026-01-01T00:00:02.000000000Z two"}})
		if got := out.String(); got != want {
			t.Errorf("-o %s --timestamps=%v: got %q; want %q", output, timestamps, got, want)
		}
	}
	f("raw", false, "ns", "one\ntwo\n")
	f("raw", true, "ns", "2026-01-01T00:00:01.5+01:00 one\n2026-01-01T00:00:02.000000000Z two\n")
	f("default", false, "ns", "p c one\np c two\n")
	f("default", true, "", "2026-01-01T00:00:01.5+01:00 ns/p c one\n2026-01-01T00:00:02.000000000Z ns/p c two\n")
	f("json", false, "ns", `{"timestamp":"2026-01-01T00:00:01.5+01:00","namespace":"ns","pod":"p","container":"c","message":"one"}
{"timestamp":"2026-01-01T00:00:02.000000000Z","namespace":"ns","pod":"p","container":"c","message":"two"}
`)
}

// TestClusterTailLongLine checks that a line of 16 MiB is printed whole.
func TestClusterTailLongLine(t *testing.T) {
	var out strings.Builder
	ct := &clusterTail{output: "raw", out: bufio.NewWriter(&out)}
	stamp := "2026-01-01T00:00:01Z "
	msg := strings.Repeat("x", tailMaxLine-len(stamp))
	tailScripted(ct, &scriptedLogs{streams: []string{stamp + msg + "\n2026-01-01T00:00:02Z next\n"}})
	if got, want := out.String(), msg+"\nnext\n"; got != want {
		t.Fatalf("got %d bytes; want %d", len(got), len(want))
	}
}

// FuzzClusterTailRead feeds arbitrary streams to the tail: it never prints
// more lines than it read, and when the stream breaks and is read a second
// time from the resume point, with non-decreasing timestamps, it prints what
// one unbroken read prints, without a duplicate or a gap.
func FuzzClusterTailRead(f *testing.F) {
	f.Add("2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n")
	f.Add("no-timestamp\n\n \nx y z\n")
	f.Add("2026-01-01T00:00:02Z b\n2026-01-01T00:00:01Z a\n")
	f.Add("2026-01-01T00:00:01.5Z a\n2026-01-01T00:00:01.25Z b\n2026-01-01T00:00:01+00:00 c")
	f.Fuzz(func(t *testing.T, in string) {
		tail := func(streams ...string) string {
			var out strings.Builder
			ct := &clusterTail{output: "raw", out: bufio.NewWriter(&out)}
			tailScripted(ct, &scriptedLogs{streams: streams})
			return out.String()
		}
		once := tail(in)
		lines := strings.Split(strings.TrimSuffix(in, "\n"), "\n")
		if printed := strings.Count(once, "\n"); in != "" && printed > len(lines) {
			t.Fatalf("printed %d lines from %d", printed, len(lines))
		}
		// Timestamps are compared as the tail keeps them, in Unix
		// nanoseconds: time order for any node timestamp (years 1678 to 2262).
		var prev int64
		for _, l := range lines {
			stamp, _, _ := strings.Cut(l, " ")
			ts, err := time.Parse(time.RFC3339Nano, stamp)
			if err != nil {
				continue // not printed
			}
			if ts.UnixNano() < prev {
				return
			}
			prev = ts.UnixNano()
		}
		if twice := tail(in, in); twice != once {
			t.Fatalf("read again from the resume point: got %q; want %q", twice, once)
		}
	})
}

// BenchmarkClusterTailRead measures the line reader and the default output.
func BenchmarkClusterTailRead(b *testing.B) {
	var in strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&in, "2026-01-01T00:00:%02d.%09dZ level=info msg=\"request served\" path=/api/v1/items/%d status=200\n", i/100, i, i)
	}
	stream := in.String()
	ct := &clusterTail{output: "default", out: bufio.NewWriter(io.Discard), status: io.Discard, exclude: []*regexp.Regexp{regexp.MustCompile("healthz")}}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		ct.logs = &scriptedLogs{streams: []string{stream}}
		ct.follow(context.Background(), "ns", "pod", "u", "app")
	}
}
