package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
)

// The reference for writeLokiQueryResult: Loki's shapes as Go types, written
// by encoding/json.

type refLokiData struct {
	ResultType string       `json:"resultType"`
	Result     any          `json:"result"`
	Stats      refLokiStats `json:"stats"`
}

type refLokiStats struct {
	Summary  refLokiSummary `json:"summary"`
	Querier  map[string]any `json:"querier"`
	Ingester map[string]any `json:"ingester"`
}

type refLokiSummary struct {
	BytesProcessedPerSecond int64   `json:"bytesProcessedPerSecond"`
	LinesProcessedPerSecond int64   `json:"linesProcessedPerSecond"`
	TotalBytesProcessed     int64   `json:"totalBytesProcessed"`
	TotalLinesProcessed     int64   `json:"totalLinesProcessed"`
	ExecTime                float64 `json:"execTime"`
	QueueTime               float64 `json:"queueTime"`
	Subqueries              int     `json:"subqueries"`
	TotalEntriesReturned    int64   `json:"totalEntriesReturned"`
	Splits                  int     `json:"splits"`
	Shards                  int     `json:"shards"`
	TotalPostFilterLines    int64   `json:"totalPostFilterLines"`
}

func refLokiQueryResult(v logql.Value, s logql.Stats, took time.Duration) []byte {
	rt, result, n := renderValue(v)
	if s.EntriesReturned == 0 {
		s.EntriesReturned = n
	}
	sec := max(took.Seconds(), 1e-9)
	store := map[string]any{"totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0, "queryReferencedStructuredMetadata": false,
		"chunk": map[string]any{"headChunkBytes": 0, "headChunkLines": 0, "decompressedBytes": s.BytesProcessed, "decompressedLines": s.EntriesProcessed,
			"compressedBytes": 0, "totalDuplicates": 0, "postFilterLines": s.EntriesProcessed}}
	st := refLokiStats{
		Summary: refLokiSummary{
			BytesProcessedPerSecond: int64(float64(s.BytesProcessed) / sec), LinesProcessedPerSecond: int64(float64(s.EntriesProcessed) / sec),
			TotalBytesProcessed: s.BytesProcessed, TotalLinesProcessed: s.EntriesProcessed, ExecTime: took.Seconds(),
			TotalEntriesReturned: s.EntriesReturned, TotalPostFilterLines: s.EntriesProcessed,
		},
		Querier:  map[string]any{"store": store},
		Ingester: map[string]any{"totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0, "store": store},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(lokiEnvelope{Status: "success", Data: refLokiData{ResultType: rt, Result: result, Stats: st}}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// TestLokiQueryResultJSON checks that the hand-written query answers are
// byte for byte what encoding/json writes for Loki's shapes.
func TestLokiQueryResultJSON(t *testing.T) {
	ls := logmodel.FromPairs("app", "api", "namespace", `we"ird\ <&> é`)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC).UnixNano()
	for _, c := range []struct {
		name string
		v    logql.Value
	}{
		{"streams", logql.Streams{
			{Labels: ls, Entries: []logql.StreamEntry{{Timestamp: t0, Line: "plain"}, {Timestamp: t0 + 1, Line: "tab\t nl\n quote\" bs\\ ctl\x01 \u2028 bad\xff <html>&"}}},
			{Labels: logmodel.FromPairs("app", "b"), Entries: []logql.StreamEntry{}},
			{Labels: nil, Entries: []logql.StreamEntry{{Timestamp: 0, Line: ""}}},
		}},
		{"no streams", logql.Streams{}},
		{"nil streams", logql.Streams(nil)},
		{"matrix", logql.Matrix{
			{Labels: ls, Points: []logql.Point{{T: t0, V: 1}, {T: t0 + int64(time.Minute), V: 0.1 + 0.2}, {T: 1, V: 1e300}, {T: -5e9, V: math.Inf(1)}}},
			{Labels: logmodel.Labels{}, Points: []logql.Point{{T: 0, V: math.NaN()}, {T: 999, V: -3}}},
		}},
		{"unsorted labels", logql.Matrix{{Labels: logmodel.Labels{{Name: "z", Value: "1"}, {Name: "a", Value: "2"}, {Name: "z", Value: "3"}}, Points: []logql.Point{{T: t0, V: 2}}}}},
		{"vector", logql.Vector{{Labels: ls, T: t0, V: 42}, {T: t0, V: 1.5e-7}}},
		{"scalar", logql.Scalar{T: t0, V: 7}},
	} {
		for _, st := range []logql.Stats{{}, {EntriesProcessed: 12345, BytesProcessed: 987654321, EntriesReturned: 100}} {
			for _, took := range []time.Duration{0, 1234567 * time.Nanosecond, 3 * time.Second, 1} {
				rec := httptest.NewRecorder()
				writeLokiQueryResult(rec, c.v, st, took)
				want := refLokiQueryResult(c.v, st, took)
				if got := rec.Body.Bytes(); !bytes.Equal(got, want) {
					t.Fatalf("%s, %+v, %s:\ngot  %s\nwant %s", c.name, st, took, got, want)
				}
				if h := rec.Header(); h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != strconv.Itoa(len(want)) || rec.Code != 200 {
					t.Fatalf("%s: %d %v", c.name, rec.Code, h)
				}
			}
		}
	}
}

// BenchmarkLokiQueryResultJSON writes a q1-like answer: 100 lines of one
// stream.
func BenchmarkLokiQueryResultJSON(b *testing.B) {
	s := logql.Stream{Labels: logmodel.FromPairs("cluster", "bench", "container", "c1", "namespace", "ns-3", "pod", "app-3-7")}
	size := 0
	for i := range 100 {
		line := "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating " + strconv.Itoa(i)
		s.Entries = append(s.Entries, logql.StreamEntry{Timestamp: int64(1e18) + int64(i), Line: line})
		size += len(line)
	}
	v := logql.Streams{s}
	b.SetBytes(int64(size))
	w := discardWriter{http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		writeLokiQueryResult(w, v, logql.Stats{EntriesProcessed: 100, BytesProcessed: int64(size)}, time.Millisecond)
	}
}

// discardWriter is a ResponseWriter that drops what it is given.
type discardWriter struct{ h map[string][]string }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
