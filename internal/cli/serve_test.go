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
		"retention": "30d", "disk-budget": "0", "max-body-bytes": "100", "public-metrics": "true", "no-rate-limits": "false"}
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
