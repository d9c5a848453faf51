package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// run archives the job's range hour by hour. Objects already in the index
// for this job are skipped, so that a resumed job writes each object once.
func (m *Manager) run(ctx context.Context, j *Job) error {
	p, err := m.policies.Get(ctx, "", j.PolicyID)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	matchers, err := p.Matchers()
	if err != nil {
		return err
	}
	bs, err := m.cfg.Blobs(p.Destination)
	if err != nil {
		return err
	}
	done, err := m.index.done(ctx, j.ID)
	if err != nil {
		return err
	}
	start, end := j.StartTime.UnixNano(), j.EndTime.UnixNano()
	stats, _, err := m.st.StreamStats(ctx, j.Tenant, matchers, start, end)
	if err != nil {
		return err
	}
	var prog progressCounter
	for _, s := range stats {
		prog.total += int64(s.Entries)
	}
	if err := m.loadProgress(ctx, j, &prog); err != nil {
		return err
	}
	prog.fill(&j.Progress)
	if err := m.jobs.save(ctx, j); err != nil {
		return err
	}
	snap := j.snapshotSeq
	lastSave := time.Now()
	// Encoders, and the objects queued or uploading.
	bufs := newJobBuffers(m.st.Workers(), 2*m.cfg.Uploads)
	col := newCollector(m.st)
	for h := floorHour(start); h < end; h += int64(time.Hour) {
		segStart, segEnd := max(h, start), min(h+int64(time.Hour), end)
		hourStats, _, err := m.st.StreamStats(ctx, j.Tenant, matchers, segStart, segEnd)
		if err != nil {
			return err
		}
		todo := hourStats[:0]
		for _, s := range hourStats {
			if s.Entries > 0 && !done[doneKey(streamHash(s.Stream.Labels), h)] {
				todo = append(todo, s)
			}
		}
		slices.SortFunc(todo, func(a, b store.StreamStat) int { return cmp.Compare(a.Stream.ID, b.Stream.ID) })
		for len(todo) > 0 {
			n, size := 0, uint64(0)
			for n < len(todo) && (n == 0 || size+todo[n].Bytes <= collectBatchBytes) {
				size += todo[n].Bytes
				n++
			}
			groups, err := col.collect(ctx, j.Tenant, matchers, segStart, segEnd, snap, todo[:n])
			if err != nil {
				return err
			}
			if err := m.writeAll(ctx, j, p, bs, h, groups, bufs, &prog); err != nil {
				return err
			}
			todo = todo[n:]
		}
		if len(hourStats) > 0 || time.Since(lastSave) > 5*time.Second {
			prog.fill(&j.Progress)
			if err := m.jobs.save(ctx, j); err != nil {
				return err
			}
			lastSave = time.Now()
		}
	}
	prog.fill(&j.Progress)
	objs, _, err := m.index.List(ctx, Filter{Tenant: j.Tenant, JobID: j.ID})
	if err != nil {
		return err
	}
	if j.ManifestKey, err = m.writeManifest(ctx, bs, p, j, objs); err != nil {
		return err
	}
	if p.DeleteAfterArchive {
		if err := m.deleteArchived(ctx, j, bs, objs, matchers, snap); err != nil {
			return err
		}
	}
	if start <= p.ArchivedUntil.UnixNano() || p.ArchivedUntil.IsZero() {
		if err := m.policies.advance(ctx, p.ID, end); err != nil {
			return err
		}
	}
	return nil
}

// progressCounter accumulates a job's progress across upload goroutines.
type progressCounter struct {
	mu                       sync.Mutex // guards the fields below
	objects, lines, raw, cmp int64
	total                    int64
}

func (c *progressCounter) add(lines, raw, cmp int64) {
	c.mu.Lock()
	c.objects++
	c.lines += lines
	c.raw += raw
	c.cmp += cmp
	c.mu.Unlock()
}

func (c *progressCounter) fill(p *Progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*p = Progress{Objects: c.objects, Lines: c.lines, RawBytes: c.raw, CompressedBytes: c.cmp, TotalLines: c.total}
	if c.total > 0 {
		p.Percent = min(100, float64(c.lines)*100/float64(c.total))
	}
}

// loadProgress starts the counter from what the index holds for the job.
func (m *Manager) loadProgress(ctx context.Context, j *Job, c *progressCounter) error {
	row := m.index.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(lines),0), COALESCE(SUM(raw_bytes),0), COALESCE(SUM(size),0) FROM archive_objects WHERE job_id = ?`, j.ID)
	return row.Scan(&c.objects, &c.lines, &c.raw, &c.cmp)
}

func streamHash(ls logmodel.Labels) string { return strconv.FormatUint(ls.Hash(), 16) }

// manifest is the object each job writes last, listing its objects.
type manifest struct {
	JobID     string    `json:"job_id"`
	PolicyID  string    `json:"policy_id"`
	Tenant    string    `json:"tenant"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	Objects   []Object  `json:"objects"`
	Progress  Progress  `json:"progress"`
}

// ManifestKey names a job's manifest object.
func ManifestKey(prefix, tenant, jobID string) string {
	k := escapeComponent(tenant) + "/_manifests/" + jobID + ".json"
	if prefix != "" {
		k = prefix + "/" + k
	}
	return k
}

func (m *Manager) writeManifest(ctx context.Context, bs BlobStore, p Policy, j *Job, objs []Object) (string, error) {
	body, err := json.MarshalIndent(manifest{JobID: j.ID, PolicyID: p.ID, Tenant: j.Tenant, StartTime: j.StartTime, EndTime: j.EndTime, Objects: objs, Progress: j.Progress}, "", "  ")
	if err != nil {
		return "", err
	}
	key := ManifestKey(p.Destination.Prefix, j.Tenant, j.ID)
	if _, err := bs.Put(ctx, key, bytes.NewReader(body), int64(len(body)), PutOptions{ContentType: "application/json"}); err != nil {
		return "", fmt.Errorf("upload manifest: %w", err)
	}
	return key, nil
}
