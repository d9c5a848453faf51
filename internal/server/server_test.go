package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPortInUseWritesNothing checks that a listen error comes before the
// data dir, the database or an admin token is created.
func TestPortInUseWritesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Kubeconfig = ""
	var out bytes.Buffer
	_, err = Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &out)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Start on a port in use: %v", err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Fatalf("the data dir was created: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("a token was printed: %q", out.String())
	}
}
