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

	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/server"
)

// serveOptions are the settings of kubelog serve, resolved (flag, then
// environment, then config file, then default) into a server.Config.
type serveOptions struct {
	configFile string
	logLevel   string
	cpuProfile string
	cfg        server.Config
	// memoryLimit is the soft memory limit (0: none).
	memoryLimit int64
}

// defaultMemoryLimit leaves the default head and a 1 MiB push room.
const defaultMemoryLimit = 150 << 20

// newServeOptions returns the defaults: server.DefaultConfig, and the
// kubeconfig kubectl would use.
func newServeOptions() *serveOptions {
	o := &serveOptions{cfg: server.DefaultConfig(), memoryLimit: defaultMemoryLimit}
	o.cfg.Kubeconfig = defaultKubeconfig()
	return o
}

// settings lists every setting, bound to o's fields.
func (o *serveOptions) settings() []setting {
	c := &o.cfg
	return []setting{
		{"listen", "KUBELOG_LISTEN", "listen", "address to listen on", stringValue{&c.Listen}},
		{"data-dir", "KUBELOG_DATA_DIR", "data_dir", "directory for the store, the metadata database and the admin token", stringValue{&c.DataDir}},
		{"bootstrap-token", "KUBELOG_BOOTSTRAP_TOKEN", "bootstrap_token", "admin token of tenant default to create at start (20-256 chars of [A-Za-z0-9-._~+/=])", stringValue{&c.BootstrapToken}},
		{"fsync", "KUBELOG_FSYNC", "fsync", "WAL durability: always (ack after fsync), interval or never", enumValue{&c.Fsync, []string{"always", "interval", "never"}}},
		{"retention", "KUBELOG_RETENTION", "retention", "default retention, e.g. 30d", durationValue{p: &c.Retention}},
		{"disk-budget", "KUBELOG_DISK_BUDGET", "disk_budget_bytes", "cap on stored bytes; the oldest data goes first (0: none)", bytesValue{&c.DiskBudget}},
		{"max-body-bytes", "KUBELOG_MAX_BODY_BYTES", "max_body_bytes", "request body size cap", bytesValue{&c.MaxBodyBytes}},
		{"public-metrics", "KUBELOG_PUBLIC_METRICS", "public_metrics", "serve Prometheus /metrics without a token", boolValue{&c.PublicMetrics}},
		{"no-rate-limits", "KUBELOG_NO_RATE_LIMITS", "no_rate_limits", "turn every rate limit off (for benchmarks)", boolValue{&c.NoRateLimits}},
		{"kubeconfig", "KUBELOG_KUBECONFIG", "kubeconfig", `kubeconfig whose context is collected as cluster "default" (default: $KUBECONFIG or ~/.kube/config when present; "none" to collect nothing)`, stringValue{&c.Kubeconfig}},
		{"context", "KUBELOG_CONTEXT", "context", "kubeconfig context (default: its current context)", stringValue{&c.Context}},
		{"head-max-bytes", "KUBELOG_HEAD_MAX_BYTES", "head_max_bytes", "raw bytes of recent entries kept in memory before a flush to disk", bytesValue{&c.HeadMaxBytes}},
		{"tls-cert-file", "KUBELOG_TLS_CERT_FILE", "tls_cert_file", "PEM certificate (chain) to serve HTTPS with; kubectl sends tokens only over HTTPS (needs --tls-key-file)", stringValue{&c.TLSCertFile}},
		{"tls-key-file", "KUBELOG_TLS_KEY_FILE", "tls_key_file", "PEM private key of --tls-cert-file", stringValue{&c.TLSKeyFile}},
		{"memory-limit", "KUBELOG_MEMORY_LIMIT", "memory_limit", "soft memory limit for the Go runtime, e.g. 192MiB or 2GiB (0: none; GOMEMLIMIT wins)", bytesValue{&o.memoryLimit}},
		{"archive-tick", "KUBELOG_ARCHIVE_TICK", "archive_tick", "how often the archive scheduler looks for due policies", durationValue{p: &c.ArchiveTick}},
		{"apps-link-ttl", "KUBELOG_APPS_LINK_TTL", "apps_link_ttl", "how long the signed log links of /v2/apps stay valid, e.g. 15m", durationValue{p: &c.AppsLinkTTL}},
		{"max-streams", "KUBELOG_MAX_STREAMS", "max_streams", "log streams open at once per cluster; more containers wait for a slot", intValue{&c.MaxStreams}},
		{"secret-key-file", "KUBELOG_SECRET_KEY_FILE", "secret_key_file", "file with the key that seals stored credentials, new key first (default: $KUBELOG_SECRET_KEY, else <data-dir>/secret.key, generated)", stringValue{&c.SecretKeyFile}},
		{"egress-allow-private", "KUBELOG_EGRESS_ALLOW_PRIVATE", "egress_allow_private", "let tenants' clusters and S3 endpoints be at private addresses (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10)", boolValue{&c.Egress.AllowPrivate}},
		{"egress-allow", "KUBELOG_EGRESS_ALLOW", "egress_allow", "comma-separated CIDRs tenants' endpoints may reach even when refused otherwise (loopback, link-local)", prefixesValue{&c.Egress.Allow}},
		{"egress-deny", "KUBELOG_EGRESS_DENY", "egress_deny", "comma-separated CIDRs tenants' endpoints may never reach", prefixesValue{&c.Egress.Deny}},
	}
}

func newServeCmd(stderr io.Writer) *cobra.Command {
	o := newServeOptions()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the kubelog server",
		Long: `serve runs kubelog: the store, the metadata database and the HTTP API.
Settings come from flags, then KUBELOG_* environment variables, then the YAML
file given with --config, then the defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.resolve(cmd.Flags())
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
	o.register(f)
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for profiling)")
	return cmd
}

// register adds a flag per setting to f; --config and the logging flags
// are the command's.
func (o *serveOptions) register(f *pflag.FlagSet) {
	for _, s := range o.settings() {
		fl := f.VarPF(s.value, s.flag, "", s.help+" (env "+s.env+")")
		if _, ok := s.value.(boolValue); ok {
			fl.NoOptDefVal = "true"
		}
	}
	f.StringVar(&o.configFile, "config", "", "YAML config file")
}

// resolve applies the precedence flag > env > file > default and returns
// the validated server.Config. Each error names the setting and where it
// came from.
func (o *serveOptions) resolve(flags *pflag.FlagSet) (server.Config, error) {
	given := map[string]string{}
	flags.Visit(func(f *pflag.Flag) { given[f.Name] = f.Value.String() })
	file := map[string]any{}
	if o.configFile != "" {
		b, err := os.ReadFile(o.configFile)
		if err != nil {
			return server.Config{}, fmt.Errorf("--config: %w", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return server.Config{}, fmt.Errorf("--config %s: %w", o.configFile, err)
		}
	}
	d := newServeOptions()
	o.cfg, o.memoryLimit = d.cfg, d.memoryLimit
	known := map[string]bool{}
	for _, s := range o.settings() {
		known[s.key] = true
		if v, ok := file[s.key]; ok {
			if err := s.value.Set(yamlText(v)); err != nil {
				return o.cfg, fmt.Errorf("%s: %s in --config %s: %w", s.flag, s.key, o.configFile, err)
			}
		}
		if v, ok := os.LookupEnv(s.env); ok {
			if err := s.value.Set(v); err != nil {
				return o.cfg, fmt.Errorf("%s: %s: %w", s.flag, s.env, err)
			}
		}
		if v, ok := given[s.flag]; ok {
			if err := s.value.Set(v); err != nil {
				return o.cfg, fmt.Errorf("%s: --%s: %w", s.flag, s.flag, err)
			}
		}
	}
	for k := range file {
		if !known[k] {
			return o.cfg, fmt.Errorf("--config %s: unknown setting %q", o.configFile, k)
		}
	}
	cfg := o.cfg
	if cfg.Kubeconfig == "none" {
		cfg.Kubeconfig = ""
	}
	cfg.SecretKey = os.Getenv(secrets.EnvVar)
	return cfg, cfg.Validate()
}

// yamlText is the text of a YAML setting: a list is comma-separated.
func yamlText(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprint(v)
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprint(e)
	}
	return strings.Join(parts, ",")
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
