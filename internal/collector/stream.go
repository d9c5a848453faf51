package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelog/kubelog/internal/ingest"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// Why a stream's connection was cut by the collector itself.
var (
	errIdle      = errors.New("no bytes within the idle timeout")
	errLifetime  = errors.New("maximum stream lifetime reached")
	errRefresh   = errors.New("refresh requested")
	errFinishing = errors.New("container instance ended")
)

// exitedQuiet and replacedQuiet are how long the follow of an ended container
// instance may stay without bytes before it is closed and read to its end
// instead: briefly for a container that exited and stays so (PodLogStream
// status reports it within 2 s), longer for one that another instance
// replaced, whose runtime is switching logs.
const (
	exitedQuiet   = 500 * time.Millisecond
	replacedQuiet = 2 * time.Second
)

// instance identifies one run of one container: what a stream reads.
type instance struct {
	key       string // checkpoint key: tenant/cluster/container-ID; empty for one-time reads
	namespace string
	pod       string
	podUID    string
	container string
	// restart is the instance's restart count; id its container ID, empty
	// when the runtime reports none (then key uses pod UID, name and restart).
	restart int32
	id      string
	// since, when positive, is the earliest node timestamp taken (Unix
	// nanoseconds), from a Pin.
	since int64
}

// instState is where an instance stands according to the pod informer.
type instState int

const (
	stateWaiting  instState = iota // not started yet
	stateRunning                   // the container's current, running instance
	stateExited                    // the current instance, terminated
	statePrevious                  // the last terminated instance before the current one
	stateGone                      // pod deleted, or the instance is older than the previous one
)

// stream reads one container instance's log into the sink.
type stream struct {
	c      *clusterCollector
	inst   instance
	labels logmodel.Labels
	pos    position
	// acked is the resume point of the last entries the sink acknowledged;
	// saved is the one last saved, at savedAt.
	acked, saved Resume
	savedAt      time.Time
	// refreshGen is the cluster's refresh generation when the current
	// connection opened.
	refreshGen int64
	// storedLines and storedBytes count the entries stored and their bytes.
	storedLines, storedBytes int64
	// holding is set while s holds a slot of the cluster's stream limit.
	holding bool
	// connected is set when a connection opened; the backoff starts over.
	connected bool
	// lastByte is the clock's time of the last byte read, in Unix nanoseconds.
	lastByte atomic.Int64
}

// run streams until the instance is read to its end, the stream is stopped
// (ctx) or the pod is gone. It reports whether the instance was read to its
// end. It holds a slot of the cluster's stream limit while it runs.
func (s *stream) run(ctx context.Context) (finished bool) {
	c := s.c
	if !s.acquire(ctx) {
		return false
	}
	defer s.release()

	if r, ok, err := c.m.checkpoints.Load(ctx, s.inst.key); err != nil {
		c.noteError(fmt.Errorf("load checkpoint: %w", err))
		return false
	} else if ok {
		s.pos.last, s.acked, s.saved = r, r, r
	}
	s.applySince()
	defer c.noteStream(s.inst.key, false, nil)
	defer s.saveCheckpoint(true)

	backoff := c.m.cfg.BackoffMin
	finishing := false
	for ctx.Err() == nil {
		state, pod := c.lookup(s.inst)
		if state == stateWaiting {
			if !c.sleep(ctx, c.m.cfg.BackoffMin*10) {
				return false
			}
			continue
		}
		if state == stateGone {
			// Deleted, or an instance older than the previous one: its log is
			// no longer served.
			if pod != nil {
				c.m.log.Warn("container restarted again before its earlier instance was read to the end; the rest of that instance's log is lost",
					"cluster", c.spec.Name, "namespace", s.inst.namespace, "pod", s.inst.pod, "container", s.inst.container, "restart", s.inst.restart)
			}
			return false
		}
		if s.labels == nil {
			s.labels = entryLabels(c.spec.Name, pod, s.inst.container)
		}
		// An ended instance is read once more without follow, from the current
		// or previous log, to its end.
		follow := state == stateRunning && !finishing
		opts := &corev1.PodLogOptions{
			Container:  s.inst.container,
			Follow:     follow,
			Timestamps: true,
			Previous:   state == statePrevious,
		}
		resumeFrom(opts, s.pos.last)
		s.pos.reopen()
		err := s.follow(ctx, opts)
		switch {
		case ctx.Err() != nil:
			return false
		case err == nil && !follow:
			return true
		case errors.Is(err, errFinishing):
			finishing = true
			continue
		case err == nil:
			// The follow ended: the container exited, or the connection was
			// closed cleanly; a running container is followed again.
			if now, _ := c.lookup(s.inst); now != stateRunning {
				finishing = true
				continue
			}
			err = errors.New("follow ended while the container runs")
		case errors.Is(err, errLifetime):
			c.noteReconnect(reasonLifetime)
			// Take turns with the streams waiting for a slot, if any.
			s.release()
			if !s.acquire(ctx) {
				return false
			}
			backoff = c.m.cfg.BackoffMin
			continue
		case errors.Is(err, errIdle):
			c.noteReconnect(reasonIdle)
			backoff = c.m.cfg.BackoffMin
			continue
		case errors.Is(err, errRefresh):
			c.noteReconnect(reasonRefresh)
			backoff = c.m.cfg.BackoffMin
			continue
		case apierrors.IsNotFound(err):
			if now, _ := c.lookup(s.inst); now == stateGone {
				return false
			}
		}
		c.noteError(fmt.Errorf("stream %s/%s %s: %w", s.inst.namespace, s.inst.pod, s.inst.container, err))
		c.noteStream(s.inst.key, false, err)
		c.noteReconnect(reasonError)
		if s.connected {
			backoff, s.connected = c.m.cfg.BackoffMin, false
		}
		if !c.sleep(ctx, jitter(backoff)) {
			return false
		}
		backoff = min(2*backoff, c.m.cfg.BackoffMax)
	}
	return false
}

// resumeFrom makes opts start from resume point r, once a line was taken:
// from SinceTime at its timestamp, which the API rounds down to the second,
// instead of SinceSeconds and TailLines.
func resumeFrom(opts *corev1.PodLogOptions, r Resume) {
	if r.Timestamp <= 0 {
		return
	}
	since := metav1.NewTime(time.Unix(0, r.Timestamp))
	opts.SinceTime, opts.SinceSeconds, opts.TailLines = &since, nil, nil
}

// acquire waits for a slot of the cluster's stream limit, reporting false when
// ctx ended first.
func (s *stream) acquire(ctx context.Context) bool {
	select {
	case s.c.slots <- struct{}{}:
		s.c.active.Add(1)
		s.holding = true
		return true
	case <-ctx.Done():
		return false
	}
}

// release gives the slot back, if s holds one.
func (s *stream) release() {
	if s.holding {
		<-s.c.slots
		s.c.active.Add(-1)
		s.holding = false
	}
}

// follow opens one connection with opts and takes its lines until it ends.
// It returns nil at EOF, the cause when the collector cut the connection, or
// the error that broke it. Entries taken are stored before it returns, unless
// ctx ends.
func (s *stream) follow(ctx context.Context, opts *corev1.PodLogOptions) error {
	c := s.c
	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.refreshGen = c.refreshGen.Load()
	body, err := c.logs.OpenLog(connCtx, s.inst.namespace, s.inst.pod, opts)
	if err != nil {
		return err
	}
	c.noteReachable()
	s.connected = true
	c.noteStream(s.inst.key, true, nil)
	now := c.m.clock.Now()
	s.lastByte.Store(now.UnixNano())
	opened := now

	lines := make(chan Line, 256)
	r := lineReader{
		parser:    lineParser{strip: c.m.cfg.StripPartialTimestamps, minPartial: c.m.cfg.PartialMinBytes, maxSpan: int64(c.m.cfg.PartialMaxSpan)},
		maxBytes:  c.m.cfg.MaxLineBytes,
		onBytes:   func() { s.lastByte.Store(c.m.clock.Now().UnixNano()) },
		onBadLine: func(err error) { c.noteBadLine(s.inst, err) },
	}
	var readErr error
	go func() {
		defer close(lines)
		readErr = r.read(body, func(l Line) error {
			select {
			case lines <- l:
				return nil
			case <-connCtx.Done():
				return connCtx.Err()
			}
		})
	}()
	// The reader ends once the connection is cut and closed; wait for it.
	defer func() {
		cancel(nil)
		body.Close()
		for range lines {
		}
	}()

	tick := c.m.clock.NewTicker(c.watchdogPeriod())
	defer tick.Stop()
	flushTimer := c.m.clock.NewTimer(c.m.cfg.BatchWait)
	flushTimer.Stop()
	var batch []logmodel.Entry
	var batchEnd Resume
	var endedAt time.Time // when the instance was first seen ended
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				if !s.flush(ctx, batch, batchEnd) {
					return ctx.Err()
				}
				if cause := context.Cause(connCtx); cause != nil && !errors.Is(cause, context.Canceled) {
					return cause
				}
				if errors.Is(readErr, io.EOF) {
					return nil
				}
				return readErr
			}
			ordinal, ok := s.pos.take(l.Timestamp)
			if !ok {
				continue
			}
			if len(batch) == 0 {
				flushTimer.Reset(c.m.cfg.BatchWait)
			}
			batch = append(batch, s.entry(l, ordinal))
			batchEnd = s.pos.last
			if len(batch) >= c.m.cfg.BatchLines {
				flushTimer.Stop()
				if !s.flush(ctx, batch, batchEnd) {
					return ctx.Err()
				}
				batch = nil
			}
		case <-flushTimer.C():
			if !s.flush(ctx, batch, batchEnd) {
				return ctx.Err()
			}
			batch = nil
		case <-tick.C():
			if !opts.Follow {
				continue
			}
			now := c.m.clock.Now()
			idle := now.Sub(time.Unix(0, s.lastByte.Load()))
			state, _ := c.lookup(s.inst)
			switch {
			case c.refreshGen.Load() != s.refreshGen:
				cancel(errRefresh)
			case now.Sub(opened) >= c.m.cfg.MaxStreamLifetime:
				cancel(errLifetime)
			case state == stateRunning:
				endedAt = time.Time{}
				if idle >= c.m.cfg.IdleTimeout {
					cancel(errIdle)
				}
			default:
				if endedAt.IsZero() {
					endedAt = now
				}
				// The instance ended: the stream stops once it has been quiet
				// for a moment, and is read once more without following, to
				// its end, so that nothing written before the end is lost.
				grace, quiet := c.m.cfg.DeletionGrace, replacedQuiet
				if state == stateExited {
					quiet = exitedQuiet
				}
				if now.Sub(endedAt) >= grace || idle >= min(grace, quiet) {
					cancel(errFinishing)
				}
			}
		}
	}
}

// entry builds the stored entry of a line taken with the given ordinal.
func (s *stream) entry(l Line, ordinal int) logmodel.Entry {
	md := make(logmodel.Labels, 0, 6)
	if s.inst.id != "" {
		md = append(md, logmodel.Label{Name: logmodel.MetaContainerID, Value: s.inst.id})
	}
	if lvl := ingest.DetectLevel(l.Text); lvl != "" {
		md = append(md, logmodel.Label{Name: logmodel.MetaLevel, Value: lvl})
	}
	if ordinal > 0 {
		md = append(md, logmodel.Label{Name: logmodel.MetaOrdinal, Value: strconv.Itoa(ordinal)})
	}
	md = append(md,
		logmodel.Label{Name: logmodel.MetaPodUID, Value: s.inst.podUID},
		logmodel.Label{Name: logmodel.MetaRestart, Value: strconv.Itoa(int(s.inst.restart))})
	if l.Truncated {
		md = append(md, logmodel.Label{Name: logmodel.MetaTruncated, Value: "true"})
	}
	return logmodel.Entry{Labels: s.labels, Timestamp: l.Timestamp, Line: l.Text, Metadata: md}
}

// flush stores batch, retrying with backoff until the sink acknowledges or ctx
// ends (then it tries once more, bounded), and then records end as
// acknowledged. It reports false when the batch could not be stored.
func (s *stream) flush(ctx context.Context, batch []logmodel.Entry, end Resume) bool {
	if len(batch) == 0 {
		return true
	}
	c := s.c
	backoff := c.m.cfg.BackoffMin
	for {
		appendCtx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			// Stopping: one last bounded attempt to keep what was read.
			appendCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		}
		_, err := c.m.sink.Append(appendCtx, c.spec.Tenant, batch)
		cancel()
		var verr *store.ValidationError
		if errors.As(err, &verr) {
			// The rest was stored; rejected entries would be rejected again.
			c.m.log.Warn("store rejected collected entries", "cluster", c.spec.Name,
				"namespace", s.inst.namespace, "pod", s.inst.pod, "container", s.inst.container,
				"rejected", verr.Rejected, "first", verr.First)
			err = nil
		}
		if err == nil {
			var n int64
			for i := range batch {
				n += int64(len(batch[i].Line))
			}
			c.lines.Add(int64(len(batch)))
			c.bytes.Add(n)
			s.storedLines += int64(len(batch))
			s.storedBytes += n
			s.acked = end
			s.saveCheckpoint(false)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.noteError(fmt.Errorf("store collected entries: %w", err))
		if !c.sleep(ctx, jitter(backoff)) {
			return false
		}
		backoff = min(2*backoff, c.m.cfg.BackoffMax)
	}
}

// saveCheckpoint saves the acknowledged resume point when it moved and
// CheckpointInterval passed since the last save, or always when final.
func (s *stream) saveCheckpoint(final bool) {
	c := s.c
	if s.inst.key == "" || s.acked == s.saved {
		return // a one-time read, or nothing new
	}
	now := c.m.clock.Now()
	if !final && now.Sub(s.savedAt) < c.m.cfg.CheckpointInterval {
		return
	}
	// Saved even while the stream is stopping, so a bounded context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.m.checkpoints.Save(ctx, s.inst.key, s.acked); err != nil {
		c.noteError(err)
		return
	}
	s.saved, s.savedAt = s.acked, now
}

// entryLabels returns the stream labels of a container's entries.
func entryLabels(cluster string, pod *corev1.Pod, container string) logmodel.Labels {
	kv := []string{"cluster", cluster, "namespace", pod.Namespace, "pod", pod.Name, "container", container}
	app := pod.Labels["app.kubernetes.io/name"]
	if app == "" {
		app = pod.Labels["app"]
	}
	if app != "" {
		kv = append(kv, "app", app)
	}
	if pod.Spec.NodeName != "" {
		kv = append(kv, "node", pod.Spec.NodeName)
	}
	return logmodel.FromPairs(kv...)
}

// jitter returns a random duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1) // #nosec G404 -- backoff jitter, not a secret
}
