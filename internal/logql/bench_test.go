package logql

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// benchEntries renders 100k logfmt entries from real log lines of several
// loghub systems, spread over 10 streams and 100 minutes.
func benchEntries(b *testing.B) (*MemSource, int64) {
	b.Helper()
	levelRE := regexp.MustCompile(`\b(ERROR|WARN|INFO|DEBUG|error|notice|warn)\b`)
	var raw []string
	for _, f := range []string{"Hadoop_2k.log", "Zookeeper_2k.log", "Apache_2k.log", "OpenStack_2k.log", "Spark_2k.log"} {
		raw = append(raw, readLines(b, f)...)
	}
	src := &MemSource{Parallelism: 2}
	var size int64
	const n = 100_000
	for i := range n {
		l := raw[i%len(raw)]
		level := "info"
		if m := levelRE.FindString(l); m != "" {
			level = strings.ToLower(m)
		}
		line := fmt.Sprintf("ts=%d level=%s caller=main.go:%d msg=%s", i, level, i%97, strconv.Quote(l))
		size += int64(len(line))
		src.Entries = append(src.Entries, Entry{
			Labels:    logmodel.FromPairs("app", "x", "pod", "pod-"+strconv.Itoa(i%10)),
			Timestamp: t0 + int64(i)*int64(60*time.Millisecond),
			Line:      []byte(line),
		})
	}
	return src, size
}

func BenchmarkParse(b *testing.B) {
	q := `sum by (level) (rate({app="x", env=~"prod|staging"} |= "error" != "timeout" | logfmt | level="error" and duration > 10ms | line_format "{{.msg}}" [5m])) / on (level) group_left sum(rate({app="x"}[5m]))`
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := ParseExpr(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPipeline(b *testing.B) {
	src, size := benchEntries(b)
	e := newTestEngine(b, src)
	expr := mustParse(b, `{app="x"} |= "error" | logfmt | level="error"`)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		streams, stats, err := e.QueryLogs(context.Background(), expr, t0, t0+int64(2*time.Hour), logmodel.Backward, 1000)
		if err != nil || len(streams) == 0 {
			b.Fatal(err, stats)
		}
	}
}

func BenchmarkPipelineNoLimit(b *testing.B) {
	src, size := benchEntries(b)
	e := newTestEngine(b, src)
	expr := mustParse(b, `{app="x"} |= "error" | logfmt | level="error"`)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		if _, _, err := e.QueryLogs(context.Background(), expr, t0, t0+int64(2*time.Hour), logmodel.Forward, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMetricQuery(b *testing.B) {
	src, size := benchEntries(b)
	e := newTestEngine(b, src)
	for _, q := range []string{
		`sum by (level) (count_over_time({app="x"} | logfmt [1m]))`,
		`sum by (pod) (rate({app="x"} |= "error" [5m]))`,
		`quantile_over_time(0.99, {app="x"} | logfmt | unwrap ts [5m]) by (level)`,
	} {
		b.Run(q, func(b *testing.B) {
			expr := mustParse(b, q)
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				if _, err := e.QueryRange(context.Background(), expr, t0, t0+int64(100*time.Minute), 15*time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
