package archive

import (
	"context"
	"errors"
	"time"
)

// ErrNothingToArchive says a job's range is empty.
var ErrNothingToArchive = errors.New("nothing to archive: the range is empty")

func floorHour(ns int64) int64 {
	h := int64(time.Hour)
	if ns < 0 {
		return (ns - h + 1) / h * h
	}
	return ns / h * h
}

// StartJob starts a job of a policy of tenant over [start, end); zero start
// means where the policy's last job ended (or the oldest local entry), zero
// end means the last whole hour older than the policy's older_than.
func (m *Manager) StartJob(ctx context.Context, tenant, policyID string, start, end int64) (Job, error) {
	p, err := m.policies.Get(ctx, tenant, policyID)
	if err != nil {
		return Job{}, err
	}
	age, err := p.Age()
	if err != nil {
		return Job{}, err
	}
	now := m.cfg.Clock.Now()
	if err := m.policies.markRun(ctx, p.ID, now); err != nil {
		return Job{}, err
	}
	if end == 0 {
		end = floorHour(now.Add(-age).UnixNano())
	}
	if start == 0 {
		start = p.ArchivedUntil.UnixNano()
		if p.ArchivedUntil.IsZero() {
			if s := m.st.Stats(p.Tenant); !s.OldestTime.IsZero() {
				start = floorHour(s.OldestTime.UnixNano())
			}
		}
	}
	if start >= end {
		return Job{}, ErrNothingToArchive
	}
	j := Job{
		ID: newID("aj_"), Tenant: p.Tenant, PolicyID: p.ID, Status: StatusPending,
		StartTime: time.Unix(0, start).UTC(), EndTime: time.Unix(0, end).UTC(), CreatedAt: now.UTC(),
		snapshotSeq: m.st.LastCursor(p.Tenant).Seq,
	}
	if err := m.jobs.create(ctx, &j); err != nil {
		return Job{}, err
	}
	m.launch(j)
	return j, nil
}

// CancelJob cancels a pending or running job of tenant.
func (m *Manager) CancelJob(ctx context.Context, tenant, id string) (Job, error) {
	j, err := m.jobs.Get(ctx, tenant, id)
	if err != nil {
		return j, err
	}
	m.mu.Lock()
	cancel := m.running[id]
	m.mu.Unlock()
	if cancel == nil {
		if j.Status == StatusPending || j.Status == StatusRunning {
			// Not under way in this process: mark it so no restart resumes it.
			j.Status = StatusCancelled
			t := m.cfg.Clock.Now().UTC()
			j.FinishedAt = &t
			return j, m.jobs.save(ctx, &j)
		}
		return j, nil
	}
	cancel()
	for {
		if j, err = m.jobs.Get(ctx, tenant, id); err != nil || (j.Status != StatusPending && j.Status != StatusRunning) {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (m *Manager) launch(j Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.running[j.ID] = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		m.execute(ctx, j)
		m.mu.Lock()
		delete(m.running, j.ID)
		m.mu.Unlock()
	}()
}

// execute runs a job to its end and records the outcome. A job stopped by
// Close stays running in the database, to resume at the next Start.
func (m *Manager) execute(ctx context.Context, j Job) {
	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-ctx.Done():
		m.finish(&j, ctx.Err())
		return
	}
	now := m.cfg.Clock.Now().UTC()
	j.Status, j.StartedAt = StatusRunning, &now
	if err := m.jobs.save(ctx, &j); err != nil {
		m.finish(&j, err)
		return
	}
	m.finish(&j, m.run(ctx, &j))
}

func (m *Manager) finish(j *Job, err error) {
	m.mu.Lock()
	closing := m.closed
	m.mu.Unlock()
	switch {
	case err == nil:
		j.Status = StatusSucceeded
		j.Progress.Percent = 100
	case closing && errors.Is(err, context.Canceled):
		m.log.Info("archive job interrupted by shutdown; it resumes at the next start", "job", j.ID)
		return
	case errors.Is(err, context.Canceled):
		j.Status = StatusCancelled
	default:
		j.Status, j.Error = StatusFailed, err.Error()
		m.log.Warn("archive job failed", "job", j.ID, "policy", j.PolicyID, "err", err)
	}
	t := m.cfg.Clock.Now().UTC()
	j.FinishedAt = &t
	m.metrics.jobs.WithLabelValues(j.Tenant, j.Status).Inc()
	if j.StartedAt != nil {
		m.metrics.duration.Observe(t.Sub(*j.StartedAt).Seconds())
	}
	if err := m.jobs.save(context.Background(), j); err != nil {
		m.log.Error("cannot record archive job outcome", "job", j.ID, "err", err)
	}
}
