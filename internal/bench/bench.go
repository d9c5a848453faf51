// Package bench measures kubelog on the standard dataset: ingest rate, disk
// use, memory and the five standard queries.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kubelog/kubelog/internal/dataset"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/tail"
)

// Config says what to run.
type Config struct {
	// Corpus is the loghub directory.
	Corpus string
	// Lines is the dataset size.
	Lines int
	// Mode is "engine" (in-process) or "http".
	Mode string
	// Senders is the number of concurrent appenders.
	Senders int
	// BatchSize is the number of entries per append or push. The default,
	// 7,500, is about 1 MiB of the dataset's lines: the batch size Promtail,
	// Alloy and Vector send by default.
	BatchSize int
	// Runs is how many timed runs each query gets after a warm-up.
	Runs int
	// Fsync is the store's WAL policy.
	Fsync string
	// PushFormat is json or protobuf, for the http mode.
	PushFormat string
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
}

// DefaultConfig returns the standard benchmark settings.
func DefaultConfig() Config {
	return Config{Corpus: "../shared/data/loghub", Lines: 5_000_000, Mode: "engine", Senders: 4, BatchSize: 7500, Runs: 5, Fsync: string(store.FsyncAlways), PushFormat: "json"}
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.Mode != "engine" && c.Mode != "http" && c.Mode != "tail":
		return fmt.Errorf("--mode must be engine, http or tail, not %q", c.Mode)
	case c.PushFormat != "json" && c.PushFormat != "protobuf":
		return fmt.Errorf("--push-format must be json or protobuf, not %q", c.PushFormat)
	case c.Lines < dataset.NeedleCount:
		return fmt.Errorf("--lines must be at least %d", dataset.NeedleCount)
	case c.Senders < 1 || c.BatchSize < 1 || c.Runs < 1:
		return errors.New("senders, batch size and runs must be positive")
	}
	return nil
}

// Report holds the figures. JSON names are the ones the issue fixes.
type Report struct {
	Lines               int     `json:"lines"`
	RawBytes            int64   `json:"raw_bytes"`
	IngestSeconds       float64 `json:"ingest_seconds"`
	IngestLinesPerSec   float64 `json:"ingest_lines_per_sec"`
	IngestCPUPerMillion float64 `json:"ingest_cpu_seconds_per_million"`
	// GenerateSeconds is the engine mode's dataset generation, done before
	// the ingest clock starts.
	GenerateSeconds float64 `json:"generate_seconds,omitempty"`
	FlushSeconds    float64 `json:"flush_seconds"`
	// The http mode's figures: the push format, and the server's own CPU and
	// peak RSS, measured apart from the senders.
	PushFormat          string  `json:"push_format,omitempty"`
	ServerCPUPerMillion float64 `json:"server_cpu_seconds_per_million,omitempty"`
	// SenderCPUPerMillion is the benchmark's own CPU while pushing: making
	// the entries, encoding the bodies and sending them.
	SenderCPUPerMillion float64 `json:"sender_cpu_seconds_per_million,omitempty"`
	ServerPeakRSSBytes  int64   `json:"server_peak_rss_bytes,omitempty"`
	// ServerPeakRSSWithQueriesBytes is the server's peak after the queries.
	ServerPeakRSSWithQueriesBytes int64 `json:"server_peak_rss_with_queries_bytes,omitempty"`
	// HTTPFloorMs is the http mode's median round trip of an authenticated
	// request that does no query work (build info): the part of each q*_ms
	// that is transport, not LogQL.
	HTTPFloorMs     float64 `json:"http_floor_ms,omitempty"`
	DiskBytes       int64   `json:"disk_bytes"`
	BytesPerLine    float64 `json:"bytes_per_line"`
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	Q1Ms            float64 `json:"q1_ms"`
	Q1Count         int     `json:"q1_count"`
	Q2Ms            float64 `json:"q2_ms"`
	Q2Count         int     `json:"q2_count"`
	Q2BlocksSkipped float64 `json:"q2_blocks_skipped_ratio"`
	Q3Ms            float64 `json:"q3_ms"`
	Q3Count         int     `json:"q3_count"`
	Q3Groups        int     `json:"q3_groups"`
	Q4Ms            float64 `json:"q4_ms"`
	Q4Count         int     `json:"q4_count"`
	Q5Ms            float64 `json:"q5_ms"`
	Q5Count         int     `json:"q5_count"`
}

// Run generates the dataset into a fresh store in a temporary directory,
// measures, and removes the directory.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	dcfg := dataset.DefaultConfig(cfg.Corpus)
	dcfg.Lines = cfg.Lines
	now := time.Now()
	dcfg.Start = now.Add(-90 * time.Minute).UnixNano()
	gen, err := dataset.New(dcfg)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubelog-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep := &Report{Lines: cfg.Lines}
	if cfg.Mode == "http" {
		fmt.Fprintf(progress, "pushing %s to a kubelog server in %s as %s\n", gen.Describe(), dir, cfg.PushFormat)
		if err := runHTTP(ctx, cfg, gen, dcfg, dir, rep, progress); err != nil {
			return nil, err
		}
		rep.PeakRSSBytes = peakRSS()
		return rep, nil
	}
	scfg := store.DefaultConfig(dir)
	scfg.Fsync = store.FsyncPolicy(cfg.Fsync)
	if err := scfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.Open(scfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	hub := tail.NewHub(tail.DefaultHubConfig())
	defer hub.Close()
	eng, err := query.New(query.Deps{Store: st, Hub: hub})
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(progress, "generating %s\n", gen.Describe())
	replay, err := spill(gen, dir, rep)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "ingesting into %s\n", dir)
	if err := ingest(ctx, eng, replay, cfg, rep); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := eng.Compact(ctx); err != nil {
		return nil, err
	}
	rep.FlushSeconds = time.Since(start).Seconds()
	ss := eng.Storage("")
	rep.DiskBytes = ss.DiskBytes
	rep.BytesPerLine = float64(ss.DiskBytes) / float64(cfg.Lines)
	fmt.Fprintf(progress, "stored: %d parts, %d bytes, ratio %.2f\n", ss.Parts, ss.DiskBytes, ss.CompressionRatio)
	if err := runQueries(ctx, eng, dcfg, cfg.Runs, rep); err != nil {
		return nil, err
	}
	rep.PeakRSSBytes = peakRSS()
	return rep, nil
}

const tenant = "bench"

// spill generates the dataset into a file in dir before the clock starts,
// so that the ingest figures measure Append, not the generator, and returns
// a replay of it. The file is unlinked at once: the replay holds it open.
func spill(gen *dataset.Generator, dir string, rep *Report) (*dataset.Replay, error) {
	start := time.Now()
	f, err := os.CreateTemp(dir, "dataset-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	labels := gen.StreamLabels()
	raw, err := gen.Spill(f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	rep.RawBytes = raw
	rep.GenerateSeconds = time.Since(start).Seconds()
	return dataset.NewReplay(f, labels), nil
}

func ingest(ctx context.Context, st *query.Engine, replay *dataset.Replay, cfg Config, rep *Report) error {
	// Each sender reads its next batch from the replay itself, under a lock,
	// rather than from a producer goroutine: every hand-off between
	// goroutines can wait for an idle core to wake, and on a small machine
	// those waits showed up as idle time in the ingest figure.
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed atomic.Bool // one sender's error stops the others
	errs := make(chan error, cfg.Senders)
	cpu0 := cpuSeconds()
	start := time.Now()
	for i := 0; i < cfg.Senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b dataset.Batch
			for !failed.Load() {
				mu.Lock()
				err := replay.Next(&b, cfg.BatchSize)
				mu.Unlock()
				if len(b.Entries) > 0 {
					if _, aerr := st.Append(ctx, tenant, b.Entries); aerr != nil {
						failed.Store(true)
						errs <- aerr
						return
					}
				}
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					failed.Store(true)
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	el := time.Since(start).Seconds()
	rep.IngestSeconds = el
	rep.IngestLinesPerSec = float64(cfg.Lines) / el
	rep.IngestCPUPerMillion = (cpuSeconds() - cpu0) / (float64(cfg.Lines) / 1e6)
	return nil
}

func runQueries(ctx context.Context, st *query.Engine, d dataset.Config, runs int, rep *Report) error {
	start, end := d.Start, d.Start+d.Span+int64(time.Minute)
	oneStream := []logmodel.Matcher{
		{Type: logmodel.MatchEqual, Name: "namespace", Value: "ns-3"},
		{Type: logmodel.MatchEqual, Name: "pod", Value: "app-3-7"},
		{Type: logmodel.MatchEqual, Name: "container", Value: "c1"},
	}
	var err error
	timed := func(q func() error) float64 { return timeMedian(runs, &err, q) }
	rep.Q1Ms = timed(func() error {
		res, err := st.Logs(ctx, store.Query{Tenant: tenant, Matchers: oneStream, Start: start, End: end, Direction: logmodel.Backward, Limit: 100}, false)
		if err == nil {
			rep.Q1Count = len(res.Entries)
		}
		return err
	})
	rep.Q2Ms = timed(func() error {
		res, err := st.Logs(ctx, store.Query{Tenant: tenant, Start: start, End: end, Direction: logmodel.Backward, Limit: 1000,
			LineFilters: []logmodel.LineFilter{{Type: logmodel.LineToken, Value: dataset.Needle}}}, false)
		if err == nil {
			rep.Q2Count = len(res.Entries)
			if res.Stats.BlocksTotal > 0 {
				rep.Q2BlocksSkipped = float64(res.Stats.BlocksSkippedBloom) / float64(res.Stats.BlocksTotal)
			}
		}
		return err
	})
	rep.Q3Ms = timed(func() error {
		type key struct {
			ns     string
			minute int64
		}
		perWorker := make([]map[key]int, st.Workers())
		for i := range perWorker {
			perWorker[i] = make(map[key]int)
		}
		_, err := st.Scan(ctx, store.Query{Tenant: tenant, Start: start, End: end,
			LineFilters: []logmodel.LineFilter{{Type: logmodel.LineContains, Value: "error"}}},
			func(w int, s *store.Stream, e *store.EntryView) error {
				perWorker[w][key{s.Labels.Get("namespace"), e.Timestamp / int64(time.Minute)}]++
				return nil
			})
		total := map[key]int{}
		n := 0
		for _, m := range perWorker {
			for k, v := range m {
				total[k] += v
				n += v
			}
		}
		rep.Q3Count, rep.Q3Groups = n, len(total)
		return err
	})
	rep.Q4Ms = timed(func() error {
		n, _, err := st.Count(ctx, store.Query{Tenant: tenant, Start: start, End: end,
			LineFilters: []logmodel.LineFilter{{Type: logmodel.LineRegexp, Value: `(?i)fail(ed|ure)`}}})
		rep.Q4Count = int(n)
		return err
	})
	rep.Q5Ms = timed(func() error {
		n, _, err := st.Count(ctx, store.Query{Tenant: tenant, Start: start, End: end})
		rep.Q5Count = int(n)
		return err
	})
	return err
}

// timeMedian runs q once to warm up, then runs more times and returns the
// median in milliseconds. It does nothing once *err is set, and sets it.
func timeMedian(runs int, err *error, q func() error) float64 {
	if *err != nil {
		return 0
	}
	if *err = q(); *err != nil {
		return 0
	}
	ms := make([]float64, runs)
	for i := range ms {
		t := time.Now()
		if *err = q(); *err != nil {
			return 0
		}
		ms[i] = float64(time.Since(t).Microseconds()) / 1000
	}
	sort.Float64s(ms)
	return ms[len(ms)/2]
}

// Table renders the report for people.
func (r *Report) Table() string {
	var b strings.Builder
	row := func(name, value string) { fmt.Fprintf(&b, "%-28s %s\n", name, value) }
	row("lines", strconv.Itoa(r.Lines))
	row("raw bytes", fmt.Sprintf("%d (%.1f MB)", r.RawBytes, float64(r.RawBytes)/1e6))
	if r.PushFormat != "" {
		row("push format", r.PushFormat)
		row("ingest", fmt.Sprintf("%.2f s, %.0f lines/s, server %.2f and senders %.2f CPU-s per million lines", r.IngestSeconds, r.IngestLinesPerSec, r.ServerCPUPerMillion, r.SenderCPUPerMillion))
		row("server peak RSS", fmt.Sprintf("%.1f MiB during ingest, %.1f MiB with the queries", float64(r.ServerPeakRSSBytes)/(1<<20), float64(r.ServerPeakRSSWithQueriesBytes)/(1<<20)))
	} else {
		row("generate (untimed)", fmt.Sprintf("%.2f s", r.GenerateSeconds))
		row("ingest", fmt.Sprintf("%.2f s, %.0f lines/s, %.2f CPU-s per million lines", r.IngestSeconds, r.IngestLinesPerSec, r.IngestCPUPerMillion))
	}
	row("flush and merge", fmt.Sprintf("%.2f s", r.FlushSeconds))
	row("disk", fmt.Sprintf("%d bytes, %.1f bytes per line", r.DiskBytes, r.BytesPerLine))
	row("peak RSS", fmt.Sprintf("%.1f MiB", float64(r.PeakRSSBytes)/(1<<20)))
	if r.HTTPFloorMs > 0 {
		row("http round trip floor", fmt.Sprintf("%.2f ms", r.HTTPFloorMs))
	}
	row("q1 last 100 of a stream", fmt.Sprintf("%.2f ms (%d lines)", r.Q1Ms, r.Q1Count))
	row("q2 needle", fmt.Sprintf("%.2f ms (%d lines, %.1f%% blocks skipped)", r.Q2Ms, r.Q2Count, 100*r.Q2BlocksSkipped))
	row("q3 error per ns per minute", fmt.Sprintf("%.2f ms (%d lines, %d groups)", r.Q3Ms, r.Q3Count, r.Q3Groups))
	row("q4 (?i)fail(ed|ure) count", fmt.Sprintf("%.2f ms (%d lines)", r.Q4Ms, r.Q4Count))
	row("q5 count all", fmt.Sprintf("%.2f ms (%d lines)", r.Q5Ms, r.Q5Count))
	return b.String()
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS reads this process's high-water resident set size.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return vmHWM(string(b))
}

// vmHWM extracts the peak RSS in bytes from a /proc/PID/status text.
func vmHWM(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
