package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/dataset"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// serverProc is a kubelog serve child process.
type serverProc struct {
	cmd   *exec.Cmd
	url   string
	token string
	// api calls kubelog's own API; request calls the Loki-compatible one.
	api    *apiclient.Client
	exited chan error
	// stop runs once (it is also deferred); stopErr is its result.
	stopOnce sync.Once
	stopErr  error
}

var servingRE = regexp.MustCompile(`msg="kubelog serving" addr=(\S+)`)

// startServer runs this binary's serve command on a free port, without rate
// limits, with its data in dir.
func startServer(dir, fsync string, progress io.Writer) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--fsync", fsync, "--no-rate-limits", "--kubeconfig", "none"}
	if p := os.Getenv("KUBELOG_BENCH_SERVER_CPUPROFILE"); p != "" {
		args = append(args, "--cpuprofile", p)
	}
	cmd := exec.Command(exe, args...) // #nosec G204 G702 -- runs this very binary (os.Executable) as the server under test
	cmd.Env = append(os.Environ(), "KUBELOG_BOOTSTRAP_TOKEN="+token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, token: token, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			} else if strings.Contains(sc.Text(), "level=ERROR") {
				fmt.Fprintln(progress, "server:", sc.Text())
			}
		}
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case a := <-addr:
		p.url = "http://" + a
		p.api = apiclient.New(p.url, token, nil)
		return p, nil
	case err := <-p.exited:
		return nil, fmt.Errorf("kubelog serve exited: %v", err)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("kubelog serve did not start")
	}
}

// usage returns the child's CPU seconds so far and its peak RSS in bytes.
func (p *serverProc) usage() (cpu float64, peak int64) {
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name: utime and stime are the 12th and
		// 13th after the closing parenthesis, in clock ticks (100 Hz).
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 12 {
				ut, _ := strconv.ParseFloat(f[11], 64)
				st, _ := strconv.ParseFloat(f[12], 64)
				cpu = (ut + st) / 100
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		peak = vmHWM(string(b))
	}
	return cpu, peak
}

func (p *serverProc) stop() error {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case p.stopErr = <-p.exited:
		case <-time.After(2 * time.Minute):
			_ = p.cmd.Process.Kill()
			p.stopErr = fmt.Errorf("kubelog serve did not stop")
		}
	})
	return p.stopErr
}

func (p *serverProc) request(ctx context.Context, method, path, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}

// runHTTP measures ingest through the Loki push API of a real server and the
// queries through its HTTP API.
func runHTTP(ctx context.Context, cfg Config, gen *dataset.Generator, dcfg dataset.Config, dir string, rep *Report, progress io.Writer) error {
	srv, err := startServer(dir, cfg.Fsync, progress)
	if err != nil {
		return err
	}
	defer func() { _ = srv.stop() }()
	rep.PushFormat = cfg.PushFormat
	cpu0, _ := srv.usage()
	senderCPU0 := cpuSeconds()
	// Bodies go round: the encoder fills a free buffer, a sender posts it and
	// hands it back once the server has answered.
	batches := make(chan []byte, cfg.Senders*2)
	free := make(chan []byte, cfg.Senders*3)
	for i := 0; i < cfg.Senders*3; i++ {
		free <- nil
	}
	errs := make(chan error, cfg.Senders)
	var wg sync.WaitGroup
	start := time.Now()
	ctype := "application/json"
	if cfg.PushFormat == "protobuf" {
		ctype = "application/x-protobuf"
	}
	for i := 0; i < cfg.Senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range batches {
				if _, err := srv.request(ctx, "POST", "/loki/api/v1/push", ctype, body); err != nil {
					errs <- err
					for range batches {
					}
					return
				}
				free <- body
			}
		}()
	}
	var raw int64
	var entries []logmodel.Entry
	var enc pushEncoder
	for gen.Remaining() > 0 {
		entries = gen.Next(entries, cfg.BatchSize)
		for _, e := range entries {
			raw += int64(len(e.Line))
		}
		var body []byte
		select {
		case body = <-free:
		case err := <-errs:
			close(batches)
			return err
		}
		if cfg.PushFormat == "protobuf" {
			body = enc.protobuf(body, entries)
		} else {
			body = enc.json(body, entries)
		}
		batches <- body
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	el := time.Since(start).Seconds()
	cpu1, peak := srv.usage()
	rep.SenderCPUPerMillion = (cpuSeconds() - senderCPU0) / (float64(cfg.Lines) / 1e6)
	rep.RawBytes = raw
	rep.IngestSeconds = el
	rep.IngestLinesPerSec = float64(cfg.Lines) / el
	rep.ServerCPUPerMillion = (cpu1 - cpu0) / (float64(cfg.Lines) / 1e6)
	rep.ServerPeakRSSBytes = peak
	fmt.Fprintf(progress, "pushed %d lines in %.1fs\n", cfg.Lines, el)
	// Queries then read parts only, as in engine mode, which flushes and
	// merges before its queries.
	flushStart := time.Now()
	if _, err := srv.request(ctx, "POST", "/flush", "", nil); err != nil {
		return err
	}
	rep.FlushSeconds = time.Since(flushStart).Seconds()

	if err := httpQueries(ctx, srv, dcfg, cfg.Runs, rep); err != nil {
		return err
	}
	_, rep.ServerPeakRSSWithQueriesBytes = srv.usage()
	if err := srv.stop(); err != nil {
		return err
	}
	rep.DiskBytes = dirSize(dir)
	rep.BytesPerLine = float64(rep.DiskBytes) / float64(cfg.Lines)
	return nil
}

// httpQueries runs q1 to q5 as LogQL through /loki/api/v1/query_range, as
// Grafana and logcli would.
func httpQueries(ctx context.Context, srv *serverProc, d dataset.Config, runs int, rep *Report) error {
	var err error
	timed := func(q func() error) float64 { return timeMedian(runs, &err, q) }
	start, end := d.Start, d.Start+d.Span+int64(time.Minute)
	span := fmt.Sprintf("%ds", (end-start)/int64(time.Second)+1)
	// Each query is timed until its whole response is read, as curl's
	// time_total would; the response is decoded after timing, once, for
	// the counts (engine mode does not serialize its results either).
	var body []byte
	query := func(q string, extra url.Values) func() error {
		p := url.Values{"query": {q}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)}}
		if extra.Get("step") == span {
			// One step at the end, whose window covers the whole dataset.
			p.Set("start", strconv.FormatInt(end, 10))
		}
		for k, v := range extra {
			p[k] = v
		}
		path := "/loki/api/v1/query_range?" + p.Encode()
		return func() (err error) {
			body, err = srv.request(ctx, "GET", path, "", nil)
			return err
		}
	}
	result := func() lokiResult {
		var r lokiResult
		if err == nil {
			err = json.Unmarshal(body, &r)
		}
		return r
	}
	rep.HTTPFloorMs = timed(func() (err error) {
		_, err = srv.request(ctx, "GET", "/loki/api/v1/status/buildinfo", "", nil)
		return err
	})
	rep.Q1Ms = timed(query(`{namespace="ns-3", pod="app-3-7", container="c1"}`, url.Values{"limit": {"100"}}))
	rep.Q1Count = result().lines()
	rep.Q2Ms = timed(query(`{cluster="bench"} |= "`+dataset.Needle+`"`, url.Values{"limit": {"1000"}}))
	rep.Q2Count = result().lines()
	rep.Q3Ms = timed(query(`sum by (namespace) (count_over_time({cluster="bench"} |= "error" [1m]))`, url.Values{"step": {"60"}}))
	r := result()
	rep.Q3Count, rep.Q3Groups = int(r.total()), r.points()
	rep.Q4Ms = timed(query(`sum(count_over_time({cluster="bench"} |~ "(?i)fail(ed|ure)" [`+span+`]))`, url.Values{"step": {span}}))
	rep.Q4Count = int(result().last())
	rep.Q5Ms = timed(query(`sum(count_over_time({cluster="bench"}[`+span+`]))`, url.Values{"step": {span}}))
	rep.Q5Count = int(result().last())
	return err
}

// lokiResult is the part of a Loki query response the benchmark reads.
type lokiResult struct {
	Data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// lines counts the entries of a streams result.
func (r lokiResult) lines() int {
	n := 0
	for _, s := range r.Data.Result {
		n += len(s.Values)
	}
	return n
}

// points counts the points of a matrix; total sums their values; last is
// the value of the last point of the first series.
func (r lokiResult) points() int { return r.lines() }

func (r lokiResult) total() float64 {
	var t float64
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			f, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
			t += f
		}
	}
	return t
}

func (r lokiResult) last() float64 {
	if len(r.Data.Result) == 0 || len(r.Data.Result[0].Values) == 0 {
		return 0
	}
	v := r.Data.Result[0].Values
	f, _ := strconv.ParseFloat(fmt.Sprint(v[len(v)-1][1]), 64)
	return f
}

// pushEncoder builds Loki push bodies into buffers its caller supplies,
// reusing its own scratch space.
type pushEncoder struct {
	pb, labels []byte
	// groups holds the entry indexes of each stream of a batch, in the order
	// the streams first appear; slot finds a stream's group.
	groups [][]int
	slot   map[labelsKey]int
}

// labelsKey identifies a label set by its backing array: the generator
// shares one per stream. Equal sets in different arrays only make two
// streams of one in a body, which is still correct.
type labelsKey struct {
	first *logmodel.Label
	n     int
}

// group sorts entries by stream, as Promtail, Alloy and Vector batch them:
// each stream of a body carries its labels once.
func (e *pushEncoder) group(entries []logmodel.Entry) [][]int {
	if e.slot == nil {
		e.slot = make(map[labelsKey]int)
	}
	clear(e.slot)
	for i := range e.groups {
		e.groups[i] = e.groups[i][:0]
	}
	n := 0
	for i := range entries {
		ls := entries[i].Labels
		k := labelsKey{n: len(ls)}
		if len(ls) > 0 {
			k.first = &ls[0]
		}
		g, ok := e.slot[k]
		if !ok {
			g = n
			n++
			e.slot[k] = g
			if g == len(e.groups) {
				e.groups = append(e.groups, nil)
			}
		}
		e.groups[g] = append(e.groups[g], i)
	}
	return e.groups[:n]
}

// json encodes entries as Loki's JSON push body, one stream per label set,
// in dst's memory when it is large enough.
func (e *pushEncoder) json(dst []byte, entries []logmodel.Entry) []byte {
	b := append(dst[:0], `{"streams":[`...)
	for gi, g := range e.group(entries) {
		if gi > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"stream":`...)
		b = entries[g[0]].Labels.AppendJSON(b)
		b = append(b, `,"values":[`...)
		for k, i := range g {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, `["`...)
			b = strconv.AppendInt(b, entries[i].Timestamp, 10)
			b = append(b, `",`...)
			b = logmodel.AppendJSONString(b, entries[i].Line)
			b = append(b, ']')
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

// Field numbers of Loki's logproto push messages.
const (
	pbPushStreams   = 1 // PushRequest.streams
	pbStreamLabels  = 1 // StreamAdapter.labels
	pbStreamEntries = 2 // StreamAdapter.entries
	pbEntryTime     = 1 // EntryAdapter.timestamp
	pbEntryLine     = 2 // EntryAdapter.line
	pbSeconds       = 1 // Timestamp.seconds
	pbNanos         = 2 // Timestamp.nanos
)

// protobuf encodes entries as Loki's snappy-compressed protobuf push body,
// one stream per label set, in dst's memory when it is large enough. Every message is written in place, its
// length computed before its fields, so that no byte is copied twice.
func (e *pushEncoder) protobuf(dst []byte, entries []logmodel.Entry) []byte {
	pb := e.pb[:0]
	for _, g := range e.group(entries) {
		e.labels = entries[g[0]].Labels.AppendString(e.labels[:0])
		size := protowire.SizeTag(pbStreamLabels) + protowire.SizeBytes(len(e.labels))
		for _, k := range g {
			size += protowire.SizeTag(pbStreamEntries) + protowire.SizeBytes(entrySize(&entries[k]))
		}
		pb = protowire.AppendTag(pb, pbPushStreams, protowire.BytesType)
		pb = protowire.AppendVarint(pb, uint64(size))
		pb = protowire.AppendTag(pb, pbStreamLabels, protowire.BytesType)
		pb = protowire.AppendBytes(pb, e.labels)
		for _, k := range g {
			ent := &entries[k]
			secs, nanos := uint64(ent.Timestamp/1e9), uint64(ent.Timestamp%1e9)
			pb = protowire.AppendTag(pb, pbStreamEntries, protowire.BytesType)
			pb = protowire.AppendVarint(pb, uint64(entrySize(ent)))
			pb = protowire.AppendTag(pb, pbEntryTime, protowire.BytesType)
			pb = protowire.AppendVarint(pb, uint64(timestampSize(secs, nanos)))
			pb = protowire.AppendTag(pb, pbSeconds, protowire.VarintType)
			pb = protowire.AppendVarint(pb, secs)
			pb = protowire.AppendTag(pb, pbNanos, protowire.VarintType)
			pb = protowire.AppendVarint(pb, nanos)
			pb = protowire.AppendTag(pb, pbEntryLine, protowire.BytesType)
			pb = protowire.AppendBytes(pb, ent.Line)
		}
	}
	e.pb = pb
	// snappy.Encode of klauspost/compress is s2's slower "better" mode;
	// Promtail's encoder is the plain, fast one.
	return s2.EncodeSnappy(dst[:0], pb)
}

// timestampSize is the size of a google.protobuf.Timestamp message.
func timestampSize(secs, nanos uint64) int {
	return protowire.SizeTag(pbSeconds) + protowire.SizeVarint(secs) + protowire.SizeTag(pbNanos) + protowire.SizeVarint(nanos)
}

// entrySize is the size of the EntryAdapter message of e.
func entrySize(e *logmodel.Entry) int {
	ts := timestampSize(uint64(e.Timestamp/1e9), uint64(e.Timestamp%1e9))
	return protowire.SizeTag(pbEntryTime) + protowire.SizeBytes(ts) + protowire.SizeTag(pbEntryLine) + protowire.SizeBytes(len(e.Line))
}

// dirSize sums the sizes of the files below dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
