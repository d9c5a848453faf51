package datadir

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := mode(t, filepath.Join(dir, LockFile)); got != FileMode {
		t.Errorf("mode of the lock file: got %04o; want %04o", got, FileMode)
	}

	_, err = Lock(dir)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Lock: got %v; want ErrInUse", err)
	}
	if want := "data directory " + dir + " is in use by another kubelog process"; !strings.Contains(err.Error(), want) {
		t.Errorf("second Lock: got error %q; want %q", err, want)
	}

	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLockMissingDir(t *testing.T) {
	if _, err := Lock(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrInUse) {
		t.Fatalf("Lock of a missing directory: got %v; want an error that is not ErrInUse", err)
	}
}
