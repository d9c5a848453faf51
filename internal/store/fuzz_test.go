package store

import (
	"os"
	"path/filepath"
	"testing"
)

// Native fuzz tests for every decoder of on-disk data: blocks, part files and
// WAL records. None may panic, whatever the bytes.

func FuzzDecodeBlock(f *testing.F) {
	rows, md := fixtureRows()
	var enc blockEncoder
	data, _, _ := enc.encode(nil, rows, md, nil)
	f.Add(data)
	f.Add(data[:len(data)/2])
	packed, _, _ := enc.encode(nil, fixturePackedRows(), md, nil)
	f.Add(packed)
	f.Add([]byte{blockFormatV1, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d blockDecoder
		if err := d.decodeHeader(b); err != nil {
			return
		}
		if err := d.decodeText(); err != nil {
			return
		}
		for i := 0; i < d.count; i++ {
			_ = d.line(i)
			_ = d.metadata(i)
		}
	})
}

func FuzzOpenPart(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "format-v1.part"))
	if err != nil {
		f.Fatal(err)
	}
	v4, err := os.ReadFile(filepath.Join("testdata", "format-v4.part"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v4)
	f.Add(seed)
	f.Add(seed[:len(seed)-10])
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "x.part")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := openPart(path)
		if err != nil {
			return
		}
		defer p.unref()
		var d blockDecoder
		for i := range p.blocks {
			raw, err := p.readBlock(i, nil)
			if err != nil {
				continue
			}
			if d.decodeHeader(raw) == nil {
				_ = d.decodeText()
			}
			_ = bloomMayContain(p.bloom(i), 12345, p.format >= 4)
		}
	})
}

func FuzzDecodeWALRecord(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "format-v2.wal"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed[walHeaderSize:])
	f.Add([]byte{walRecordEntries, 1, 'a', 0, 0, 0, 0, 0, 0, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeWALRecord(b)
	})
}

func FuzzReplaySegment(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "format-v2.wal"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(append(append([]byte{}, seed...), seed[:20]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), walSegmentName(1))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		good, _, err := replaySegment(path, func(walRecord) error { return nil })
		if err == nil && good > int64(len(b)) {
			t.Fatalf("good offset %d past the end %d", good, len(b))
		}
	})
}

func FuzzUnpackDigits(f *testing.F) {
	f.Add(appendPackedDigits(nil, []byte("0123456789")), 10)
	f.Add([]byte{0xff, 0xff}, 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, src []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		out, err := unpackDigits(nil, src, n)
		if err != nil {
			return
		}
		if len(out) != n {
			t.Fatalf("%d digits out; want %d", len(out), n)
		}
		for _, c := range out {
			if c < '0' || c > '9' {
				t.Fatalf("byte %#x is not a digit", c)
			}
		}
		if again := appendPackedDigits(nil, out); len(again) != len(src) {
			t.Fatalf("repacked to %d bytes from %d", len(again), len(src))
		}
	})
}
