package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeSettingsPrecedence checks flag > environment > file > default.
func TestServeSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kubelog.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9001\ndata_dir: /from/file\nretention: 7d\nfsync: interval\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBELOG_DATA_DIR", "/from/env")
	t.Setenv("KUBELOG_FSYNC", "never")
	cmd := newServeCmd(os.Stderr)
	if err := cmd.ParseFlags([]string{"--config", file, "--fsync", "always"}); err != nil {
		t.Fatal(err)
	}
	o := &serveOptions{configFile: file}
	defaults := map[string]string{"listen": "127.0.0.1:7070", "data-dir": "./kubelog-data", "bootstrap-token": "", "fsync": "always",
		"retention": "30d", "disk-budget": "0", "max-body-bytes": "100", "public-metrics": "true", "no-rate-limits": "false",
		"head-max-bytes": "16777216", "memory-limit": "150MiB", "kubeconfig": "", "context": ""}
	cfg, err := o.resolve(cmd.Flags(), defaults)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9001" || cfg.DataDir != "/from/env" || cfg.Fsync != "always" || cfg.Retention != 7*24*time.Hour || cfg.MaxBodyBytes != 100 {
		t.Fatalf("got %+v", cfg)
	}
	if err := os.WriteFile(file, []byte("colour: blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := o.resolve(cmd.Flags(), defaults); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown setting: %v", err)
	}
	t.Setenv("KUBELOG_FSYNC", "sometimes")
	cmd = newServeCmd(os.Stderr)
	if _, err := (&serveOptions{}).resolve(cmd.Flags(), defaults); err == nil || !strings.Contains(err.Error(), "fsync") {
		t.Fatalf("bad fsync: %v", err)
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
	def := map[string]string{"listen": "127.0.0.1:7070", "data-dir": "d", "fsync": "always", "retention": "30d", "disk-budget": "0",
		"max-body-bytes": "100", "public-metrics": "true", "no-rate-limits": "false", "head-max-bytes": "16777216", "memory-limit": "0"}
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
		cmd := newServeCmd(os.Stderr)
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		cfg, err := (&serveOptions{}).resolve(cmd.Flags(), def)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if cfg.NoRateLimits != c.noLimits || cfg.PublicMetrics != c.pub {
			t.Errorf("%v env %q: no-rate-limits %v public-metrics %v", c.args, c.env, cfg.NoRateLimits, cfg.PublicMetrics)
		}
	}
}
