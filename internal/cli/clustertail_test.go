package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
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

// TestClusterTailResume checks that a reopened stream skips the lines
// already printed, counting lines that share a timestamp.
func TestClusterTailResume(t *testing.T) {
	var out strings.Builder
	ct := &clusterTail{output: "raw", out: bufio.NewWriter(&out)}
	last, skip := "", 0
	first := "2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n"
	if err := ct.read(context.Background(), strings.NewReader(first), "ns", "p", "c", &last, &skip); err != nil {
		t.Fatal(err)
	}
	// Reopened from the second: the two b lines at :02 were printed already.
	again := "2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:03Z c\n"
	if err := ct.read(context.Background(), strings.NewReader(again), "ns", "p", "c", &last, &skip); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "a\nb\nb\nb\nc\n"; got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

// FuzzClusterTailRead feeds arbitrary streams to the line reader: it never
// prints more lines than it read, and reading a stream with non-decreasing
// timestamps a second time from the resume point prints nothing more.
func FuzzClusterTailRead(f *testing.F) {
	f.Add("2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z b\n")
	f.Add("no-timestamp\n\n \nx y z\n")
	f.Add("2026-01-01T00:00:02Z b\n2026-01-01T00:00:01Z a\n")
	f.Fuzz(func(t *testing.T, in string) {
		var out strings.Builder
		ct := &clusterTail{output: "raw", out: bufio.NewWriter(&out)}
		last, skip := "", 0
		if err := ct.read(context.Background(), strings.NewReader(in), "ns", "p", "c", &last, &skip); err != nil {
			return // a line over the scanner's limit
		}
		lines := strings.Split(strings.TrimSuffix(in, "\n"), "\n")
		printed := strings.Count(out.String(), "\n")
		if in != "" && printed > len(lines) {
			t.Fatalf("printed %d lines from %d", printed, len(lines))
		}
		prev := ""
		for _, l := range lines {
			ts, _, _ := strings.Cut(l, " ")
			if ts < prev {
				return
			}
			prev = ts
		}
		if err := ct.read(context.Background(), strings.NewReader(in), "ns", "p", "c", &last, &skip); err != nil {
			t.Fatal(err)
		}
		if again := strings.Count(out.String(), "\n"); again != printed {
			t.Fatalf("reading again from the resume point printed %d more lines", again-printed)
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
	ct := &clusterTail{output: "default", out: bufio.NewWriter(io.Discard), exclude: []*regexp.Regexp{regexp.MustCompile("healthz")}}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		last, skip := "", 0
		if err := ct.read(context.Background(), strings.NewReader(stream), "ns", "pod", "app", &last, &skip); err != nil {
			b.Fatal(err)
		}
	}
}
