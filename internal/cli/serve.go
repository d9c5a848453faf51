package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/server"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// serveOptions are the settings of kubelog serve as strings, before they are
// resolved (flag, then environment, then config file, then default) into a
// server.Config.
type serveOptions struct {
	configFile string
	logLevel   string
	cpuProfile string
	// memoryLimit is the resolved soft memory limit (0: none).
	memoryLimit int64
	values      map[string]string
}

// serveSettings lists each setting: flag name, environment variable, YAML key
// and help.
var serveSettings = []struct{ flag, env, key, help string }{
	{"listen", "KUBELOG_LISTEN", "listen", "address to listen on"},
	{"data-dir", "KUBELOG_DATA_DIR", "data_dir", "directory for the store, the metadata database and the admin token"},
	{"bootstrap-token", "KUBELOG_BOOTSTRAP_TOKEN", "bootstrap_token", "admin token of tenant default to create at start (20-256 chars of [A-Za-z0-9-._~+/=])"},
	{"fsync", "KUBELOG_FSYNC", "fsync", "WAL durability: always (ack after fsync), interval or never"},
	{"retention", "KUBELOG_RETENTION", "retention", "default retention, e.g. 30d"},
	{"disk-budget", "KUBELOG_DISK_BUDGET", "disk_budget_bytes", "cap on stored bytes; the oldest data goes first (0: none)"},
	{"max-body-bytes", "KUBELOG_MAX_BODY_BYTES", "max_body_bytes", "request body size cap"},
	{"public-metrics", "KUBELOG_PUBLIC_METRICS", "public_metrics", "serve Prometheus /metrics without a token"},
	{"no-rate-limits", "KUBELOG_NO_RATE_LIMITS", "no_rate_limits", "turn every rate limit off (for benchmarks)"},
	{"kubeconfig", "KUBELOG_KUBECONFIG", "kubeconfig", `kubeconfig whose context is collected as cluster "default" (default: $KUBECONFIG or ~/.kube/config when present; "none" to collect nothing)`},
	{"context", "KUBELOG_CONTEXT", "context", "kubeconfig context (default: its current context)"},
	{"head-max-bytes", "KUBELOG_HEAD_MAX_BYTES", "head_max_bytes", "raw bytes of recent entries kept in memory before a flush to disk"},
	{"tls-cert-file", "KUBELOG_TLS_CERT_FILE", "tls_cert_file", "PEM certificate (chain) to serve HTTPS with; kubectl sends tokens only over HTTPS (needs --tls-key-file)"},
	{"tls-key-file", "KUBELOG_TLS_KEY_FILE", "tls_key_file", "PEM private key of --tls-cert-file"},
	{"memory-limit", "KUBELOG_MEMORY_LIMIT", "memory_limit", "soft memory limit for the Go runtime, e.g. 192MiB or 2GiB (0: none; GOMEMLIMIT wins)"},
	{"archive-tick", "KUBELOG_ARCHIVE_TICK", "archive_tick", "how often the archive scheduler looks for due policies"},
	{"apps-link-ttl", "KUBELOG_APPS_LINK_TTL", "apps_link_ttl", "how long the signed log links of /v2/apps stay valid, e.g. 15m"},
	{"max-streams", "KUBELOG_MAX_STREAMS", "max_streams", "log streams open at once per cluster; more containers wait for a slot"},
	{"secret-key-file", "KUBELOG_SECRET_KEY_FILE", "secret_key_file", "file with the key that seals stored credentials, new key first (default: $KUBELOG_SECRET_KEY, else <data-dir>/secret.key, generated)"},
	{"egress-allow-private", "KUBELOG_EGRESS_ALLOW_PRIVATE", "egress_allow_private", "let tenants' clusters and S3 endpoints be at private addresses (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10)"},
	{"egress-allow", "KUBELOG_EGRESS_ALLOW", "egress_allow", "comma-separated CIDRs tenants' endpoints may reach even when refused otherwise (loopback, link-local)"},
	{"egress-deny", "KUBELOG_EGRESS_DENY", "egress_deny", "comma-separated CIDRs tenants' endpoints may never reach"},
}

// booleanSettings are boolean flags, so that --no-rate-limits alone turns
// the setting on.
var booleanSettings = map[string]bool{"public-metrics": true, "no-rate-limits": true, "egress-allow-private": true}

func newServeCmd(stderr io.Writer) *cobra.Command {
	o := &serveOptions{values: map[string]string{}}
	def := server.DefaultConfig()
	defaults := map[string]string{
		"listen": def.Listen, "data-dir": def.DataDir, "bootstrap-token": "", "fsync": def.Fsync,
		"retention": "30d", "disk-budget": "0", "max-body-bytes": strconv.FormatInt(def.MaxBodyBytes, 10),
		"public-metrics": strconv.FormatBool(def.PublicMetrics), "no-rate-limits": "false",
		"head-max-bytes": strconv.FormatInt(def.HeadMaxBytes, 10), "memory-limit": "150MiB", "archive-tick": def.ArchiveTick.String(),
		"kubeconfig": defaultKubeconfig(), "context": "", "apps-link-ttl": def.AppsLinkTTL.String(),
		"max-streams":   strconv.Itoa(def.MaxStreams),
		"tls-cert-file": "", "tls-key-file": "",
		"secret-key-file": "", "egress-allow-private": strconv.FormatBool(def.Egress.AllowPrivate), "egress-allow": "", "egress-deny": "",
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the kubelog server",
		Long: `serve runs kubelog: the store, the metadata database and the HTTP API.
Settings come from flags, then KUBELOG_* environment variables, then the YAML
file given with --config, then the defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.resolve(cmd.Flags(), defaults)
			if err != nil {
				return err
			}
			cfg.Version = Version
			if _, set := os.LookupEnv("GOMEMLIMIT"); !set && o.memoryLimit > 0 {
				debug.SetMemoryLimit(o.memoryLimit)
			}
			log, err := newLogger(stderr, o.logLevel)
			if err != nil {
				return err
			}
			if o.cpuProfile != "" {
				f, err := os.Create(o.cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			srv, err := server.Start(cmd.Context(), cfg, log, stderr)
			if err != nil {
				return err
			}
			select {
			case <-cmd.Context().Done():
				log.Info("stopping: finishing requests in flight and flushing the store")
			case err := <-srv.Served():
				log.Error("HTTP server stopped", "err", err)
			}
			if err := srv.Stop(); err != nil {
				return fmt.Errorf("stop: %w", err)
			}
			log.Info("stopped")
			return nil
		},
	}
	f := cmd.Flags()
	for _, s := range serveSettings {
		if booleanSettings[s.flag] {
			f.Bool(s.flag, defaults[s.flag] == "true", s.help+" (env "+s.env+")")
			continue
		}
		f.String(s.flag, defaults[s.flag], s.help+" (env "+s.env+")")
	}
	f.StringVar(&o.configFile, "config", "", "YAML config file")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for profiling)")
	return cmd
}

// resolve applies the precedence flag > env > file > default and parses the
// result into a server.Config.
func (o *serveOptions) resolve(flags *pflag.FlagSet, defaults map[string]string) (server.Config, error) {
	file := map[string]any{}
	if o.configFile != "" {
		b, err := os.ReadFile(o.configFile)
		if err != nil {
			return server.Config{}, fmt.Errorf("--config: %w", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return server.Config{}, fmt.Errorf("--config %s: %w", o.configFile, err)
		}
		known := map[string]bool{}
		for _, s := range serveSettings {
			known[s.key] = true
		}
		for k := range file {
			if !known[k] {
				return server.Config{}, fmt.Errorf("--config %s: unknown setting %q", o.configFile, k)
			}
		}
	}
	get := map[string]string{}
	for _, s := range serveSettings {
		v := defaults[s.flag]
		if fv, ok := file[s.key]; ok {
			v = fmt.Sprint(fv)
		}
		if ev, ok := os.LookupEnv(s.env); ok {
			v = ev
		}
		if flags.Changed(s.flag) {
			if booleanSettings[s.flag] {
				b, _ := flags.GetBool(s.flag)
				v = strconv.FormatBool(b)
			} else {
				v, _ = flags.GetString(s.flag)
			}
		}
		get[s.flag] = strings.TrimSpace(v)
	}
	cfg := server.DefaultConfig()
	cfg.Listen = get["listen"]
	cfg.DataDir = get["data-dir"]
	cfg.BootstrapToken = get["bootstrap-token"]
	cfg.Fsync = get["fsync"]
	var err error
	if cfg.Retention, err = timeparse.ParseDuration(get["retention"]); err != nil {
		return cfg, fmt.Errorf("retention: %w", err)
	}
	if cfg.DiskBudget, err = strconv.ParseInt(get["disk-budget"], 10, 64); err != nil {
		return cfg, fmt.Errorf("disk-budget: %w", err)
	}
	if cfg.MaxBodyBytes, err = strconv.ParseInt(get["max-body-bytes"], 10, 64); err != nil {
		return cfg, fmt.Errorf("max-body-bytes: %w", err)
	}
	if cfg.PublicMetrics, err = strconv.ParseBool(get["public-metrics"]); err != nil {
		return cfg, fmt.Errorf("public-metrics: %w", err)
	}
	if cfg.NoRateLimits, err = strconv.ParseBool(get["no-rate-limits"]); err != nil {
		return cfg, fmt.Errorf("no-rate-limits: %w", err)
	}
	cfg.SecretKeyFile, cfg.SecretKey = get["secret-key-file"], os.Getenv(secrets.EnvVar)
	if v := get["egress-allow-private"]; v != "" {
		if cfg.Egress.AllowPrivate, err = strconv.ParseBool(v); err != nil {
			return cfg, fmt.Errorf("egress-allow-private: %w", err)
		}
	}
	if cfg.Egress.Allow, err = egress.ParsePrefixes(get["egress-allow"]); err != nil {
		return cfg, fmt.Errorf("egress-allow: %w", err)
	}
	if cfg.Egress.Deny, err = egress.ParsePrefixes(get["egress-deny"]); err != nil {
		return cfg, fmt.Errorf("egress-deny: %w", err)
	}
	cfg.Kubeconfig, cfg.Context = get["kubeconfig"], get["context"]
	cfg.TLSCertFile, cfg.TLSKeyFile = get["tls-cert-file"], get["tls-key-file"]
	if cfg.Kubeconfig == "none" {
		cfg.Kubeconfig = ""
	}
	if cfg.HeadMaxBytes, err = parseBytes(get["head-max-bytes"]); err != nil {
		return cfg, fmt.Errorf("head-max-bytes: %w", err)
	}
	if v := get["apps-link-ttl"]; v != "" {
		if cfg.AppsLinkTTL, err = timeparse.ParseDuration(v); err != nil {
			return cfg, fmt.Errorf("apps-link-ttl: %w", err)
		}
	}
	if v := get["max-streams"]; v != "" {
		if cfg.MaxStreams, err = strconv.Atoi(v); err != nil {
			return cfg, fmt.Errorf("max-streams: %w", err)
		}
	}
	if o.memoryLimit, err = parseBytes(get["memory-limit"]); err != nil {
		return cfg, fmt.Errorf("memory-limit: %w", err)
	}
	if s := get["archive-tick"]; s != "" {
		if cfg.ArchiveTick, err = timeparse.ParseDuration(s); err != nil {
			return cfg, fmt.Errorf("archive-tick: %w", err)
		}
	}
	switch cfg.Fsync {
	case "always", "interval", "never":
	default:
		return cfg, fmt.Errorf("fsync: must be always, interval or never, not %q", cfg.Fsync)
	}
	return cfg, cfg.Validate()
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// parseBytes reads a size: a whole number with an optional unit B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 512MiB or 2GB", s)
	}
	return n * mult, nil
}

// defaultKubeconfig is the kubeconfig kubectl would use, when it exists:
// the first file of $KUBECONFIG, else ~/.kube/config.
func defaultKubeconfig() string {
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return strings.Split(env, string(os.PathListSeparator))[0]
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	path := filepath.Join(home, ".kube", "config")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}
