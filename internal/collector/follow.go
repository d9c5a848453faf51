package collector

import (
	"context"
	"errors"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// FollowSpec is one container's log for Follow.
type FollowSpec struct {
	// Source opens the streams of pod Namespace/Pod.
	Source         LogSource
	Namespace, Pod string
	// Options opens the first stream; Follow sets Timestamps. Every stream
	// opened after one that broke starts from the last line taken instead,
	// with SinceTime, and without SinceSeconds and TailLines.
	Options corev1.PodLogOptions
	// MaxLineBytes bounds a line; the rest of a longer one is dropped and
	// the line flagged Truncated.
	MaxLineBytes int
	// BackoffMin and BackoffMax bound the jittered exponential backoff before
	// each stream opened again.
	BackoffMin, BackoffMax time.Duration
	// Gone, when set, is asked after a stream broke whether the container is
	// gone for good, in which case Follow returns.
	Gone func(ctx context.Context) bool
	// Clock times the backoff; nil means the real clock.
	Clock clock.Clock
}

// Follow reads a container's log into emit, each line once, until the log
// ends, ctx ends or Gone reports the container gone. A stream that breaks
// is opened again after a backoff, from the last line taken, and the lines
// taken already are skipped: lines before the last one's timestamp, and as
// many at it as were taken. A last line without a newline at the end of the
// log is taken too. An error from emit breaks the stream as a failed read
// does.
//
// It returns nil at the end of the log, ctx's error, or, when Gone reported
// the container gone, the error that broke the last stream.
func Follow(ctx context.Context, spec FollowSpec, emit func(Line) error) error {
	clk := spec.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	opts := spec.Options
	opts.Timestamps = true
	r := lineReader{maxBytes: spec.MaxLineBytes, keepUnterminated: true}
	var pos position
	take := func(l Line) error {
		if _, ok := pos.take(l.Timestamp); !ok {
			return nil
		}
		return emit(l)
	}
	backoff := spec.BackoffMin
	for {
		body, err := spec.Source.OpenLog(ctx, spec.Namespace, spec.Pod, &opts)
		if err == nil {
			pos.reopen()
			err = r.read(body, take)
			body.Close()
			if errors.Is(err, io.EOF) {
				return ctx.Err()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if spec.Gone != nil && spec.Gone(ctx) {
			return err
		}
		t := clk.NewTimer(jitter(backoff))
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, spec.BackoffMax)
		resumeFrom(&opts, pos.last)
	}
}
