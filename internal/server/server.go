// Package server wires kubelog's components together and runs them: it
// opens the metadata database and the store, sets up authentication and rate
// limits, serves the HTTP API, and stops everything in reverse order.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kubelog/kubelog/internal/apps"
	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/datadir"
	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/internal/events"
	"github.com/kubelog/kubelog/internal/httpapi"
	"github.com/kubelog/kubelog/internal/kapi"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/tail"
)

// Config configures a server. Start from DefaultConfig.
type Config struct {
	// Listen is the HTTP address; port 0 picks a free port (see Addr).
	Listen string `yaml:"listen"`
	// DataDir holds the store, the metadata database and the admin token.
	DataDir string `yaml:"data_dir"`
	// BootstrapToken, when set, is an admin token of tenant default created
	// at start if it does not exist yet.
	BootstrapToken string `yaml:"bootstrap_token"`
	// PublicMetrics serves /metrics without a token.
	PublicMetrics bool `yaml:"public_metrics"`
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Fsync is the store's WAL policy: always, interval or never.
	Fsync string `yaml:"fsync"`
	// Retention is the default retention (Go duration plus d and w).
	Retention time.Duration `yaml:"retention"`
	// DiskBudget caps the store's part bytes; 0 is no cap.
	DiskBudget int64 `yaml:"disk_budget_bytes"`
	// HeadMaxBytes is the raw size of the store's in-memory head, the main
	// term of the server's memory use. The default, 16 MiB, leaves room under
	// the default 150 MiB memory limit for the head being flushed and for
	// pushes of 1 MiB, Promtail's and Alloy's batch: with 32 MiB heads such
	// pushes kept the heap at the limit, and garbage collection and returning
	// memory to the system took most of the server's CPU.
	HeadMaxBytes int64 `yaml:"head_max_bytes"`
	// NoRateLimits turns every rate limit off (kubelog bench uses it).
	NoRateLimits bool `yaml:"no_rate_limits"`
	// Kubeconfig, when set, registers its context (Context, or the current
	// one) in the metadata database as cluster "default" of tenant default,
	// with a collection config for every namespace when the cluster is new.
	// "" means none; clusters added through the API are collected either way.
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
	// ArchiveTick is how often the archive scheduler looks for due policies.
	ArchiveTick time.Duration `yaml:"archive_tick"`
	// AppsLinkTTL is how long the signed links of /v2/apps stay valid.
	AppsLinkTTL time.Duration `yaml:"apps_link_ttl"`
	// MaxStreams bounds the log streams open at once per cluster; more
	// containers wait for a slot.
	MaxStreams int `yaml:"max_streams"`
	// TLSCertFile and TLSKeyFile, when set, serve HTTPS instead of HTTP
	// (kubectl sends bearer tokens only over HTTPS).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// SecretKeyFile holds the key that seals the secrets in the metadata
	// database (one key per line, the current one first); SecretKey gives
	// the same as a value (from KUBELOG_SECRET_KEY). With neither, the key
	// is <data-dir>/secret.key, generated on first start.
	SecretKeyFile string `yaml:"secret_key_file"`
	SecretKey     string `yaml:"-"`
	// Egress decides where the endpoints that tenants give (clusters' API
	// servers, S3 endpoints) may point.
	Egress egress.Policy `yaml:"-"`
	// ShutdownTimeout bounds how long in-flight requests may take at stop.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Version is reported by /health.
	Version string `yaml:"-"`
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:7070",
		DataDir:         "./kubelog-data",
		PublicMetrics:   true,
		MaxBodyBytes:    64 << 20,
		Fsync:           string(store.FsyncAlways),
		Retention:       30 * 24 * time.Hour,
		HeadMaxBytes:    16 << 20,
		ShutdownTimeout: 30 * time.Second,
		ArchiveTick:     30 * time.Second,
		AppsLinkTTL:     15 * time.Minute,
		MaxStreams:      collector.DefaultConfig().MaxStreams,
		Egress:          egress.DefaultPolicy(),
		Version:         "dev",
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.Listen == "":
		return errors.New("listen address is empty")
	case c.DataDir == "":
		return errors.New("data dir is empty")
	case c.MaxBodyBytes <= 0:
		return errors.New("max body bytes must be positive")
	case c.Retention <= 0:
		return errors.New("retention must be positive")
	case c.HeadMaxBytes < 1<<20:
		return errors.New("head max bytes must be at least 1 MiB")
	case c.ArchiveTick <= 0:
		return errors.New("archive tick must be positive")
	case c.ShutdownTimeout <= 0:
		return errors.New("shutdown timeout must be positive")
	case c.AppsLinkTTL <= 0:
		return errors.New("apps link ttl must be positive")
	case c.MaxStreams <= 0:
		return errors.New("max streams must be positive")
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("tls cert file and tls key file go together: set both or neither")
	}
	return c.Egress.Validate()
}

// maxHeaderBytes bounds a request's header (net/http's default is 1 MiB).
const maxHeaderBytes = 128 << 10

// Server is a running kubelog. Create it with Start; Stop must be called.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *meta.DB
	st       *store.Store
	hub      *tail.Hub
	query    *query.Engine
	coll     *collector.Manager
	arch     *archive.Manager
	clusters *clusters.Service
	events   *events.Collector
	kube     *kapi.Service
	api      *httpapi.API
	http     *http.Server
	ln       net.Listener
	limits   *auth.LimitTable
	keys     *secrets.Keyring
	unlock   func() error
	served   chan error
	stopLoop chan struct{}
	loopDone chan struct{}
}

// MetaPath and StorePath name where the server keeps its state in a data dir.
func MetaPath(dataDir string) string  { return filepath.Join(dataDir, "kubelog.db") }
func StorePath(dataDir string) string { return filepath.Join(dataDir, "store") }

// Start opens everything and begins serving. adminOut receives the first
// admin token when one is generated.
func Start(ctx context.Context, cfg Config, log *slog.Logger, adminOut io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The listener and the certificate come first: a port in use or a bad
	// certificate fails before anything is written to the data dir.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	var tlsCfg *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s := &Server{cfg: cfg, log: log, ln: ln, served: make(chan error, 1), stopLoop: make(chan struct{}), loopDone: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			s.closeStorage()
			ln.Close()
		}
	}()
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return nil, err
	}
	if s.unlock, err = datadir.Lock(cfg.DataDir); err != nil {
		return nil, err
	}
	if s.keys, err = secrets.Load(secrets.LoadOptions{KeyFile: cfg.SecretKeyFile, EnvValue: cfg.SecretKey, DataDir: cfg.DataDir}); err != nil {
		return nil, err
	}
	log.Info("secret key loaded", "source", s.keys.Source(), "key_id", s.keys.CurrentID())
	if s.db, err = meta.Open(ctx, MetaPath(cfg.DataDir)); err != nil {
		return nil, fmt.Errorf("metadata db: %w", err)
	}
	if err := Reseal(ctx, s.db, s.keys, log); err != nil {
		return nil, err
	}
	if err := s.bootstrap(ctx, adminOut); err != nil {
		return nil, err
	}
	defaults := auth.DefaultLimits()
	if cfg.NoRateLimits {
		defaults.Requests = auth.RequestRates{}
		defaults.PushBytesPerSecond, defaults.PushBurstBytes = 0, 0
	}
	s.limits = auth.NewLimitTable(defaults)
	if err := s.limits.Load(ctx, s.db); err != nil {
		return nil, err
	}
	scfg := store.DefaultConfig(StorePath(cfg.DataDir))
	scfg.Fsync = store.FsyncPolicy(cfg.Fsync)
	scfg.Retention = cfg.Retention
	scfg.DiskBudget = cfg.DiskBudget
	scfg.HeadMaxBytes = cfg.HeadMaxBytes
	scfg.Logger = log.With("component", "store")
	s.hub = tail.NewHub(tail.DefaultHubConfig())
	scfg.OnCommit = s.hub.OnCommit
	if s.st, err = store.Open(scfg); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s.applyRetention(ctx)
	authn, err := auth.NewAuthenticator(s.db, auth.DefaultAuthenticatorConfig())
	if err != nil {
		return nil, err
	}
	limiter, err := auth.NewLimiter(s.limits, auth.DefaultLimiterConfig())
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.startCollector(ctx, reg); err != nil {
		return nil, err
	}
	// Archive to S3: policies, scheduled and resumed jobs.
	archCfg := archive.DefaultConfig()
	archCfg.Logger = log.With("component", "archive")
	archCfg.TickInterval = cfg.ArchiveTick
	archCfg.Registerer = reg
	archCfg.Keys = s.keys
	archCfg.Egress = cfg.Egress
	if s.arch, err = archive.NewManager(archCfg, s.st, s.db); err != nil {
		return nil, err
	}
	if err := s.arch.Start(ctx); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if s.query, err = query.New(query.Deps{Store: s.st, Hub: s.hub, Archive: s.arch}); err != nil {
		return nil, err
	}
	appsSvc, err := s.startApps(reg)
	if err != nil {
		return nil, err
	}
	// PodLogStream objects (tilt.dev/v1alpha1) drive the collector's pins.
	if s.kube, err = kapi.Start(ctx, kapi.Config{DB: s.db.SQL(), Collector: s.coll, Logger: log.With("component", "kapi"), Version: cfg.Version}); err != nil {
		return nil, err
	}
	acfg := httpapi.DefaultConfig()
	acfg.MaxBodyBytes = cfg.MaxBodyBytes
	acfg.PublicMetrics = cfg.PublicMetrics
	acfg.Version = cfg.Version
	s.api, err = httpapi.New(acfg, httpapi.Deps{
		Query: s.query, Meta: s.db, Auth: authn, Limiter: limiter, Limits: s.limits,
		Logger: log.With("component", "http"), Registry: reg, Archive: s.arch, Clusters: s.clusters, Apps: appsSvc, Kube: s.kube,
	})
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{Handler: s.api.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), TLSConfig: tlsCfg}
	if tlsCfg != nil {
		go func() { s.served <- s.http.ServeTLS(s.ln, "", "") }()
	} else {
		go func() { s.served <- s.http.Serve(s.ln) }()
	}
	go s.reloadLoop() // #nosec G118 -- the reload loop lives as long as the server, which Stop ends
	ok = true
	log.Info("kubelog serving", "addr", s.Addr(), "data_dir", cfg.DataDir, "tls", cfg.TLSCertFile != "")
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Store returns the server's store (for tests and tools in the same process).
func (s *Server) Store() *store.Store { return s.st }

// Served reports the HTTP server's exit error, should it stop by itself.
func (s *Server) Served() <-chan error { return s.served }

// bootstrap makes sure an admin token exists: the configured bootstrap token,
// or, when no token exists at all, a new one printed once and saved to
// <data-dir>/admin-token with mode 0600.
func (s *Server) bootstrap(ctx context.Context, adminOut io.Writer) error {
	spec := auth.TokenSpec{Tenant: meta.DefaultTenant, Name: "bootstrap-admin", Scopes: auth.ScopeAdmin}
	if s.cfg.BootstrapToken != "" {
		if _, err := auth.LookupSecret(ctx, s.db, s.cfg.BootstrapToken); err == nil {
			return nil
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		if _, err := auth.ImportToken(ctx, s.db, time.Now(), spec, s.cfg.BootstrapToken); err != nil {
			if errors.Is(err, meta.ErrConflict) {
				spec.Name = fmt.Sprintf("bootstrap-admin-%d", time.Now().Unix())
				_, err = auth.ImportToken(ctx, s.db, time.Now(), spec, s.cfg.BootstrapToken)
			}
			if err != nil {
				return fmt.Errorf("bootstrap token: %w", err)
			}
		}
		return nil
	}
	existing, err := s.db.ListTokens(ctx, "")
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	spec.Name = "first-admin"
	secret, _, err := auth.IssueToken(ctx, s.db, time.Now(), spec)
	if err != nil {
		return fmt.Errorf("first admin token: %w", err)
	}
	path := filepath.Join(s.cfg.DataDir, "admin-token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(adminOut, "kubelog: created the first admin token (tenant default); it is also in %s\n%s\n", path, secret)
	return nil
}

// startCollector starts the collector Manager and the clusters service,
// which adds the clusters stored in the metadata database and resumes their
// jobs. The configured kubeconfig's context is first registered (or
// updated) as cluster "default" of tenant default, collecting every
// namespace.
func (s *Server) startCollector(ctx context.Context, reg prometheus.Registerer) error {
	ccfg := collector.DefaultConfig()
	ccfg.Logger = s.log.With("component", "collector")
	ccfg.Registerer = reg
	ccfg.MaxStreams = s.cfg.MaxStreams
	var err error
	if s.coll, err = collector.NewManager(ccfg, s.st, collector.NewSQLCheckpoints(s.db)); err != nil {
		return err
	}
	kcfg := clusters.DefaultConfig()
	kcfg.Logger = s.log.With("component", "clusters")
	kcfg.Keys = s.keys
	kcfg.Egress = s.cfg.Egress
	s.clusters = clusters.New(kcfg, s.db, s.coll, s.st)
	if s.cfg.Kubeconfig != "" {
		if err := s.clusters.EnsureDefault(ctx, s.cfg.Kubeconfig, s.cfg.Context); err != nil {
			return err
		}
		s.log.Info("collecting from cluster default", "kubeconfig", s.cfg.Kubeconfig, "context", s.cfg.Context)
	}
	return s.clusters.Start(ctx)
}

// startApps starts collecting the clusters' Events into the store and builds
// the /v2/apps service, whose link key is kept in the data dir. Its
// historic_logs are pre-signed links to the archive's objects.
func (s *Server) startApps(reg prometheus.Registerer) (*apps.Service, error) {
	ecfg := events.DefaultConfig()
	ecfg.Logger = s.log.With("component", "events")
	ecfg.Registerer = reg
	var err error
	if s.events, err = events.Start(ecfg, s.coll, s.st); err != nil {
		return nil, err
	}
	key, err := apps.LoadOrCreateKey(filepath.Join(s.cfg.DataDir, "apps-link.key"))
	if err != nil {
		return nil, err
	}
	signer, err := apps.NewSigner(key)
	if err != nil {
		return nil, err
	}
	cfg := apps.DefaultConfig()
	cfg.LinkTTL = s.cfg.AppsLinkTTL
	return apps.New(cfg, apps.Deps{Clusters: s.coll, Query: s.query, Signer: signer, Archive: s.arch.Links(s.cfg.AppsLinkTTL)})
}

// applyRetention gives the store each tenant's configured retention.
func (s *Server) applyRetention(ctx context.Context) {
	tenants, err := s.db.ListTenants(ctx)
	if err != nil {
		s.log.Warn("cannot read tenants for retention", "err", err)
		return
	}
	for _, t := range tenants {
		s.st.SetRetention(t.Name, time.Duration(s.limits.For(t.Name).Retention))
	}
}

// reloadLoop picks up limits changed by other processes (kubelog token and
// limit changes made through another server sharing the data dir).
func (s *Server) reloadLoop() {
	defer close(s.loopDone)
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.limits.Load(ctx, s.db); err != nil {
				s.log.Warn("reloading tenant limits failed", "err", err)
			} else {
				s.applyRetention(ctx)
			}
			cancel()
		case <-s.stopLoop:
			return
		}
	}
}

// Stop stops accepting requests, lets the ones in flight finish (up to
// ShutdownTimeout), flushes the store and closes everything.
func (s *Server) Stop() error {
	s.api.BeginShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(ctx)
	close(s.stopLoop)
	<-s.loopDone
	return errors.Join(err, s.closeStorage())
}

func (s *Server) closeStorage() error {
	var errs []error
	if s.kube != nil {
		s.kube.Close()
	}
	if s.clusters != nil {
		// Jobs stop before the collector they use; they resume at the next start.
		s.clusters.Close()
	}
	if s.events != nil {
		errs = append(errs, s.events.Close())
	}
	if s.coll != nil {
		// Stop collecting first: its last batches go to the store.
		errs = append(errs, s.coll.Close())
	}
	if s.arch != nil {
		// Running archive jobs stop here and resume at the next start.
		s.arch.Close()
	}
	if s.st != nil {
		errs = append(errs, s.st.Close())
	}
	if s.hub != nil {
		s.hub.Close()
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.unlock != nil {
		errs = append(errs, s.unlock())
		s.unlock = nil
	}
	return errors.Join(errs...)
}
