// Package ingest turns what pushers send into kubelog entries: it decodes
// Loki push requests (JSON, optionally gzipped, and snappy-compressed
// protobuf), parses Prometheus-style label strings, and detects the level of
// a log line from JSON, logfmt and common text forms.
//
// Everything here is pure: no I/O beyond the request body, no clock, no
// global state other than pools. Decoders return descriptive errors wrapping
// ErrInvalidPayload, ErrTooLarge, ErrUnsupportedContentType or
// ErrUnsupportedEncoding so that HTTP handlers can map them to status codes
// with errors.Is.
package ingest
