package podlog

import "bytes"

// criHeaderMax is the length of the longest header of a CRI record, the
// part before its text.
const criHeaderMax = maxTimestampLen + len(" stdout F ")

// parseStream reads "stdout " or "stderr " at the start of b and returns the
// stream's index.
func parseStream(b []byte) (int, bool) {
	if len(b) < len("stdout ") || b[6] != ' ' {
		return 0, false
	}
	switch string(b[:6]) {
	case Stdout:
		return 0, true
	case Stderr:
		return 1, true
	}
	return 0, false
}

// decodeCRI decodes one CRI record, without its newline, and joins it. A
// record cut to the decoder's keep bytes needs no special case: the bytes
// it lost are past MaxLineSize bytes of text and would be cut off anyway.
func (d *Decoder) decodeCRI(rec []byte, start int64) (Line, bool, error) {
	sp := bytes.IndexByte(rec[:min(len(rec), maxTimestampLen+1)], ' ')
	if sp < 0 {
		return Line{}, false, ErrBadTimestamp
	}
	ts, ok := parseTimestamp(rec[:sp])
	if !ok {
		return Line{}, false, ErrBadTimestamp
	}
	rest := rec[sp+1:]
	stream, ok := parseStream(rest)
	if !ok {
		return Line{}, false, ErrBadStream
	}
	rest = rest[len("stdout "):]
	if len(rest) == 0 || (rest[0] != 'P' && rest[0] != 'F') || (len(rest) > 1 && rest[1] != ' ') {
		return Line{}, false, ErrBadTag
	}
	isPartial := rest[0] == 'P'
	text := rest[min(len(rest), 2):]
	line, done := d.join(stream, ts, text, isPartial, start)
	return line, done, nil
}
