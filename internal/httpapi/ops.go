package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kubelog/kubelog/internal/store"
)

// Health states.
const (
	healthOK       = "ok"
	healthDegraded = "degraded"
	healthDown     = "down"
)

// componentHealth is one component's state.
type componentHealth struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	Since   string `json:"since,omitempty"`
}

// healthReport is the answer of /health and /api/v1/logs/health.
type healthReport struct {
	Status        string                     `json:"status"`
	Version       string                     `json:"version"`
	UptimeSeconds float64                    `json:"uptime_seconds"`
	Components    map[string]componentHealth `json:"components"`
}

// health checks every component. A failing WAL degrades the service (reads
// still work); an unreachable metadata database takes it down.
func (a *API) health(ctx context.Context) healthReport {
	rep := healthReport{Status: healthOK, Version: a.cfg.Version, UptimeSeconds: a.clock.Now().Sub(a.started).Seconds(),
		Components: map[string]componentHealth{}}
	worst := func(s string) {
		if s == healthDown || (s == healthDegraded && rep.Status == healthOK) {
			rep.Status = s
		}
	}
	st := componentHealth{Status: healthOK}
	if err := a.storeOK(); err != nil {
		st = componentHealth{Status: healthDegraded, Message: err.Error()}
		var he *store.HealthError
		if errors.As(err, &he) {
			st.Since = timeOrEmpty(he.Since)
		}
	}
	rep.Components["store"] = st
	worst(st.Status)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	db := componentHealth{Status: healthOK}
	if err := a.meta.SQL().PingContext(ctx); err != nil {
		db = componentHealth{Status: healthDown, Message: err.Error()}
	}
	rep.Components["metadata_db"] = db
	worst(db.Status)
	if a.archive != nil {
		arch := componentHealth{Status: healthOK}
		if err := a.archive.Health(); err != nil {
			arch = componentHealth{Status: healthDegraded, Message: err.Error()}
		}
		rep.Components["archive"] = arch
		worst(arch.Status)
	}
	if ch, ok := a.clusterHealth(); ok {
		rep.Components["clusters"] = ch
		worst(ch.Status)
	}
	return rep
}

func (a *API) writeHealth(w http.ResponseWriter, r *http.Request) {
	rep := a.health(r.Context())
	code := http.StatusOK
	if rep.Status == healthDown {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

// rootHealth serves GET /health, with no token.
func (a *API) rootHealth(w http.ResponseWriter, r *http.Request) error {
	a.writeHealth(w, r)
	return nil
}

// getHealth serves GET /api/v1/logs/health.
func (a *API) getHealth(w http.ResponseWriter, r *http.Request) error {
	a.writeHealth(w, r)
	return nil
}

// ready_ serves GET /ready: 200 while serving, 503 once shutdown begins.
func (a *API) ready_(w http.ResponseWriter, _ *http.Request) error {
	if !a.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// promMetrics serves GET /metrics in Prometheus text format.
func (a *API) promMetrics(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
