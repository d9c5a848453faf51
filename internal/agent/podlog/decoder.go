// Package podlog decodes the container log files that a node keeps under
// /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log into lines.
// It reads the kubelet's CRI format and Docker's json-file format, joins the
// partial records a runtime splits long lines into, and keeps the offsets a
// tailer needs to checkpoint and resume.
//
// A Decoder is fed bytes as they are read from a file; it buffers an
// incomplete trailing record itself, so every fed byte is taken and no byte
// has to be fed twice.
package podlog

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNeedMore is returned by Decoder.Next when the bytes fed so far hold no
// further complete line. It is the normal end of a batch: feed more bytes.
var ErrNeedMore = errors.New("podlog: need more input")

// The reasons a record is malformed, wrapped in a *RecordError.
var (
	ErrBadTimestamp = errors.New("bad timestamp")
	ErrBadStream    = errors.New("bad stream")
	ErrBadTag       = errors.New("bad tag")
	ErrBadJSON      = errors.New("bad JSON")
	ErrTooLong      = errors.New("record too long")
)

// RecordError reports one malformed record. The record is skipped; the
// decoder goes on with the next one.
type RecordError struct {
	// Offset is the file offset of the record's first byte.
	Offset int64
	// Err says what is wrong; errors.Is matches the Err* values above.
	Err error
}

// Error implements error.
func (e *RecordError) Error() string {
	return fmt.Sprintf("podlog: malformed record at offset %d: %v", e.Offset, e.Err)
}

// Unwrap returns Err.
func (e *RecordError) Unwrap() error { return e.Err }

// The stream names a Line carries.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// streamNames maps a stream index to its name.
var streamNames = [2]string{Stdout, Stderr}

// Line is one line a container wrote, joined from its records.
type Line struct {
	// Timestamp is the time of the line's first record, in Unix nanoseconds.
	Timestamp int64
	// Stream is Stdout or Stderr.
	Stream string
	// Text is the line without its newline, byte for byte as the file holds
	// it (after JSON unescaping for Docker). It aliases the decoder's buffers
	// or the bytes fed to it, and is valid only until the next call of Next or
	// Feed; copy it to keep it.
	Text []byte
	// Truncated says the line was longer than Config.MaxLineSize and Text
	// holds only its start.
	Truncated bool
	// Offset is the file offset of the line's first record.
	Offset int64
	// End is the file offset just after the line's last record.
	End int64
}

// partial is the state of one stream: the line being joined from partial
// records, if any.
type partial struct {
	// active says a partial record was read and the line's final record not yet.
	active    bool
	timestamp int64
	offset    int64
	truncated bool
	text      []byte
}

// Decoder turns the bytes of one log file into Lines. It is not safe for
// concurrent use.
type Decoder struct {
	format  Format
	maxLine int
	// keep is how many bytes of a record are kept. For CRI the bytes after it
	// would be cut off the line anyway; for Docker a longer record is
	// malformed.
	keep int

	// in is the part of the fed bytes not yet read.
	in []byte
	// carry holds the start of a record that began in an earlier Feed, up to
	// keep bytes; carryLen is the record's length so far, dropped bytes
	// included; carrying says such a record is pending.
	carry    []byte
	carryLen int64
	carrying bool
	// pos is the file offset just after the last complete record read.
	pos int64

	streams [2]partial
	// scratch holds the unescaped text of a Docker record.
	scratch []byte
}

// NewDecoder returns a decoder of a file in format f whose first fed byte is
// at file offset start (0 for a file read from its beginning, a checkpoint
// when resuming).
func NewDecoder(f Format, cfg Config, start int64) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Decoder{format: f, maxLine: cfg.MaxLineSize, pos: start}
	switch f {
	case FormatCRI:
		d.keep = criHeaderMax + cfg.MaxLineSize + 1
	case FormatDocker:
		d.keep = dockerRecordMax(cfg.MaxLineSize)
	default:
		return nil, fmt.Errorf("podlog: unknown format %v", f)
	}
	return d, nil
}

// Feed hands the decoder the next bytes of the file. The decoder reads p in
// place: the caller must not change p until Next has returned ErrNeedMore.
// Call Feed only after Next has returned ErrNeedMore: feeding while earlier
// input is unread would lose it, and panics.
func (d *Decoder) Feed(p []byte) {
	if len(d.in) > 0 {
		panic("BUG: podlog: Feed called before Next returned ErrNeedMore")
	}
	d.in = p
}

// Next returns the next complete line of the fed bytes. It returns
// ErrNeedMore when they hold no more, and a *RecordError for a malformed
// record; after either Next may be called again (after feeding more bytes
// for ErrNeedMore).
func (d *Decoder) Next() (Line, error) {
	for {
		rec, start, cut, ok := d.record()
		if !ok {
			return Line{}, ErrNeedMore
		}
		var (
			line Line
			done bool
			err  error
		)
		if d.format == FormatCRI {
			line, done, err = d.decodeCRI(rec, start)
		} else {
			line, done, err = d.decodeDocker(rec, start, cut)
		}
		if err != nil {
			return Line{}, &RecordError{Offset: start, Err: err}
		}
		if done {
			return line, nil
		}
	}
}

// Consumed returns the file offset just after the last complete record the
// decoder has read. Bytes after it were fed but belong to a record whose end
// has not been fed yet; the decoder holds them.
func (d *Decoder) Consumed() int64 { return d.pos }

// Resume returns the offset to restart the file at so that no line is lost:
// Consumed, or the first record of a line still being joined if there is
// one. A caller that has handled every line returned so far checkpoints
// Resume. Restarted before Consumed, a decoder returns again the lines of the
// other stream that ended after that point; a caller drops those whose End is
// not past the last End it handled.
func (d *Decoder) Resume() int64 {
	r := d.pos
	for i := range d.streams {
		if s := &d.streams[i]; s.active && s.offset < r {
			r = s.offset
		}
	}
	return r
}

// record returns the next complete record of the input, without its
// newline, and its file offset. A record longer than keep bytes is cut to
// keep bytes and reported as cut; ok is false when no complete record is left.
func (d *Decoder) record() (rec []byte, start int64, cut, ok bool) {
	i := bytes.IndexByte(d.in, '\n')
	if d.carrying {
		if i < 0 {
			d.addCarry(d.in)
			d.in = nil
			return nil, 0, false, false
		}
		d.addCarry(d.in[:i+1])
		d.in = d.in[i+1:]
		d.carrying = false
		d.pos += d.carryLen
		return d.trim(d.carry, d.carryLen)
	}
	if i < 0 {
		if len(d.in) > 0 {
			d.carrying = true
			d.carry = d.carry[:0]
			d.carryLen = 0
			d.addCarry(d.in)
		}
		d.in = nil
		return nil, 0, false, false
	}
	rec = d.in[:i+1]
	d.in = d.in[i+1:]
	d.pos += int64(i + 1)
	return d.trim(rec, int64(i+1))
}

// trim returns the kept bytes of a complete record of n bytes, kept holding
// its first min(n, keep) bytes.
func (d *Decoder) trim(kept []byte, n int64) ([]byte, int64, bool, bool) {
	start := d.pos - n
	if n > int64(d.keep) {
		return kept[:d.keep], start, true, true
	}
	return kept[:n-1], start, false, true
}

// addCarry appends the bytes of a pending record, keeping up to keep bytes.
func (d *Decoder) addCarry(b []byte) {
	d.carryLen += int64(len(b))
	if room := d.keep - len(d.carry); room > 0 {
		d.carry = append(d.carry, b[:min(room, len(b))]...)
	}
}

// join adds one record's text to its stream and returns the line the record
// ends, if it ends one.
func (d *Decoder) join(stream int, ts int64, text []byte, isPartial bool, start int64) (Line, bool) {
	s := &d.streams[stream]
	if !s.active {
		if !isPartial {
			line := Line{Timestamp: ts, Stream: streamNames[stream], Text: text, Offset: start, End: d.pos}
			if len(text) > d.maxLine {
				line.Text, line.Truncated = text[:d.maxLine], true
			}
			return line, true
		}
		*s = partial{active: true, timestamp: ts, offset: start, text: s.text[:0]}
	}
	if room := d.maxLine - len(s.text); len(text) > room {
		text = text[:room]
		s.truncated = true
	}
	s.text = append(s.text, text...)
	if isPartial {
		return Line{}, false
	}
	s.active = false
	return Line{Timestamp: s.timestamp, Stream: streamNames[stream], Text: s.text, Truncated: s.truncated, Offset: s.offset, End: d.pos}, true
}
