package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/tail"
)

// lokiTail serves GET /loki/api/v1/tail: a WebSocket that first sends up to
// limit entries from start, then every new matching entry, in frames of
// {"streams":[...],"dropped_entries":[]}. It is fed from the live fan-out
// (never a new cluster stream per viewer), and it never drops an entry, so
// dropped_entries is always empty.
func (a *API) lokiTail(w http.ResponseWriter, r *http.Request) error {
	get := r.URL.Query().Get
	expr, err := parseLogQL(get("query"))
	if err != nil {
		return err
	}
	if logql.IsMetric(expr) {
		return badRequest("%v", errNotLogQuery)
	}
	limit, err := a.lokiLimit(get)
	if err != nil {
		return err
	}
	now := a.clock.Now().UnixNano()
	start, err := lokiTime(get, "start", now-int64(time.Hour))
	if err != nil {
		return err
	}
	var delay time.Duration
	if s := get("delay_for"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 5 {
			return badRequest("delay_for: must be a whole number of seconds from 0 to 5")
		}
		delay = time.Duration(n) * time.Second
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return badRequest("tail is a WebSocket endpoint: send an Upgrade: websocket request")
	}
	tenant := tenantOf(r)
	eng, err := a.query.LogQL(tenant, false)
	if err != nil {
		return err
	}
	cursor := a.query.LastCursor(tenant)
	initial, _, err := eng.QueryLogs(r.Context(), expr, start, now+1, logmodel.Forward, limit)
	if err != nil {
		return queryError(err)
	}
	sink, err := openSink(w, r)
	if err != nil {
		return err
	}
	defer sink.close()
	ctx, cancel := a.streamContext(r.Context())
	defer cancel()
	// Entries appended after cursor are followed live and may also be in the
	// initial answer: skip those, known by their cursor.
	sent := map[uint64]bool{}
	for _, s := range initial {
		for _, e := range s.Entries {
			if e.Cursor.Seq > cursor.Seq {
				sent[e.Cursor.Seq] = true
			}
		}
	}
	b, _ := marshalFrame(initial)
	if err := sink.send("", "", b); err != nil {
		return nil
	}
	var batch []logql.Entry
	lastWrite := time.Now()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		kept := batch[:0]
		for _, e := range batch {
			if !sent[e.Cursor.Seq] {
				kept = append(kept, e)
			}
		}
		batch = batch[:0]
		if len(kept) == 0 {
			return nil
		}
		lo, hi := kept[0].Timestamp, kept[0].Timestamp
		for _, e := range kept {
			lo, hi = min(lo, e.Timestamp), max(hi, e.Timestamp)
		}
		mem, err := logql.NewEngine(&logql.MemSource{Entries: kept}, logql.DefaultConfig())
		if err != nil {
			return err
		}
		v, _, err := mem.QueryLogs(ctx, expr, lo, hi+1, logmodel.Forward, len(kept))
		if err != nil {
			return err
		}
		b, n := marshalFrame(v)
		if n == 0 {
			return nil
		}
		lastWrite = time.Now()
		return sink.send("", "", b)
	}
	spec := tail.FollowSpec{
		Tenant: tenant, Query: query.LogQLSelection(tenant, expr), Cursor: cursor, Flush: flush,
		Idle: func() error {
			if time.Since(lastWrite) >= heartbeatEvery {
				lastWrite = time.Now()
				return sink.heartbeat()
			}
			return nil
		},
	}
	_ = a.query.Follow(ctx, spec, func(ev tail.Event) error {
		if ev.Entry != nil {
			e := ev.Entry
			batch = append(batch, logql.Entry{Labels: e.Labels, Timestamp: e.Timestamp, Line: bytes.Clone(e.Line), Metadata: e.Metadata, Cursor: e.Cursor})
		}
		return nil
	})
	return nil
}
