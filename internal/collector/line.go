package collector

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"
)

// errNoTimestamp is returned for a log line that does not start with the
// node's timestamp, which a stream opened with timestamps=true always sends.
var errNoTimestamp = errors.New("log line does not start with an RFC 3339 timestamp")

// lineParser turns the lines of a logs API stream opened with timestamps=true
// into node timestamps and the text the container wrote. Its zero value strips
// no inner timestamps; set its fields from Config.
type lineParser struct {
	// strip removes the timestamps of partial records inside lines.
	strip bool
	// minPartial is the least number of bytes a partial record holds before an
	// inner timestamp is taken as the start of the next record.
	minPartial int
	// maxSpan bounds, in nanoseconds, how much later than the previous record's
	// an inner timestamp may be.
	maxSpan int64
}

// parse splits raw, one line without its newline, into the node timestamp in
// Unix nanoseconds and the container's text, with the timestamps of partial
// records removed. The text may alias raw.
func (p lineParser) parse(raw []byte) (int64, []byte, error) {
	end, ok := scanTimestamp(raw, 0)
	if !ok || end >= len(raw) || raw[end] != ' ' {
		return 0, nil, errNoTimestamp
	}
	ts, err := time.Parse(time.RFC3339Nano, string(raw[:end]))
	if err != nil {
		return 0, nil, errNoTimestamp
	}
	text := raw[end+1:]
	if p.strip {
		text = p.stripInner(text, ts.UnixNano(), zoneSuffix(raw[:end]))
	}
	return ts.UnixNano(), text, nil
}

// stripInner removes the timestamps (and the space after each) that the
// kubelet writes in front of each partial record after the first; first is the
// line's timestamp and zone its zone suffix ("Z" or "+hh:mm").
func (p lineParser) stripInner(text []byte, first int64, zone []byte) []byte {
	var out []byte
	seg, prev := 0, first
	for j := seg + p.minPartial; j+20 <= len(text); j++ {
		if text[j] < '0' || text[j] > '9' || text[j+4] != '-' {
			continue
		}
		end, ok := scanTimestamp(text, j)
		if !ok || end >= len(text) || text[end] != ' ' || !bytes.Equal(zoneSuffix(text[j:end]), zone) {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(text[j:end]))
		if err != nil || t.UnixNano() < prev || t.UnixNano()-prev > p.maxSpan {
			continue
		}
		out = append(out, text[seg:j]...)
		seg, prev = end+1, t.UnixNano()
		j = seg + p.minPartial - 1
	}
	if out == nil {
		return text
	}
	return append(out, text[seg:]...)
}

// scanTimestamp reports whether b[i:] starts with an RFC 3339 timestamp
// ("2006-01-02T15:04:05", optional fraction, "Z" or "+hh:mm"/"-hh:mm") and
// returns the index just after it. It checks the shape only.
func scanTimestamp(b []byte, i int) (int, bool) {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(b)-i < len(shape)+1 {
		return 0, false
	}
	for k := 0; k < len(shape); k++ {
		c := b[i+k]
		if shape[k] == 'd' {
			if c < '0' || c > '9' {
				return 0, false
			}
		} else if c != shape[k] {
			return 0, false
		}
	}
	j := i + len(shape)
	if b[j] == '.' {
		j++
		start := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == start || j-start > 9 {
			return 0, false
		}
	}
	if j >= len(b) {
		return 0, false
	}
	switch b[j] {
	case 'Z':
		return j + 1, true
	case '+', '-':
		if len(b)-j < 6 || b[j+3] != ':' {
			return 0, false
		}
		for _, k := range []int{1, 2, 4, 5} {
			if b[j+k] < '0' || b[j+k] > '9' {
				return 0, false
			}
		}
		return j + 6, true
	}
	return 0, false
}

// zoneSuffix returns the zone designator of a timestamp that scanTimestamp
// accepted: "Z" or the last six bytes.
func zoneSuffix(ts []byte) []byte {
	if ts[len(ts)-1] == 'Z' {
		return ts[len(ts)-1:]
	}
	return ts[len(ts)-6:]
}

// position tracks how far a container instance's log has been taken and
// decides, for each line read, whether it is new.
type position struct {
	// last is the resume point: the timestamp of the last line taken and the
	// number of lines with that timestamp taken.
	last Resume
	// resuming is set when a stream is (re)opened from last: lines up to last
	// are skipped until one after it arrives.
	resuming bool
	// seen counts the lines at last.Timestamp read while resuming.
	seen int
}

// reopen prepares p for a stream that starts again from SinceTime at
// p.last.Timestamp rounded down to the second.
func (p *position) reopen() {
	p.resuming, p.seen = true, 0
}

// take reports whether the line at ts is new and, if it is, records it and
// returns its ordinal: its index among the lines taken at ts.
func (p *position) take(ts int64) (ordinal int, ok bool) {
	if p.resuming {
		switch {
		case ts < p.last.Timestamp:
			return 0, false
		case ts == p.last.Timestamp && p.seen < p.last.Count:
			p.seen++
			return 0, false
		}
		p.resuming = false
	}
	if ts == p.last.Timestamp && p.last.Count > 0 {
		p.last.Count++
		return p.last.Count - 1, true
	}
	p.last = Resume{Timestamp: ts, Count: 1}
	return 0, true
}

// Line is one line of a log stream opened with timestamps=true.
type Line struct {
	// Timestamp is the node's timestamp in Unix nanoseconds, and Stamp its
	// text as the API sent it.
	Timestamp int64
	Stamp     []byte
	// Text is what the container wrote, without the newline.
	Text []byte
	// Truncated is set when the line was longer than the limit and its end
	// was dropped.
	Truncated bool
}

// lineReader reads the lines of log streams opened with timestamps=true.
type lineReader struct {
	parser lineParser
	// maxBytes bounds a line; the rest of a longer one is dropped.
	maxBytes int
	// keepUnterminated also takes a last line without a newline at the end
	// of a stream. Without it that line is dropped, to be read again whole
	// from a reopened stream.
	keepUnterminated bool
	// onBytes, when set, is called after each read that returned bytes.
	onBytes func()
	// onBadLine, when set, is told of each line that does not start with a
	// timestamp; the line is dropped.
	onBadLine func(error)
}

// read reads lines from body until it fails or ends, passing each to emit,
// and returns the error that ended it: io.EOF at the end, or emit's error.
// The slices of the lines passed are emit's to keep.
func (r *lineReader) read(body io.Reader, emit func(Line) error) error {
	br := bufio.NewReaderSize(body, 64<<10)
	var long []byte
	truncated := false
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 && r.onBytes != nil {
			r.onBytes()
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			truncated = truncated || len(long)+len(frag) > r.maxBytes
			if room := r.maxBytes - len(long); room > 0 {
				long = append(long, frag[:min(room, len(frag))]...)
			}
			continue
		}
		raw := frag
		switch {
		case err == nil:
			raw = frag[:len(frag)-1]
		case !r.keepUnterminated || !errors.Is(err, io.EOF) || len(frag) == 0 && long == nil:
			return err
		}
		if long != nil {
			truncated = truncated || len(long)+len(raw) > r.maxBytes
			if room := r.maxBytes - len(long); room > 0 {
				long = append(long, raw[:min(room, len(raw))]...)
			}
			raw = long
		}
		// raw may alias the reader's buffer: parse a copy.
		own := append(make([]byte, 0, len(raw)), raw...)
		ts, text, perr := r.parser.parse(own)
		if perr != nil {
			if r.onBadLine != nil {
				r.onBadLine(perr)
			}
		} else if eerr := emit(Line{Timestamp: ts, Stamp: own[:bytes.IndexByte(own, ' ')], Text: text, Truncated: truncated}); eerr != nil {
			return eerr
		}
		if err != nil {
			return err
		}
		long, truncated = nil, false
	}
}
