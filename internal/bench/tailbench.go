package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// TailConfig describes the tail benchmark: sessions following a server that
// ingests at a fixed rate, each session's filter matching 1/Sessions of the
// lines.
type TailConfig struct {
	Sessions     int
	LinesPerSec  int
	Seconds      int
	IdleSessions int
	Progress     io.Writer
}

// TailReport holds the tail figures.
type TailReport struct {
	Sessions           int     `json:"sessions"`
	LinesPerSec        float64 `json:"ingest_lines_per_sec"`
	Pushed             int     `json:"pushed"`
	Delivered          int     `json:"delivered"`
	Expected           int     `json:"expected"`
	LatencyP50Ms       float64 `json:"latency_p50_ms"`
	LatencyP99Ms       float64 `json:"latency_p99_ms"`
	LatencyMaxMs       float64 `json:"latency_max_ms"`
	IdleSessions       int     `json:"idle_sessions"`
	BytesPerIdleStream float64 `json:"bytes_per_idle_stream"`
}

// RunTail starts a server, opens the sessions, pushes for the configured time
// and measures delivery latency from push acknowledgement to event receipt.
func RunTail(ctx context.Context, cfg TailConfig) (*TailReport, error) {
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	dir, err := os.MkdirTemp("", "kubelog-tailbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(dir, "always", progress)
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.stop() }()
	rep := &TailReport{Sessions: cfg.Sessions, IdleSessions: cfg.IdleSessions}
	// The default session quotas (50 a tenant) would refuse the benchmark.
	l, err := srv.api.Limits(ctx, "default")
	if err != nil {
		return nil, err
	}
	l.Limits.MaxTailSessions, l.Limits.MaxTailSessionsPerUser = 0, 0
	if _, err := srv.api.SetLimits(ctx, "default", l.Limits); err != nil {
		return nil, err
	}

	// Idle streams first: the RSS they add, per stream.
	_, before := srv.usage()
	rssNow := func() int64 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.cmd.Process.Pid))
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
		return before
	}
	base := rssNow()
	idleCtx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	for i := 0; i < cfg.IdleSessions; i++ {
		st, err := openTailStream(ctx, idleCtx, srv, fmt.Sprintf("idle-%d", i), `"never-matches-anything"`)
		if err != nil {
			return nil, err
		}
		go func() {
			defer st.Close()
			for {
				if _, err := st.Next(); err != nil {
					return
				}
			}
		}()
	}
	if cfg.IdleSessions > 0 {
		time.Sleep(time.Second)
		rep.BytesPerIdleStream = float64(rssNow()-base) / float64(cfg.IdleSessions)
		fmt.Fprintf(progress, "%d idle streams: %.0f bytes each\n", cfg.IdleSessions, rep.BytesPerIdleStream)
	}
	// The latency phase runs with the measured sessions only.
	stopIdle()

	var acked sync.Map // line id -> ack time
	var mu sync.Mutex
	var latencies []float64
	var delivered atomic.Int64
	sctx, stopSessions := context.WithCancel(ctx)
	defer stopSessions()
	var wg sync.WaitGroup
	for k := 0; k < cfg.Sessions; k++ {
		st, err := openTailStream(ctx, sctx, srv, fmt.Sprintf("u-%d", k%10), fmt.Sprintf(`"tok-%d-"`, k))
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			for {
				ev, err := st.Next()
				if err != nil {
					return
				}
				now := time.Now()
				if ev.Entry == nil {
					continue
				}
				lid := ev.Entry.Message[strings.LastIndexByte(ev.Entry.Message, ' ')+1:]
				delivered.Add(1)
				for {
					if t, ok := acked.Load(lid); ok {
						mu.Lock()
						latencies = append(latencies, max(0, float64(now.Sub(t.(time.Time)).Microseconds())/1000))
						mu.Unlock()
						break
					}
					// The event beat the push's acknowledgement home.
					time.Sleep(50 * time.Microsecond)
					now = time.Now()
				}
			}
		}()
	}
	fmt.Fprintf(progress, "%d sessions streaming; pushing %d lines/s for %ds\n", cfg.Sessions, cfg.LinesPerSec, cfg.Seconds)
	// Push in 20 batches a second from 4 senders.
	const tick = 50 * time.Millisecond
	perBatch := max(1, cfg.LinesPerSec/20/4)
	start := time.Now()
	var pushed atomic.Int64
	var pwg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		pwg.Add(1)
		go func(w int) {
			defer pwg.Done()
			t := time.NewTicker(tick)
			defer t.Stop()
			for b := 0; time.Since(start) < time.Duration(cfg.Seconds)*time.Second; b++ {
				<-t.C
				var sb strings.Builder
				sb.WriteString(`{"streams":[{"stream":{"app":"bench","namespace":"tail"},"values":[`)
				var ids []string
				now := time.Now().UnixNano()
				for i := 0; i < perBatch; i++ {
					n := int(pushed.Add(1))
					lid := fmt.Sprintf("%d-%d-%d", w, b, i)
					ids = append(ids, lid)
					if i > 0 {
						sb.WriteByte(',')
					}
					line := fmt.Sprintf("GET /api/orders 200 tok-%d- id %s", n%cfg.Sessions, lid)
					fmt.Fprintf(&sb, `["%d",%s]`, now+int64(i), logmodel.AppendJSONString(nil, line))
				}
				sb.WriteString("]}]}")
				if _, err := srv.request(ctx, "POST", "/loki/api/v1/push", "application/json", []byte(sb.String())); err != nil {
					errs <- err
					return
				}
				at := time.Now()
				for _, id := range ids {
					acked.Store(id, at)
				}
			}
		}(w)
	}
	pwg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	el := time.Since(start).Seconds()
	rep.Pushed = int(pushed.Load())
	rep.Expected = rep.Pushed
	rep.LinesPerSec = float64(rep.Pushed) / el
	deadline := time.Now().Add(30 * time.Second)
	for int(delivered.Load()) < rep.Expected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopSessions()
	wg.Wait()
	rep.Delivered = int(delivered.Load())
	sort.Float64s(latencies)
	if n := len(latencies); n > 0 {
		rep.LatencyP50Ms = latencies[n/2]
		rep.LatencyP99Ms = latencies[n*99/100]
		rep.LatencyMaxMs = latencies[n-1]
	}
	return rep, nil
}

// openTailStream creates a tail session of user with filter and opens its
// stream, which follows streamCtx.
func openTailStream(ctx, streamCtx context.Context, srv *serverProc, user, filter string) (*apiclient.TailStream, error) {
	s, err := srv.api.CreateSession(ctx, apiclient.SessionRequest{TenantID: "default", UserUUID: user, Filter: filter, Service: "*"})
	if err != nil {
		return nil, err
	}
	return srv.api.Stream(streamCtx, s.ID, "")
}

func (r *TailReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %d\n", "sessions", r.Sessions)
	fmt.Fprintf(&b, "%-28s %.0f lines/s (%d lines)\n", "ingest", r.LinesPerSec, r.Pushed)
	fmt.Fprintf(&b, "%-28s %d of %d\n", "delivered", r.Delivered, r.Expected)
	fmt.Fprintf(&b, "%-28s p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", "delivery latency", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	if r.IdleSessions > 0 {
		fmt.Fprintf(&b, "%-28s %.0f bytes (%d idle streams)\n", "memory per idle stream", r.BytesPerIdleStream, r.IdleSessions)
	}
	return b.String()
}
