package bench

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/kubelog/kubelog/internal/dataset"
	pushing "github.com/kubelog/kubelog/internal/ingest"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// batch returns n entries of the standard dataset.
func batch(t testing.TB, n int) []logmodel.Entry {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	d := dataset.DefaultConfig(filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "loghub"))
	d.Lines = n
	g, err := dataset.New(d)
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	return g.Next(nil, n)
}

// TestPushEncoder decodes the bodies the benchmark pushes with the server's
// decoders: every entry arrives once, in its stream, in order.
func TestPushEncoder(t *testing.T) {
	es := batch(t, 2000)
	es[3].Line = []byte("quote \" backslash \\ tab \t newline \n bad utf-8 \xff é")
	var enc pushEncoder
	for _, tc := range []struct {
		ctype string
		body  []byte
	}{
		{pushing.ContentTypeJSON, enc.json(nil, es)},
		{pushing.ContentTypeProtobuf, enc.protobuf(nil, es)},
	} {
		streams, err := pushing.DecodePush(tc.ctype, "", bytes.NewReader(tc.body), 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.ctype, err)
		}
		if len(streams) != 400 {
			t.Fatalf("%s: %d streams; want 400, one per label set", tc.ctype, len(streams))
		}
		entries := map[string]int{}
		for _, e := range es {
			line := e.Line
			if i := bytes.IndexByte(line, 0xff); i >= 0 && tc.ctype == pushing.ContentTypeJSON {
				line = slices.Concat(line[:i], []byte("\uFFFD"), line[i+1:]) // JSON strings are UTF-8
			}
			entries[fmt.Sprint(e.Labels, e.Timestamp, string(line))]++
		}
		n := 0
		for _, s := range streams {
			for _, e := range s.Entries {
				k := fmt.Sprint(s.Labels, e.Timestamp, string(e.Line))
				if entries[k] == 0 {
					t.Fatalf("%s: unexpected entry %s", tc.ctype, k)
				}
				entries[k]--
				n++
			}
		}
		if n != len(es) {
			t.Fatalf("%s: %d entries; want %d", tc.ctype, n, len(es))
		}
	}
}

func BenchmarkPushEncoder(b *testing.B) {
	es := batch(b, 2000)
	var raw int64
	for _, e := range es {
		raw += int64(len(e.Line))
	}
	var enc pushEncoder
	for _, f := range []struct {
		name string
		fn   func([]byte, []logmodel.Entry) []byte
	}{{"json", enc.json}, {"protobuf", enc.protobuf}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(raw)
			var body []byte
			for b.Loop() {
				body = f.fn(body, es)
			}
		})
	}
}
