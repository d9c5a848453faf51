package logql

import (
	"github.com/kubelog/kubelog/internal/logmodel"
)

// ValueType names a query result type, as in the "resultType" of Loki's
// query API.
type ValueType string

// The result types.
const (
	ValueStreams ValueType = "streams"
	ValueMatrix  ValueType = "matrix"
	ValueVector  ValueType = "vector"
	ValueScalar  ValueType = "scalar"
)

// Value is a query result: Streams, Matrix, Vector or Scalar. Timestamps
// are Unix nanoseconds.
type Value interface {
	Type() ValueType
}

// Scalar is a single number at time T.
type Scalar struct {
	T int64
	V float64
}

// Type returns ValueScalar.
func (Scalar) Type() ValueType { return ValueScalar }

// Sample is one value of a series at time T.
type Sample struct {
	Labels logmodel.Labels
	T      int64
	V      float64
}

// Vector is the result of an instant metric query: one sample per series.
// It is ordered by labels, except when the query's outermost operation is
// sort or bottomk (ascending values) or sort_desc or topk (descending).
type Vector []Sample

// Type returns ValueVector.
func (Vector) Type() ValueType { return ValueVector }

// Point is a value at time T.
type Point struct {
	T int64
	V float64
}

// Series is a labelled series of points in time order.
type Series struct {
	Labels logmodel.Labels
	Points []Point
}

// Matrix is the result of a range metric query, ordered by labels.
type Matrix []Series

// Type returns ValueMatrix.
func (Matrix) Type() ValueType { return ValueMatrix }

// StreamEntry is one log line of a result stream.
type StreamEntry struct {
	Timestamp int64
	Line      string
	// Metadata is the entry's structured metadata as stored (the pipeline
	// also exposes it as labels).
	Metadata logmodel.Labels
	// Cursor is the entry's ingest position (zero when the source has
	// none).
	Cursor logmodel.Cursor
}

// Stream is the entries of a log query that share a final label set, in
// the query's direction.
type Stream struct {
	Labels  logmodel.Labels
	Entries []StreamEntry
}

// Streams is the result of a log query, ordered by labels.
type Streams []Stream

// Type returns ValueStreams.
func (Streams) Type() ValueType { return ValueStreams }
