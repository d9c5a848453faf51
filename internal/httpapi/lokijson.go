package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
)

// The query endpoints write their answers by hand into pooled buffers: the
// same bytes encoding/json writes for Loki's shapes (HTML escaping off, map
// keys sorted, a final newline), without reflection, maps or one
// allocation per value, and with a Content-Length.

// respPool holds response buffers.
var respPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledResp keeps a rare huge answer from pinning its buffer.
const maxPooledResp = 1 << 20

// writeLokiQueryResult writes the envelope of a query answer with the result
// v and its stats.
func writeLokiQueryResult(w http.ResponseWriter, v logql.Value, st logql.Stats, took time.Duration) {
	bp := respPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"status":"success","data":{"resultType":`...)
	var n int64
	b, n = appendLokiValue(b, v)
	if st.EntriesReturned == 0 {
		st.EntriesReturned = n
	}
	b = append(b, `,"stats":`...)
	b = appendLokiStats(b, st, took)
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // #nosec G705 -- an application/json body
	if cap(b) <= maxPooledResp {
		*bp = b
		respPool.Put(bp)
	}
}

// appendLokiValue appends the quoted resultType, a comma, "result": and
// the result, and returns the number of entries of a streams result.
func appendLokiValue(b []byte, v logql.Value) ([]byte, int64) {
	var n int64
	switch v := v.(type) {
	case logql.Streams:
		b = append(b, `"streams","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"stream":`...)
			b = appendLabelsJSON(b, s.Labels)
			b = append(b, `,"values":[`...)
			for j, e := range s.Entries {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `["`...)
				b = strconv.AppendInt(b, e.Timestamp, 10)
				b = append(b, `",`...)
				b = logmodel.AppendJSONString(b, e.Line)
				b = append(b, ']')
			}
			b = append(b, "]}"...)
			n += int64(len(s.Entries))
		}
	case logql.Matrix:
		b = append(b, `"matrix","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabelsJSON(b, s.Labels)
			b = append(b, `,"values":[`...)
			for j, p := range s.Points {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendLokiPoint(b, p.T, p.V)
			}
			b = append(b, "]}"...)
		}
	case logql.Vector:
		b = append(b, `"vector","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabelsJSON(b, s.Labels)
			b = append(b, `,"value":`...)
			b = appendLokiPoint(b, s.T, s.V)
			b = append(b, '}')
		}
	case logql.Scalar:
		return appendLokiPoint(append(b, `"scalar","result":`...), v.T, v.V), 0
	default:
		return append(b, `"","result":null`...), 0
	}
	return append(b, ']'), n
}

// appendLokiPoint appends [<float seconds>,"<value>"].
func appendLokiPoint(b []byte, t int64, v float64) []byte {
	b = append(b, '[')
	b = appendJSONFloat(b, lokiSeconds(t))
	b = append(b, ',', '"')
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	return append(b, '"', ']')
}

// appendJSONFloat appends f as encoding/json writes a float64, which it
// does itself outside the plain decimal range.
func appendJSONFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	j, err := json.Marshal(f)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// appendLabelsJSON appends ls as a JSON object with sorted keys, as
// encoding/json writes the map of Labels.Map.
func appendLabelsJSON(b []byte, ls logmodel.Labels) []byte {
	if !slices.IsSortedFunc(ls, func(x, y logmodel.Label) int { return strings.Compare(x.Name, y.Name) }) || hasRepeatedName(ls) {
		m := ls.Map()
		ls = ls[:0:0]
		for k, v := range m {
			ls = append(ls, logmodel.Label{Name: k, Value: v})
		}
		slices.SortFunc(ls, func(x, y logmodel.Label) int { return strings.Compare(x.Name, y.Name) })
	}
	return ls.AppendJSON(b)
}

// hasRepeatedName reports whether sorted ls holds a name twice.
func hasRepeatedName(ls logmodel.Labels) bool {
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return true
		}
	}
	return false
}

// appendLokiStats appends the subset of Loki's stats block that kubelog
// fills, in Loki's shape.
func appendLokiStats(b []byte, s logql.Stats, took time.Duration) []byte {
	sec := max(took.Seconds(), 1e-9)
	b = append(b, `{"summary":{"bytesProcessedPerSecond":`...)
	b = strconv.AppendInt(b, int64(float64(s.BytesProcessed)/sec), 10)
	b = append(b, `,"linesProcessedPerSecond":`...)
	b = strconv.AppendInt(b, int64(float64(s.EntriesProcessed)/sec), 10)
	b = append(b, `,"totalBytesProcessed":`...)
	b = strconv.AppendInt(b, s.BytesProcessed, 10)
	b = append(b, `,"totalLinesProcessed":`...)
	b = strconv.AppendInt(b, s.EntriesProcessed, 10)
	b = append(b, `,"execTime":`...)
	b = appendJSONFloat(b, took.Seconds())
	b = append(b, `,"queueTime":0,"subqueries":0,"totalEntriesReturned":`...)
	b = strconv.AppendInt(b, s.EntriesReturned, 10)
	b = append(b, `,"splits":0,"shards":0,"totalPostFilterLines":`...)
	b = strconv.AppendInt(b, s.EntriesProcessed, 10)
	b = append(b, `},"querier":{"store":`...)
	b = appendLokiStoreStats(b, s)
	b = append(b, `},"ingester":{"store":`...)
	b = appendLokiStoreStats(b, s)
	return append(b, `,"totalBatches":0,"totalChunksMatched":0,"totalLinesSent":0,"totalReached":0}}`...)
}

func appendLokiStoreStats(b []byte, s logql.Stats) []byte {
	b = append(b, `{"chunk":{"compressedBytes":0,"decompressedBytes":`...)
	b = strconv.AppendInt(b, s.BytesProcessed, 10)
	b = append(b, `,"decompressedLines":`...)
	b = strconv.AppendInt(b, s.EntriesProcessed, 10)
	b = append(b, `,"headChunkBytes":0,"headChunkLines":0,"postFilterLines":`...)
	b = strconv.AppendInt(b, s.EntriesProcessed, 10)
	return append(b, `,"totalDuplicates":0},"chunksDownloadTime":0,"queryReferencedStructuredMetadata":false,"totalChunksDownloaded":0,"totalChunksRef":0}`...)
}
