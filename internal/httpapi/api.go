// Package httpapi serves kubelog's HTTP surfaces: the logs management API
// under /api/v1/logs, the Loki-compatible API under /loki, and the operations
// endpoints /health, /ready and /metrics. Each surface has one error writer;
// handlers return errors to it, so that no path can forget to answer.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/kubelog/kubelog/internal/apps"
	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/tail"
)

// Config configures the API.
type Config struct {
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64
	// PublicMetrics serves the Prometheus /metrics without a token.
	PublicMetrics bool
	// DefaultLimit and MaxLimit bound the entries one query returns.
	DefaultLimit int
	MaxLimit     int
	// Version is reported by health and build info.
	Version string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 64 << 20, PublicMetrics: true, DefaultLimit: 100, MaxLimit: 5000, Version: "dev"}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.MaxBodyBytes <= 0 {
		return errors.New("httpapi: MaxBodyBytes must be positive")
	}
	if c.DefaultLimit <= 0 || c.MaxLimit < c.DefaultLimit {
		return errors.New("httpapi: limits must satisfy 0 < DefaultLimit <= MaxLimit")
	}
	return nil
}

// Deps are the components the API serves from. All are required unless noted.
type Deps struct {
	// Query answers every read and takes the pushes.
	Query    *query.Engine
	Meta     *meta.DB
	Auth     *auth.Authenticator
	Limiter  *auth.Limiter
	Limits   *auth.LimitTable
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Clock tells the time; nil means the system clock.
	Clock clock.PassiveClock
	// StoreHealth reports the store's condition; nil means Query.Health.
	StoreHealth func() error
	// Archive serves the archive API and include_archive; nil turns them
	// off (503).
	Archive *archive.Manager
	// Clusters manages clusters, collection configs and collection jobs;
	// nil answers their routes with 503.
	Clusters *clusters.Service
	// Apps serves /v2/apps; nil answers 404 there.
	Apps *apps.Service
	// Kube, when set, serves the PodLogStream API group under /apis.
	Kube KubeAPI
}

// API is the HTTP API. Create it with New.
type API struct {
	cfg      Config
	query    *query.Engine
	sessions *tail.Sessions
	meta     *meta.DB
	auth     *auth.Authenticator
	limiter  *auth.Limiter
	limits   *auth.LimitTable
	log      *slog.Logger
	reg      *prometheus.Registry
	clock    clock.PassiveClock
	storeOK  func() error
	archive  *archive.Manager
	apps     *apps.Service
	kube     KubeAPI
	mux      *http.ServeMux
	// table lists the registered routes in order, for the checks that
	// every route declares what it reads.
	table    []route
	clusters *clusters.Service
	metrics  *apiMetrics
	ingest   *ingestMeter
	started  time.Time

	// shutdown ends when the server begins to stop; long-lived streams
	// follow it.
	shutdown      context.Context
	beginShutdown context.CancelFunc

	ready    atomic.Bool
	ridBase  string
	ridCount atomic.Uint64
}

// New builds the API and its routes.
func New(cfg Config, d Deps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Query == nil || d.Meta == nil || d.Auth == nil || d.Limiter == nil || d.Limits == nil || d.Registry == nil {
		return nil, errors.New("httpapi: Query, Meta, Auth, Limiter, Limits and Registry are required")
	}
	a := &API{
		cfg: cfg, query: d.Query, sessions: tail.NewSessions(d.Meta, d.Clock), meta: d.Meta, auth: d.Auth, limiter: d.Limiter, limits: d.Limits,
		log: d.Logger, reg: d.Registry, clock: d.Clock, storeOK: d.StoreHealth, archive: d.Archive, apps: d.Apps, mux: http.NewServeMux(), kube: d.Kube,
		clusters: d.Clusters,
	}
	if a.storeOK == nil {
		a.storeOK = d.Query.Health
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.clock == nil {
		a.clock = clock.RealClock{}
	}
	a.started = a.clock.Now()
	a.shutdown, a.beginShutdown = context.WithCancel(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	a.ridBase = hex.EncodeToString(b[:])
	var err error
	if a.metrics, err = newAPIMetrics(d.Registry, d.Query); err != nil {
		return nil, err
	}
	a.ingest = newIngestMeter(a.clock)
	a.routes()
	a.ready.Store(true)
	return a, nil
}

// Handler returns the root handler.
func (a *API) Handler() http.Handler { return a.mux }

// SetReady sets what /ready answers.
func (a *API) SetReady(ready bool) { a.ready.Store(ready) }

// BeginShutdown marks the API not ready and ends its long-lived streams
// (tails), which save their cursors; ordinary requests finish normally.
func (a *API) BeginShutdown() {
	a.ready.Store(false)
	a.beginShutdown()
}

// surface selects the error format of a route.
type surface uint8

const (
	surfaceLogs surface = iota // {"id","message","request_id"}
	surfaceLoki                // plain text, as Loki
	surfaceKube                // Kubernetes Status objects
)

// route describes how a request is authenticated and limited.
type route struct {
	pattern string
	scope   auth.Scopes // 0: no token needed
	class   auth.Class
	limited bool // counts against a request rate limit
	surface surface
	// strict refuses query parameters other than params (kubelog's own
	// surfaces); the Loki and Kubernetes surfaces ignore unknown ones, as
	// the originals do.
	strict bool
	params []string
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h behind authentication, scope, tenant and rate-limit
// checks.
func (a *API) handle(rt route, h handlerFunc) {
	a.table = append(a.table, rt)
	a.mux.Handle(rt.pattern, a.wrap(rt, h))
}

func (a *API) wrap(rt route, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{id: a.newRequestID()}
		w.Header().Set("X-Request-Id", info.id)
		r = r.WithContext(context.WithValue(r.Context(), reqKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		if err := a.serve(sw, r, rt, h, info); err != nil {
			switch rt.surface {
			case surfaceLoki:
				a.writeTextError(sw, r, err)
			case surfaceKube:
				a.writeKubeError(sw, r, err)
			default:
				a.writeJSONError(sw, r, err)
			}
		}
		a.metrics.observe(rt.pattern, sw.code(), time.Since(start))
	})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, rt route, h handlerFunc, info *reqInfo) error {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
	}
	if rt.scope == 0 {
		return a.serveParsed(w, r, rt, h, info)
	}
	p, err := a.auth.Authenticate(r.Context(), bearerToken(r))
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return unauthorized("a valid bearer token is required: %v", err)
		}
		return err
	}
	tenant, err := p.ActingTenant(r.Header.Get("X-Scope-OrgID"))
	if err != nil {
		if errors.Is(err, auth.ErrInvalidTenant) {
			return badRequest("%v", err)
		}
		return err
	}
	if err := p.Require(rt.scope); err != nil {
		return err
	}
	info.principal, info.tenant = p, tenant
	if rt.limited {
		d := a.limiter.Allow(auth.Key{Tenant: tenant, Token: p.TokenID}, rt.class, 1)
		if err := a.applyDecision(w, d, tenant, rt.class, 1); err != nil {
			return err
		}
	}
	return a.serveParsed(w, r, rt, h, info)
}

// serveParsed parses the query string for the route and calls h.
func (a *API) serveParsed(w http.ResponseWriter, r *http.Request, rt route, h handlerFunc, info *reqInfo) error {
	q, err := parseParams(r, rt)
	if err != nil {
		return err
	}
	info.query = q
	return h(w, r)
}

// applyDecision sets the rate-limit headers and refuses over the limit.
func (a *API) applyDecision(w http.ResponseWriter, d auth.Decision, tenant string, class auth.Class, n int64) error {
	if d.Limit > 0 {
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("X-RateLimit-Reset", strconv.Itoa(d.ResetSeconds))
	}
	if d.Allowed {
		return nil
	}
	a.metrics.rateLimited.WithLabelValues(tenant, class.String()).Inc()
	a.ingest.rateLimited(tenant)
	if n > int64(d.Limit) {
		return tooLarge("the request needs %d units, more than the %s limit of %d allows at once", n, class, d.Limit)
	}
	return &Error{Status: http.StatusTooManyRequests, ID: "too_many_requests",
		Message:    fmt.Sprintf("rate limit of the %s class exceeded (%d); retry in %s", class, d.Limit, d.RetryAfter.Round(time.Millisecond)),
		RetryAfter: d.RetryAfter}
}

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

type reqKey struct{}

// reqInfo is what the middleware learns about a request.
type reqInfo struct {
	id        string
	principal *auth.Principal
	tenant    string
	query     params
}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

func requestID(r *http.Request) string { return info(r).id }

// tenantOf returns the tenant a request acts in.
func tenantOf(r *http.Request) string { return info(r).tenant }

func (a *API) newRequestID() string {
	return a.ridBase + "-" + strconv.FormatUint(a.ridCount.Add(1), 36)
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush,
// hijack for WebSockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
