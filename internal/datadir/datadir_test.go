package datadir

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestPrepareCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Dir(dir)} {
		if got := mode(t, p); got != DirMode {
			t.Errorf("mode of %s: got %04o; want %04o", p, got, DirMode)
		}
	}
	if err := Prepare(dir); err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
}

func TestPrepareTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	mk := func(path string, perm fs.FileMode) {
		t.Helper()
		if strings.HasSuffix(path, "/") {
			if err := os.Mkdir(path, perm); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(path, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
	}
	mk(dir+"/", 0o755)
	mk(dir+"/kubelog.db", 0o644)
	mk(dir+"/store/", 0o755)
	mk(dir+"/store/part/", 0o750)
	mk(dir+"/store/part/data.bin", 0o640)
	mk(dir+"/tool", 0o755)
	mk(dir+"/private", 0o400)
	outside := filepath.Join(t.TempDir(), "outside")
	mk(outside, 0o644)
	if err := os.Symlink(outside, dir+"/link"); err != nil {
		t.Fatal(err)
	}

	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	f := func(path string, want fs.FileMode) {
		t.Helper()
		if got := mode(t, path); got != want {
			t.Errorf("mode of %s: got %04o; want %04o", path, got, want)
		}
	}
	f(dir, 0o700)
	f(dir+"/kubelog.db", 0o600)
	f(dir+"/store", 0o700)
	f(dir+"/store/part", 0o700)
	f(dir+"/store/part/data.bin", 0o600)
	f(dir+"/tool", 0o700)
	f(dir+"/private", 0o400)
	f(outside, 0o644)
}

func TestPrepareThroughSymlink(t *testing.T) {
	target := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "kubelog.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(link); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, target); got != DirMode {
		t.Errorf("mode of %s: got %04o; want %04o", target, got, DirMode)
	}
	if got := mode(t, filepath.Join(target, "kubelog.db")); got != FileMode {
		t.Errorf("mode of kubelog.db: got %04o; want %04o", got, FileMode)
	}
}

func TestPrepareRefusesWritable(t *testing.T) {
	f := func(perm fs.FileMode) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, perm); err != nil {
			t.Fatal(err)
		}
		err := Prepare(dir)
		if err == nil {
			t.Fatalf("Prepare of a %04o directory: got nil error; want a refusal", perm)
		}
		for _, want := range []string{dir, "chmod go-w"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Prepare of a %04o directory: got error %q; want it to contain %q", perm, err, want)
			}
		}
		if got := mode(t, dir); got != perm {
			t.Errorf("mode after refusal: got %04o; want %04o unchanged", got, perm)
		}
	}
	f(0o777)
	f(0o775)
	f(0o757)
	f(0o720)
}

func TestPrepareRefusesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(path); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Prepare of a file: got %v; want a \"not a directory\" error", err)
	}
}

func TestCheckOwner(t *testing.T) {
	f := func(uid uint32, euid int, wantErr bool) {
		t.Helper()
		err := checkOwner("/data", uid, euid)
		if (err != nil) != wantErr {
			t.Fatalf("checkOwner(uid %d, euid %d): got %v; want error %v", uid, euid, err, wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "/data") {
			t.Fatalf("checkOwner error %q does not name the directory", err)
		}
	}
	f(1000, 1000, false)
	f(1000, 0, false)
	f(0, 0, false)
	f(0, 1000, true)
	f(1001, 1000, true)
}
