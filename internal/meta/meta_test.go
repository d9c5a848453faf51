package meta

import (
	"context"
	"path/filepath"
	"testing"
)

// openTest opens a fresh database file in t.TempDir and closes it at the end
// of the test.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	d := openPath(t, path)
	return d, path
}

func openPath(t testing.TB, path string) *DB {
	t.Helper()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func TestOpenPragmas(t *testing.T) {
	d, _ := openTest(t)
	ctx := context.Background()
	f := func(pragma, want string) {
		t.Helper()
		var got string
		if err := d.SQL().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Fatalf("PRAGMA %s = %s; want %s", pragma, got, want)
		}
	}
	f("journal_mode", "wal")
	f("foreign_keys", "1")
	f("busy_timeout", "10000")
	f("synchronous", "1")
}

func TestOpenBadPath(t *testing.T) {
	ctx := context.Background()
	for _, p := range []string{"", "x?mode=ro", filepath.Join(t.TempDir(), "missing", "dir", "meta.db")} {
		if d, err := Open(ctx, p); err == nil {
			d.Close()
			t.Fatalf("Open(%q): got nil error; want one", p)
		}
	}
}
