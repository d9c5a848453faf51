// Package jsonscan reads JSON in place over a byte slice, token by token,
// without building values or allocating on success. It serves the decoders
// that must be faster than encoding/json on hot paths: the Loki push body
// (ingest), log-level sniffing (ingest) and LogQL's json and unpack stages.
//
// Scanner reads strict JSON (RFC 8259) and reports malformed input as a
// *SyntaxError with the byte offset, or as ErrMalformed when quiet.
// Unescape decodes the escapes of a string's raw bytes, and Peek and
// SkipSpace serve callers with a reading of their own on top of the
// Scanner's position.
package jsonscan
