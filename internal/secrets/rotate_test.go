package secrets

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestRotateDataDirKey(t *testing.T) {
	dir := t.TempDir()
	first := mustLoad(t, LoadOptions{DataDir: dir})
	sealed, err := first.Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}

	old, next, err := RotateDataDirKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if old.CurrentID() != first.CurrentID() || next.CurrentID() == first.CurrentID() {
		t.Fatalf("RotateDataDirKey: got old key %s, next %s; want old %s and a new next", old.CurrentID(), next.CurrentID(), first.CurrentID())
	}
	if st, err := os.Stat(DataDirKeyPath(dir)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file after rotation: got %v, %v; want mode 0600", st, err)
	}
	noTempFiles(t, dir)

	// A restart in the middle of the rotation seals with the new key and
	// opens with both.
	mid := mustLoad(t, LoadOptions{DataDir: dir})
	if ids := mid.IDs(); len(ids) != 2 || ids[0] != next.CurrentID() || ids[1] != first.CurrentID() {
		t.Fatalf("IDs after rotation: got %v; want [%s %s]", ids, next.CurrentID(), first.CurrentID())
	}
	if got, err := mid.Open(sealed, "p"); err != nil || string(got) != "secret" {
		t.Fatalf("Open of an old value after rotation: got %q, %v; want \"secret\"", got, err)
	}
	resealed, changed, err := next.Reseal(sealed, "p")
	if err != nil || !changed {
		t.Fatalf("Reseal: got changed %v, %v; want a new value", changed, err)
	}

	if err := DropOldKeys(dir); err != nil {
		t.Fatal(err)
	}
	after := mustLoad(t, LoadOptions{DataDir: dir})
	if ids := after.IDs(); len(ids) != 1 || ids[0] != next.CurrentID() {
		t.Fatalf("IDs after DropOldKeys: got %v; want [%s]", ids, next.CurrentID())
	}
	if got, err := after.Open(resealed, "p"); err != nil || string(got) != "secret" {
		t.Fatalf("Open of the re-sealed value: got %q, %v; want \"secret\"", got, err)
	}
	if _, err := after.Open(sealed, "p"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open of a value sealed with the dropped key: got %v; want ErrUnknownKey", err)
	}
	if err := DropOldKeys(dir); err != nil {
		t.Fatalf("DropOldKeys with one key: %v", err)
	}
	noTempFiles(t, dir)
}

func TestRotateTwice(t *testing.T) {
	dir := t.TempDir()
	first := mustLoad(t, LoadOptions{DataDir: dir})
	_, second, err := RotateDataDirKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, third, err := RotateDataDirKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{third.CurrentID(), second.CurrentID(), first.CurrentID()}
	ids := mustLoad(t, LoadOptions{DataDir: dir}).IDs()
	if len(ids) != len(want) || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("IDs after two rotations: got %v; want %v", ids, want)
	}
}

func TestRotateNoKeyFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := RotateDataDirKey(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RotateDataDirKey without a key file: got %v; want ErrNotExist", err)
	}
	if err := DropOldKeys(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("DropOldKeys without a key file: got %v; want ErrNotExist", err)
	}
	if _, err := os.Stat(DataDirKeyPath(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RotateDataDirKey created %s: %v", DataDirKeyPath(dir), err)
	}
}

func TestRotateRefusesOpenKeyFile(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, DataDirKeyPath(dir), 0o644, testKey(1))
	if _, _, err := RotateDataDirKey(dir); err == nil {
		t.Fatal("RotateDataDirKey of a 0644 key file: got nil error; want a refusal")
	}
}
