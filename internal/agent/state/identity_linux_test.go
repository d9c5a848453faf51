package state

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// writeFile writes data to a new file in t's temporary directory and returns
// it open for reading and writing.
func writeFile(t *testing.T, name string, data []byte) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

// identityOf is IdentityOf that fails t on an error.
func identityOf(t *testing.T, f *os.File) Identity {
	t.Helper()
	id, err := IdentityOf(f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIdentityOf(t *testing.T) {
	f := writeFile(t, "0.log", []byte("hello\n"))
	id := identityOf(t, f)
	var st syscall.Stat_t
	if err := syscall.Stat(f.Name(), &st); err != nil {
		t.Fatal(err)
	}
	if id.Dev != uint64(st.Dev) || id.Ino != st.Ino {
		t.Fatalf("got dev %d ino %d; want %d %d", id.Dev, id.Ino, st.Dev, st.Ino)
	}
	if id.FingerprintLen != 6 {
		t.Fatalf("got FingerprintLen %d; want 6", id.FingerprintLen)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 6 {
		t.Fatalf("got offset %d after IdentityOf; want 6, where it was", pos)
	}

	big := writeFile(t, "1.log", bytes.Repeat([]byte("x"), 3*FingerprintSize))
	if got := identityOf(t, big).FingerprintLen; got != FingerprintSize {
		t.Fatalf("got FingerprintLen %d of a large file; want %d", got, FingerprintSize)
	}
	empty := writeFile(t, "2.log", nil)
	if got := identityOf(t, empty).FingerprintLen; got != 0 {
		t.Fatalf("got FingerprintLen %d of an empty file; want 0", got)
	}
}

func TestSameFile(t *testing.T) {
	same := func(known Identity, f *os.File, want bool) {
		t.Helper()
		got, err := known.SameFile(identityOf(t, f), f)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("SameFile = %v; want %v", got, want)
		}
	}
	write := func(f *os.File, data string) {
		t.Helper()
		if _, err := f.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}

	f := writeFile(t, "0.log", []byte("first line\n"))
	known := identityOf(t, f)
	same(known, f, true)

	// The file grows, past the fingerprint's size too, and is rotated
	// (renamed): still the same file.
	write(f, "second line\n")
	same(known, f, true)
	write(f, string(bytes.Repeat([]byte("y"), 2*FingerprintSize)))
	same(known, f, true)
	rotated := f.Name() + ".20261207-101500"
	if err := os.Rename(f.Name(), rotated); err != nil {
		t.Fatal(err)
	}
	same(known, f, true)
	same(identityOf(t, f), f, true)

	// The inode holds other bytes (as when it is reused): not the same, be
	// the new file shorter, as long or longer.
	for _, data := range []string{"other\n", "other line\n", "other line, and more\n"} {
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte(data), 0); err != nil {
			t.Fatal(err)
		}
		same(known, f, false)
	}

	// Another file with the same bytes is another file.
	g := writeFile(t, "1.log", []byte("first line\n"))
	same(known, g, false)

	// A file known while empty is its inode.
	e := writeFile(t, "2.log", nil)
	knownEmpty := identityOf(t, e)
	write(e, "anything\n")
	same(knownEmpty, e, true)
}
