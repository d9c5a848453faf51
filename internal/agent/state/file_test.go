package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// load is Load that fails t on an error.
func load(t *testing.T, path string) *State {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of no file = %v; want fs.ErrNotExist", err)
	}
	want := testState()
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	if got := load(t, path); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v; want %+v", got, want)
	}
	// Saved again, the state replaces the old one and no file is left over.
	want.Entries = want.Entries[:1]
	want.Entries[0].Offset++
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	if got := load(t, path); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v; want %+v", got, want)
	}
	if names := dirNames(t, filepath.Dir(path)); !reflect.DeepEqual(names, []string{"state"}) {
		t.Fatalf("got files %q; want only the state", names)
	}
}

// dirNames returns the names of the files in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestSavePermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	// A file that was there with wider permissions is replaced by one of 0600.
	if err := os.WriteFile(path, nil, 0o644); err != nil { // #nosec G306 -- the permissions Save must not keep
		t.Fatal(err)
	}
	if err := Save(path, testState()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("got mode %v; want 0600", got)
	}
}

// TestSaveCrash stands for a crash before the rename: the temporary file is
// left written, and the old state is what loads.
func TestSaveCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	old := testState()
	if err := Save(path, old); err != nil {
		t.Fatal(err)
	}
	newer := &State{Entries: old.Entries[:1]}
	data := encode(t, newer)
	tmp, err := os.CreateTemp(dir, ".state.*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSync(tmp, data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	if got := load(t, path); !reflect.DeepEqual(got, old) {
		t.Fatalf("after a crash got %+v; want the old %+v", got, old)
	}
	// The next Save goes through despite the leftover.
	if err := Save(path, newer); err != nil {
		t.Fatal(err)
	}
	if got := load(t, path); !reflect.DeepEqual(got, newer) {
		t.Fatalf("got %+v; want %+v", got, newer)
	}
}

func TestSaveFails(t *testing.T) {
	dir := t.TempDir()
	// The rename fails: path is a directory that is not empty. The temporary
	// file is removed.
	path := filepath.Join(dir, "state")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, testState()); err == nil {
		t.Fatal("Save over a directory succeeded; want an error")
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"state"}) {
		t.Fatalf("got files %q; want the temporary file removed", names)
	}
	if err := Save(filepath.Join(dir, "missing", "state"), testState()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Save in a missing directory = %v; want fs.ErrNotExist", err)
	}
	if err := Save(filepath.Join(dir, "state2"), &State{Entries: []Entry{{Offset: -1}}}); err == nil {
		t.Fatal("Save of a bad state succeeded; want an error")
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	good := encode(t, testState())
	f := func(data []byte, want error) {
		t.Helper()
		path := filepath.Join(dir, "state")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); !errors.Is(err, want) {
			t.Fatalf("Load = %v; want %v", err, want)
		}
	}
	f(nil, ErrTruncated)
	f(good[:len(good)-1], ErrTruncated)
	corrupt := append([]byte(nil), good...)
	corrupt[headerSize+40] ^= 0x10
	f(corrupt, ErrCorrupt)
	version := append([]byte(nil), good...)
	version[5] = 1
	f(version, ErrUnknownVersion)

	// Too large a file is refused before it is read (sparse here).
	path := filepath.Join(dir, "large")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, maxFileSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load of a large file = %v; want ErrCorrupt", err)
	}
}
