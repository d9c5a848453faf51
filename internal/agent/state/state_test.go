package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/state-v1.bin from testState")

// testState returns a state with entries of every kind the format holds.
func testState() *State {
	return &State{Entries: []Entry{
		{
			Identity:  Identity{Dev: 2049, Ino: 1234567, Fingerprint: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, FingerprintLen: FingerprintSize},
			Path:      root + "/default_web-7d9f_0b8e6c1a-2f44-4f0e-9a61-3d2f1b7c9e10/nginx/0.log",
			Offset:    1 << 40,
			UpdatedAt: time.Date(2026, 12, 7, 10, 15, 0, 123456789, time.UTC),
		},
		{
			Identity:  Identity{Dev: ^uint64(0), Ino: ^uint64(0), FingerprintLen: 17},
			Path:      root + "/kube-system_etcd-node_7f3c/etcd/12.log.20261207-101500.gz",
			UpdatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		},
		{Path: "", UpdatedAt: time.Unix(0, 0).UTC()},
	}}
}

// encode is Encode that fails t on an error.
func encode(t testing.TB, s *State) []byte {
	t.Helper()
	data, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEncodeDecode(t *testing.T) {
	f := func(s *State) {
		t.Helper()
		data := encode(t, s)
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("got %+v; want %+v", got, s)
		}
		if again := encode(t, got); !bytes.Equal(again, data) {
			t.Fatalf("re-encoded %x; want %x", again, data)
		}
	}
	f(&State{})
	f(testState())
	f(&State{Entries: []Entry{{Path: strings.Repeat("p", MaxPathLen)}}})

	// A time in another zone comes back the same instant, in UTC.
	local := time.Date(2026, 12, 7, 19, 46, 46, 5, time.FixedZone("x", 2*3600))
	got, err := Decode(encode(t, &State{Entries: []Entry{{UpdatedAt: local}}}))
	if err != nil {
		t.Fatal(err)
	}
	if u := got.Entries[0].UpdatedAt; !u.Equal(local) || u.Location() != time.UTC {
		t.Fatalf("got %v; want %v in UTC", u, local)
	}
}

// TestFixtureV1 keeps the bytes of version 1: a state file written by an
// earlier agent must still load.
func TestFixtureV1(t *testing.T) {
	name := filepath.Join("testdata", "state-v1.bin")
	want := encode(t, testState())
	if *update {
		if err := os.WriteFile(name, want, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(name) // #nosec G304 -- a fixed test fixture
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("Encode(testState()) = %x; want the fixture's %x", want, data)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, testState()) {
		t.Fatalf("got %+v; want %+v", got, testState())
	}
}

func TestEncodeRefuses(t *testing.T) {
	f := func(s *State, problem string) {
		t.Helper()
		if _, err := Encode(s); err == nil || !strings.Contains(err.Error(), problem) {
			t.Fatalf("Encode = %v; want an error about %s", err, problem)
		}
	}
	f(&State{Entries: make([]Entry, MaxEntries+1)}, "entries")
	f(&State{Entries: []Entry{{Path: strings.Repeat("p", MaxPathLen+1)}}}, "path of")
	f(&State{Entries: []Entry{{Offset: -1}}}, "negative offset")
	f(&State{Entries: []Entry{{Identity: Identity{FingerprintLen: FingerprintSize + 1}}}}, "fingerprint length")
	f(&State{Entries: []Entry{{Identity: Identity{FingerprintLen: -1}}}}, "fingerprint length")
}

// reseal rewrites the checksum of data, so that a change to it passes the
// checksum and meets the checks behind it.
func reseal(data []byte) []byte {
	end := len(data) - trailerSize
	binary.LittleEndian.PutUint32(data[end:], crcOf(data[:end]))
	return data
}

func TestDecodeRefuses(t *testing.T) {
	good := encode(t, testState())
	f := func(data []byte, want error, problem string) {
		t.Helper()
		_, err := Decode(data)
		if !errors.Is(err, want) {
			t.Fatalf("Decode = %v; want %v", err, want)
		}
		if !strings.Contains(err.Error(), problem) {
			t.Fatalf("Decode = %q; want it to name %q", err, problem)
		}
	}
	edit := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(good)) }

	// Truncated, at every length.
	for n := range len(good) {
		_, err := Decode(good[:n])
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("Decode of the first %d of %d bytes = %v; want ErrTruncated", n, len(good), err)
		}
	}
	// Any flipped bit.
	for i := range len(good) {
		for bit := range 8 {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			if _, err := Decode(b); err == nil {
				t.Fatalf("Decode with bit %d of byte %d flipped succeeded", bit, i)
			}
		}
	}
	f(edit(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }), ErrCorrupt, "checksum")
	f(edit(func(b []byte) []byte { b[headerSize+3] ^= 0xff; return b }), ErrCorrupt, "checksum")
	f([]byte("{\"entries\":[]}"), ErrCorrupt, "magic")
	f([]byte("KL"), ErrTruncated, "shorter than a header")
	f([]byte("X"), ErrCorrupt, "magic")
	f(append(bytes.Clone(good), 0), ErrCorrupt, "after the end")
	f(edit(func(b []byte) []byte { b[4] = 2; return b }), ErrUnknownVersion, "version 2")
	f(edit(func(b []byte) []byte { b[4] = 2; return b[:headerSize] }), ErrUnknownVersion, "version 2")

	// Damage the checksum does not catch: the encoder never writes it.
	field := func(entryOff, at int, v uint64, size int) []byte {
		return edit(func(b []byte) []byte {
			p := b[headerSize+entryOff+at:]
			switch size {
			case 2:
				binary.LittleEndian.PutUint16(p, uint16(v))
			case 4:
				binary.LittleEndian.PutUint32(p, uint32(v))
			case 8:
				binary.LittleEndian.PutUint64(p, v)
			}
			return reseal(b)
		})
	}
	f(field(0, 32, FingerprintSize+1, 2), ErrCorrupt, "fingerprint length")
	f(field(0, 34, 1<<63, 8), ErrCorrupt, "offset")
	f(field(0, 50, uint64(time.Second), 4), ErrCorrupt, "nanoseconds")
	f(field(0, 54, MaxPathLen+1, 2), ErrCorrupt, "path of")
	f(field(0, 54, 0, 2), ErrCorrupt, "")
	f(edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[6:], 2); return reseal(b) }), ErrCorrupt, "after the last entry")
	f(edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[6:], 4); return reseal(b) }), ErrCorrupt, "entry 3 cut")
	f(edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[6:], MaxEntries+1); return reseal(b) }), ErrCorrupt, "entries in a body")
}
