package state

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkParsePath(b *testing.B) {
	path := pathSeeds[2]
	b.ReportAllocs()
	b.SetBytes(int64(len(path)))
	for b.Loop() {
		if _, err := ParsePath(root, path); err != nil {
			b.Fatal(err)
		}
	}
}

// state500 returns a state of 500 files, a busy node's.
func state500() *State {
	s := &State{Entries: make([]Entry, 500)}
	at := time.Date(2026, 12, 7, 10, 15, 0, 0, time.UTC)
	for i := range s.Entries {
		s.Entries[i] = Entry{
			Identity:  Identity{Dev: 2049, Ino: uint64(100000 + i), Fingerprint: [16]byte{byte(i)}, FingerprintLen: FingerprintSize},
			Path:      fmt.Sprintf("%s/team-%d_api-server-%d-7d9f8c6b5-x2k4p_0b8e6c1a-2f44-4f0e-9a61-3d2f1b7c%04d/api/%d.log", root, i%20, i, i, i%3),
			Offset:    int64(i) << 20,
			UpdatedAt: at.Add(time.Duration(i) * time.Second),
		}
	}
	return s
}

func BenchmarkEncodeState500(b *testing.B) {
	s := state500()
	b.ReportAllocs()
	b.SetBytes(int64(len(encode(b, s))))
	for b.Loop() {
		if _, err := Encode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeState500(b *testing.B) {
	data := encode(b, state500())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
