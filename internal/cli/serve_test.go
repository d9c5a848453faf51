package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubelog/kubelog/internal/server"
)

// TestServeSettingsPrecedence checks flag > environment > file > default.
func TestServeSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kubelog.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9001\ndata_dir: /from/file\nretention: 7d\nfsync: interval\nmax_body_bytes: 100\negress_allow: [10.0.0.0/8, 127.0.0.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBELOG_DATA_DIR", "/from/env")
	t.Setenv("KUBELOG_FSYNC", "never")
	o, err := resolveArgs(t, "--config", file, "--fsync", "always")
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	if cfg.Listen != "127.0.0.1:9001" || cfg.DataDir != "/from/env" || cfg.Fsync != "always" || cfg.Retention != 7*24*time.Hour || cfg.MaxBodyBytes != 100 {
		t.Fatalf("got %+v", cfg)
	}
	if got := (prefixesValue{&cfg.Egress.Allow}).String(); got != "10.0.0.0/8,127.0.0.1/32" {
		t.Fatalf("egress_allow from a YAML list: %q", got)
	}
	if def := server.DefaultConfig(); cfg.HeadMaxBytes != def.HeadMaxBytes || cfg.AppsLinkTTL != def.AppsLinkTTL || !cfg.Egress.AllowPrivate {
		t.Fatalf("defaults: got %+v", cfg)
	}
	if err := os.WriteFile(file, []byte("colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveArgs(t, "--config", file); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown setting: %v", err)
	}
	t.Setenv("KUBELOG_FSYNC", "sometimes")
	if _, err := resolveArgs(t); err == nil || !strings.Contains(err.Error(), "fsync: KUBELOG_FSYNC: must be always, interval, never") {
		t.Fatalf("bad fsync: %v", err)
	}
}

// resolveArgs parses args as kubelog serve does and resolves the settings.
func resolveArgs(t *testing.T, args ...string) (*serveOptions, error) {
	t.Helper()
	o := newServeOptions()
	flags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.register(flags)
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	_, err := o.resolve(flags)
	return o, err
}

// TestServeSettingKinds checks each kind's parser and message, through the
// environment.
func TestServeSettingKinds(t *testing.T) {
	for _, c := range []struct{ env, value, want string }{
		{"KUBELOG_RETENTION", "soon", `retention: KUBELOG_RETENTION: "soon" is not a duration`},
		{"KUBELOG_RETENTION", "0", `retention: KUBELOG_RETENTION: "0" is not positive`},
		{"KUBELOG_MAX_BODY_BYTES", "12XB", "max-body-bytes: KUBELOG_MAX_BODY_BYTES:"},
		{"KUBELOG_MAX_STREAMS", "-1", `max-streams: KUBELOG_MAX_STREAMS: "-1" is not a positive whole number`},
		{"KUBELOG_PUBLIC_METRICS", "yes", `public-metrics: KUBELOG_PUBLIC_METRICS: "yes" is not true or false`},
		{"KUBELOG_EGRESS_DENY", "10.0.0.0/33", "egress-deny: KUBELOG_EGRESS_DENY:"},
	} {
		t.Run(c.env+"="+c.value, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			if _, err := resolveArgs(t); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v; want %q", err, c.want)
			}
		})
	}
	t.Setenv("KUBELOG_HEAD_MAX_BYTES", "32MiB")
	t.Setenv("KUBELOG_MEMORY_LIMIT", "0")
	o, err := resolveArgs(t, "--apps-link-ttl", "1h", "--kubeconfig", "none")
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.HeadMaxBytes != 32<<20 || o.memoryLimit != 0 || o.cfg.AppsLinkTTL != time.Hour || o.cfg.Kubeconfig != "none" {
		t.Fatalf("got %+v, memory limit %d", o.cfg, o.memoryLimit)
	}
}

func TestParseBytes(t *testing.T) {
	f := func(in string, want int64, ok bool) {
		t.Helper()
		got, err := parseBytes(in)
		if (err == nil) != ok || got != want {
			t.Fatalf("parseBytes(%q) = %d, %v; want %d ok=%v", in, got, err, want, ok)
		}
	}
	f("0", 0, true)
	f("192MiB", 192<<20, true)
	f("2 GiB", 2<<30, true)
	f("500MB", 500e6, true)
	f("1024", 1024, true)
	f("12XB", 0, false)
	f("-1MiB", 0, false)
}

// TestServeBooleanFlags checks that a boolean setting alone turns it on,
// and that =false and the environment still work.
func TestServeBooleanFlags(t *testing.T) {
	for _, c := range []struct {
		args          []string
		env           string
		noLimits, pub bool
	}{
		{nil, "", false, true},
		{[]string{"--no-rate-limits"}, "", true, true},
		{[]string{"--no-rate-limits=false", "--public-metrics=false"}, "true", false, false},
		{nil, "true", true, true},
	} {
		if c.env != "" {
			t.Setenv("KUBELOG_NO_RATE_LIMITS", c.env)
		}
		o, err := resolveArgs(t, c.args...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if o.cfg.NoRateLimits != c.noLimits || o.cfg.PublicMetrics != c.pub {
			t.Errorf("%v env %q: no-rate-limits %v public-metrics %v", c.args, c.env, o.cfg.NoRateLimits, o.cfg.PublicMetrics)
		}
	}
}
