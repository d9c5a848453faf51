package dataset

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
)

const corpus = "../../../shared/data/loghub"

func newGen(t testing.TB, lines int) *Generator {
	t.Helper()
	if _, err := os.Stat(corpus); err != nil {
		t.Skip("loghub corpus not found")
	}
	cfg := DefaultConfig(corpus)
	cfg.Lines = lines
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestNextIsDeterministicWithNeedles(t *testing.T) {
	a, b := newGen(t, 20000), newGen(t, 20000)
	var ea, eb []logmodel.Entry
	total, needles := 0, 0
	for {
		ea, eb = a.Next(ea, 777), b.Next(eb, 777)
		if len(ea) == 0 {
			break
		}
		if len(ea) != len(eb) {
			t.Fatalf("batch sizes %d and %d", len(ea), len(eb))
		}
		for i := range ea {
			if !bytes.Equal(ea[i].Line, eb[i].Line) || ea[i].Timestamp != eb[i].Timestamp || !ea[i].Labels.Equal(eb[i].Labels) {
				t.Fatalf("entry %d differs", total+i)
			}
			if bytes.Contains(ea[i].Line, []byte(Needle)) {
				needles++
			}
		}
		total += len(ea)
	}
	if total != 20000 || needles != NeedleCount {
		t.Fatalf("%d entries, %d needles", total, needles)
	}
}

func TestSpillReplaysExactly(t *testing.T) {
	a, b := newGen(t, 20000), newGen(t, 20000)
	var buf bytes.Buffer
	raw, err := a.Spill(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplay(&buf, a.StreamLabels())
	var want []logmodel.Entry
	var batch Batch
	var n, rawGot int64
	for {
		want = b.Next(want, 1000)
		err = r.Next(&batch, 1000)
		got := batch.Entries
		if len(got) != len(want) {
			t.Fatalf("after %d: replay gave %d, generator %d (%v)", n, len(got), len(want), err)
		}
		for i := range want {
			if !bytes.Equal(got[i].Line, want[i].Line) || got[i].Timestamp != want[i].Timestamp || !got[i].Labels.Equal(want[i].Labels) {
				t.Fatalf("entry %d differs", n+int64(i))
			}
			rawGot += int64(len(got[i].Line))
		}
		n += int64(len(got))
		if err != nil {
			break
		}
	}
	if !errors.Is(err, io.EOF) || n != 20000 || rawGot != raw {
		t.Fatalf("replayed %d entries, %d bytes of %d, ending with %v", n, rawGot, raw, err)
	}
}

// spilled returns a generator of n lines and its spill.
func spilled(tb testing.TB, n int) (*Generator, []byte) {
	tb.Helper()
	g := newGen(tb, n)
	var buf bytes.Buffer
	if _, err := g.Spill(&buf); err != nil {
		tb.Fatal(err)
	}
	return g, buf.Bytes()
}

func TestReplayRejectsTruncatedAndCorruptSpills(t *testing.T) {
	g, spill := spilled(t, 100)
	labels := g.StreamLabels()
	r := NewReplay(bytes.NewReader(spill[:len(spill)-3]), labels)
	var err error
	var batch Batch
	for err == nil {
		err = r.Next(&batch, 10)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated spill: %v", err)
	}
	if err := NewReplay(bytes.NewReader([]byte{0xff, 0x7f, 0, 1, 'x'}), labels).Next(&batch, 1); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("stream index out of range: %v", err)
	}
}

func FuzzReplay(f *testing.F) {
	f.Add([]byte{0, 2, 3, 'a', 'b', 'c'})
	f.Add([]byte{1, 0x80})
	f.Add([]byte{2, 1, 0xff, 0xff, 0xff, 0x7f})
	labels := []logmodel.Labels{logmodel.FromPairs("a", "1"), logmodel.FromPairs("a", "2"), logmodel.FromPairs("a", "3")}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReplay(bytes.NewReader(data), labels)
		var batch Batch
		var err error
		for err == nil {
			err = r.Next(&batch, 4)
			for _, e := range batch.Entries {
				if len(e.Line) > maxSpilledLine || len(e.Labels) != 1 {
					t.Fatalf("bad entry %+v", e)
				}
			}
		}
	})
}

func BenchmarkGeneratorNext(b *testing.B) {
	g := newGen(b, 5_000_000)
	var batch []logmodel.Entry
	b.ReportAllocs()
	var bytesDone int64
	for b.Loop() {
		if g.Remaining() == 0 {
			b.StopTimer()
			g = newGen(b, 5_000_000)
			b.StartTimer()
		}
		batch = g.Next(batch, 1000)
		for _, e := range batch {
			bytesDone += int64(len(e.Line))
		}
	}
	b.SetBytes(bytesDone / int64(b.N))
}

// BenchmarkReplayNext replays batches of 7,500 entries, as the bench's
// senders take them.
func BenchmarkReplayNext(b *testing.B) {
	g, spill := spilled(b, 200_000)
	r := NewReplay(bytes.NewReader(spill), g.StreamLabels())
	var batch Batch
	var bytesDone int64
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Next(&batch, 7500); errors.Is(err, io.EOF) {
			r = NewReplay(bytes.NewReader(spill), g.StreamLabels())
		}
		for _, e := range batch.Entries {
			bytesDone += int64(len(e.Line))
		}
	}
	b.SetBytes(bytesDone / int64(b.N))
}
