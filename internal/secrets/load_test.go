package secrets

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKeys writes keys, one a line, to path with mode perm.
func writeKeys(t *testing.T, path string, perm fs.FileMode, keys ...[]byte) {
	t.Helper()
	var b strings.Builder
	for _, key := range keys {
		b.WriteString(EncodeKey(key) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t *testing.T, opts LoadOptions) *Keyring {
	t.Helper()
	k, err := Load(opts)
	if err != nil {
		t.Fatalf("Load(%+v): %v", opts, err)
	}
	return k
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "key")
	writeKeys(t, keyFile, 0o600, testKey(1))
	env := EncodeKey(testKey(2))
	writeKeys(t, DataDirKeyPath(dir), 0o600, testKey(3))

	f := func(opts LoadOptions, want []byte, wantSource KeySource, wantPath string) {
		t.Helper()
		k := mustLoad(t, opts)
		if k.CurrentID() != KeyID(want) || k.Source() != wantSource || k.SourcePath() != wantPath {
			t.Fatalf("Load(%+v): got key %s from %q %q; want key %s from %q %q",
				opts, k.CurrentID(), k.Source(), k.SourcePath(), KeyID(want), wantSource, wantPath)
		}
	}
	f(LoadOptions{KeyFile: keyFile, EnvValue: env, DataDir: dir}, testKey(1), SourceFile, keyFile)
	f(LoadOptions{EnvValue: env, DataDir: dir}, testKey(2), SourceEnv, "")
	f(LoadOptions{DataDir: dir}, testKey(3), SourceDataDir, DataDirKeyPath(dir))
	f(LoadOptions{EnvValue: env}, testKey(2), SourceEnv, "")
}

func TestLoadNoSource(t *testing.T) {
	if _, err := Load(LoadOptions{}); err == nil || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("Load with no source: got %v; want an error naming %s", err, EnvVar)
	}
}

func TestLoadDoesNotFallBack(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := func(opts LoadOptions, want string) {
		t.Helper()
		_, err := Load(opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Load(%+v): got %v; want an error containing %q", opts, err, want)
		}
		if strings.Contains(err.Error(), "not a key") {
			t.Errorf("Load: error %q holds the key", err)
		}
	}
	f(LoadOptions{KeyFile: bad, EnvValue: EncodeKey(testKey(1)), DataDir: dir}, bad)
	f(LoadOptions{KeyFile: filepath.Join(dir, "missing"), DataDir: dir}, "missing")
	f(LoadOptions{EnvValue: "not a key", DataDir: dir}, EnvVar)
	if _, err := os.Stat(DataDirKeyPath(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed Load generated %s: %v", DataDirKeyPath(dir), err)
	}
}

func TestLoadGenerates(t *testing.T) {
	dir := t.TempDir()
	first := mustLoad(t, LoadOptions{DataDir: dir})
	if first.Source() != SourceGenerated || first.SourcePath() != DataDirKeyPath(dir) {
		t.Fatalf("first Load: got source %q %q; want %q %q", first.Source(), first.SourcePath(), SourceGenerated, DataDirKeyPath(dir))
	}
	st, err := os.Stat(DataDirKeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode of the generated key file: got %04o; want 0600", got)
	}
	sealed, err := first.Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	second := mustLoad(t, LoadOptions{DataDir: dir})
	if second.Source() != SourceDataDir || second.CurrentID() != first.CurrentID() {
		t.Fatalf("second Load: got key %s from %q; want key %s from %q", second.CurrentID(), second.Source(), first.CurrentID(), SourceDataDir)
	}
	if got, err := second.Open(sealed, "p"); err != nil || string(got) != "secret" {
		t.Fatalf("Open after a second Load: got %q, %v; want \"secret\"", got, err)
	}
	noTempFiles(t, dir)
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != DataDirKeyFile {
			t.Errorf("file %s left in the data directory; want only %s", e.Name(), DataDirKeyFile)
		}
	}
}

func TestLoadRefusesOpenDataDirKey(t *testing.T) {
	f := func(perm fs.FileMode) {
		t.Helper()
		dir := t.TempDir()
		writeKeys(t, DataDirKeyPath(dir), perm, testKey(1))
		_, err := Load(LoadOptions{DataDir: dir})
		if err == nil {
			t.Fatalf("Load of a %04o data-dir key: got nil error; want a refusal", perm)
		}
		for _, want := range []string{"chmod 600", DataDirKeyPath(dir)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Load of a %04o data-dir key: got %q; want it to contain %q", perm, err, want)
			}
		}
		if strings.Contains(err.Error(), EncodeKey(testKey(1))) {
			t.Errorf("error %q holds the key", err)
		}
	}
	f(0o644)
	f(0o640)
	f(0o604)
	f(0o660)
}

func TestLoadKeyFileModes(t *testing.T) {
	f := func(perm fs.FileMode, wantErr bool) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "key")
		writeKeys(t, path, perm, testKey(1))
		_, err := Load(LoadOptions{KeyFile: path})
		if (err != nil) != wantErr {
			t.Fatalf("Load of a %04o key file: got %v; want error %v", perm, err, wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("Load of a %04o key file: got %q; want it to say chmod go-w", perm, err)
		}
	}
	f(0o400, false)
	f(0o600, false)
	f(0o644, false)
	f(0o664, true)
	f(0o666, true)
	f(0o602, true)
}

// TestLoadKeySecretVolume reads a key as Kubernetes mounts a Secret: a
// symbolic link to a file in a timestamped directory that ..data points to.
func TestLoadKeySecretVolume(t *testing.T) {
	vol := t.TempDir()
	ts := filepath.Join(vol, "..2026_01_02_03_04_05.123")
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	writeKeys(t, filepath.Join(ts, "secret-key"), 0o644, testKey(1), testKey(2))
	if err := os.Symlink(filepath.Base(ts), filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(vol, "secret-key")
	if err := os.Symlink("..data/secret-key", path); err != nil {
		t.Fatal(err)
	}
	k := mustLoad(t, LoadOptions{KeyFile: path})
	if ids := k.IDs(); len(ids) != 2 || ids[0] != KeyID(testKey(1)) || ids[1] != KeyID(testKey(2)) {
		t.Fatalf("IDs: got %v; want the ids of keys 1 and 2", ids)
	}
}

func TestLoadKeyFileNotRegular(t *testing.T) {
	if _, err := Load(LoadOptions{KeyFile: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Load of a directory: got %v; want a \"not a regular file\" error", err)
	}
}

func TestLoadKeyFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(strings.Repeat("#\n", maxKeyFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(LoadOptions{KeyFile: path}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load of a large file: got %v; want a \"larger than\" error", err)
	}
}

func TestLoadBrokenSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "gone"), DataDirKeyPath(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(LoadOptions{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "broken symbolic link") {
		t.Fatalf("Load with a broken link: got %v; want a \"broken symbolic link\" error", err)
	}
	if st, err := os.Lstat(DataDirKeyPath(dir)); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", st, err)
	}
}

func TestLoadMissingDataDir(t *testing.T) {
	if _, err := Load(LoadOptions{DataDir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("Load with a missing data directory: got nil error; want one")
	}
}
