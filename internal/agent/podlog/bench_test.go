package podlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// loghubDir holds the loghub sample logs the benchmarks read.
const loghubDir = "../../../../shared/data/loghub"

// readSize is the size of the reads the benchmarks feed, that of a tailer's
// read buffer.
const readSize = 64 << 10

// loghubLines returns the lines of the loghub *_2k.log samples, or skips the
// benchmark when they are absent.
func loghubLines(b *testing.B) [][]byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(loghubDir, "*_2k.log"))
	if len(files) == 0 {
		b.Skipf("no loghub samples in %s", loghubDir)
	}
	var lines [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name) // #nosec G304 -- a fixed test data directory
		if err != nil {
			b.Fatal(err)
		}
		for l := range bytes.Lines(data) {
			lines = append(lines, bytes.TrimRight(l, "\r\n"))
		}
	}
	return lines
}

// criFile formats lines as CRI records, each split into partial records of
// at most chunk bytes of text.
func criFile(lines [][]byte, chunk int) []byte {
	var out []byte
	for _, l := range lines {
		for len(l) > chunk {
			out = append(out, ts1+" stdout P "...)
			out = append(out, l[:chunk]...)
			out = append(out, '\n')
			l = l[chunk:]
		}
		out = append(out, ts1+" stdout F "...)
		out = append(out, l...)
		out = append(out, '\n')
	}
	return out
}

// dockerFile formats lines as Docker records.
func dockerFile(b *testing.B, lines [][]byte) []byte {
	var out []byte
	for _, l := range lines {
		rec, err := json.Marshal(struct {
			Log    string `json:"log"`
			Stream string `json:"stream"`
			Time   string `json:"time"`
		}{string(l) + "\n", Stdout, ts1})
		if err != nil {
			b.Fatal(err)
		}
		out = append(append(out, rec...), '\n')
	}
	return out
}

// benchDecode decodes file in reads of readSize bytes per iteration.
func benchDecode(b *testing.B, f Format, file []byte) {
	d, err := NewDecoder(f, DefaultConfig(), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for p := file; len(p) > 0; p = p[min(len(p), readSize):] {
			d.Feed(p[:min(len(p), readSize)])
			for {
				_, err := d.Next()
				if errors.Is(err, ErrNeedMore) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		if n == 0 {
			b.Fatal("no lines")
		}
	}
}

func BenchmarkCRI(b *testing.B) {
	benchDecode(b, FormatCRI, criFile(loghubLines(b), 1<<30))
}

func BenchmarkCRIPartial(b *testing.B) {
	benchDecode(b, FormatCRI, criFile(loghubLines(b), 64))
}

func BenchmarkDocker(b *testing.B) {
	benchDecode(b, FormatDocker, dockerFile(b, loghubLines(b)))
}
