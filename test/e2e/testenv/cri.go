package testenv

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Stream names the output a CRI log record came from.
type Stream string

// The streams of a CRI log file.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Record is one line of a CRI-format container log file, as container runtimes
// write them: "<RFC3339Nano time> <stream> <F|P> <text>".
type Record struct {
	// Time is the record's timestamp; zero means the time of the write.
	Time time.Time
	// Stream is Stdout or Stderr; empty means Stdout.
	Stream Stream
	// Partial tags the record P: its text continues in the next record of the
	// same stream. Otherwise it is tagged F, ending a log line.
	Partial bool
	// Text is the record's content, without a newline.
	Text string
}

// CRIWriter appends records to a CRI-format log file, as a container runtime
// does, without fsync. It is safe for concurrent use: each call appends its
// records in one write, so records of concurrent calls do not interleave. Close
// must be called.
type CRIWriter struct {
	path string
	// now stamps records whose Time is zero.
	now func() time.Time

	mu sync.Mutex
	// f is the open file, nil once closed (guarded by mu).
	f *os.File
	// buf is reused to format records (guarded by mu).
	buf []byte
}

// NewCRIWriter opens path for appending, creating it if needed.
func NewCRIWriter(path string) (*CRIWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open CRI log: %w", err)
	}
	return &CRIWriter{path: path, now: time.Now, f: f}, nil
}

// Path returns the file's path, for SetLogs.
func (w *CRIWriter) Path() string { return w.path }

// Line appends complete stdout lines stamped with the current time, one record
// each.
func (w *CRIWriter) Line(texts ...string) error {
	recs := make([]Record, len(texts))
	for i, text := range texts {
		recs[i] = Record{Text: text}
	}
	return w.Write(recs...)
}

// Write appends records in order, in one write. A record whose text holds a
// newline, or whose stream is unknown, fails the call and nothing is written.
func (w *CRIWriter) Write(recs ...Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("write CRI log: writer closed")
	}
	buf := w.buf[:0]
	now := w.now()
	for _, r := range recs {
		if strings.ContainsAny(r.Text, "\r\n") {
			return fmt.Errorf("write CRI log %s: record text %q holds a newline", w.path, r.Text)
		}
		stream := r.Stream
		switch stream {
		case "":
			stream = Stdout
		case Stdout, Stderr:
		default:
			return fmt.Errorf("write CRI log %s: unknown stream %q", w.path, r.Stream)
		}
		t := r.Time
		if t.IsZero() {
			t = now
		}
		tag := byte('F')
		if r.Partial {
			tag = 'P'
		}
		buf = t.UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, ' ')
		buf = append(buf, stream...)
		buf = append(buf, ' ', tag, ' ')
		buf = append(buf, r.Text...)
		buf = append(buf, '\n')
	}
	w.buf = buf
	if _, err := w.f.Write(buf); err != nil {
		return fmt.Errorf("write CRI log %s: %w", w.path, err)
	}
	return nil
}

// Close closes the file. Later writes fail; calling Close again is harmless.
func (w *CRIWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("close CRI log %s: %w", w.path, err)
	}
	return nil
}
