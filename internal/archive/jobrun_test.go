package archive

import (
	testingclock "k8s.io/utils/clock/testing"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/store"
)

// jobEnv is a store, a metadata database and a blob store in memory, with
// managers over them that share a clock.
type jobEnv struct {
	t     *testing.T
	clock *testingclock.FakeClock
	db    *meta.DB
	st    *store.Store
	keys  *secrets.Keyring
	blobs *memBlobs
}

const testTenant = "t1"

// testNow is the time a jobEnv starts at: entries of 08:00 to 11:59 are
// older than an hour, the policies' older_than.
var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newJobEnv(t *testing.T) *jobEnv {
	t.Helper()
	dir := t.TempDir()
	e := &jobEnv{t: t, clock: testingclock.NewFakeClock(testNow), blobs: newMemBlobs()}
	var err error
	if e.db, err = meta.Open(t.Context(), filepath.Join(dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.db.Close() })
	scfg := store.DefaultConfig(filepath.Join(dir, "store"))
	scfg.Fsync = store.FsyncNever
	scfg.Clock = e.clock
	if e.st, err = store.Open(scfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.st.Close() })
	if e.keys, err = secrets.NewKeyring(make([]byte, secrets.KeySize)); err != nil {
		t.Fatal(err)
	}
	return e
}

// manager returns a new manager over the env; the test closes it.
func (e *jobEnv) manager() *Manager {
	e.t.Helper()
	cfg := DefaultConfig()
	cfg.Clock = e.clock
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.TickInterval = time.Hour
	cfg.Uploads = 2
	cfg.Keys = e.keys
	cfg.Blobs = func(Destination) (BlobStore, error) { return e.blobs, nil }
	m, err := NewManager(cfg, e.st, e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// streamLabels are the labels of pod's stream in namespace ns.
func streamLabels(ns, pod string) logmodel.Labels {
	return logmodel.FromPairs("cluster", "c1", "container", "app", "namespace", ns, "pod", pod)
}

// fill appends n entries to each of pods api-0 and api-1 of namespace pay
// and web-0 of blog in every hour from 08:00 to 11:00, and returns how many
// of pay's are older than 11:00.
func (e *jobEnv) fill(n int) int {
	e.t.Helper()
	var entries []logmodel.Entry
	archived := 0
	for h := 8; h <= 11; h++ {
		hour := time.Date(2026, 11, 21, h, 0, 0, 0, time.UTC)
		for _, s := range []struct{ ns, pod string }{{"pay", "api-0"}, {"pay", "api-1"}, {"blog", "web-0"}} {
			for i := range n {
				ts := hour.Add(time.Duration(i) * 17 * time.Second).Add(time.Duration(len(s.pod)) * time.Millisecond)
				ent := logmodel.Entry{Labels: streamLabels(s.ns, s.pod), Timestamp: ts.UnixNano(), Line: fmt.Appendf(nil, "%s %s line %d", s.ns, s.pod, i)}
				if i%3 == 0 {
					ent.Metadata = logmodel.FromPairs("level", "error")
				}
				entries = append(entries, ent)
				if s.ns == "pay" && h < 11 {
					archived++
				}
			}
		}
	}
	if _, err := e.st.Append(e.t.Context(), testTenant, entries); err != nil {
		e.t.Fatal(err)
	}
	return archived
}

// policy creates a policy archiving namespace pay after an hour.
func (e *jobEnv) policy(m *Manager, deleteAfter bool) Policy {
	e.t.Helper()
	p := Policy{Name: "pay", Tenant: testTenant, Selector: `{namespace="pay"}`, OlderThan: "1h", Schedule: "@hourly", DeleteAfterArchive: deleteAfter, Enabled: true,
		// The scheduler's probe of this endpoint is refused by the egress
		// policy without any I/O; the jobs write to the memBlobs.
		Destination: Destination{Endpoint: "127.0.0.1:1", Region: "us-east-1", Bucket: "arch", AccessKeyID: "ak", SecretAccessKey: "sk", PathStyle: true}}
	if err := p.Normalize(); err != nil {
		e.t.Fatal(err)
	}
	if err := m.Policies().Create(e.t.Context(), &p, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// local returns the tenant's local entries that p selects in [start, end).
func (e *jobEnv) local(p Policy, start, end time.Time) []logmodel.Entry {
	e.t.Helper()
	ms, err := p.Matchers()
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.st.Query(e.t.Context(), store.Query{Tenant: testTenant, Matchers: ms, Start: start.UnixNano(), End: end.UnixNano(), Limit: 100000})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Entries
}

// waitJob waits until job id has ended and returns it.
func waitJob(t *testing.T, m *Manager, id string) Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := m.Jobs().Get(t.Context(), "", id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != StatusPending && j.Status != StatusRunning {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, j.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// entryString is what an entry's archived line says of it.
func entryString(e *logmodel.Entry) string {
	return string(AppendEntryJSON(nil, e))
}

// checkArchived checks that the blob store holds exactly the objects of
// job j in the index, one per stream and hour, holding the entries want in
// (timestamp, cursor) order, and j's manifest listing them.
func checkArchived(t *testing.T, m *Manager, blobs *memBlobs, j Job, want []logmodel.Entry) {
	t.Helper()
	ctx := t.Context()
	objs, _, err := m.Index().List(ctx, Filter{Tenant: j.Tenant, JobID: j.ID})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]string{}
	for i := range want {
		e := &want[i]
		k := ObjectKey{Tenant: j.Tenant, Cluster: e.Labels.Get("cluster"), Namespace: e.Labels.Get("namespace"), Pod: e.Labels.Get("pod"), Container: e.Labels.Get("container"),
			Hour: floorHour(e.Timestamp), Compression: CompressionZstd}
		byKey[k.String()] = append(byKey[k.String()], entryString(e))
	}
	if len(objs) != len(byKey) {
		t.Fatalf("index: got %d objects of job %s; want %d, one per stream and hour", len(objs), j.ID, len(byKey))
	}
	var lines int64
	for _, o := range objs {
		k, err := ParseObjectKey(o.Key)
		if err != nil {
			t.Fatal(err)
		}
		stored, ok := blobs.object(o.Key)
		if !ok {
			t.Fatalf("indexed object %s is not in the blob store", o.Key)
		}
		if stored.etag != o.ETag || int64(len(stored.body)) != o.Size {
			t.Fatalf("%s: the store holds %d bytes with ETag %s; the index says %d and %s", o.Key, len(stored.body), stored.etag, o.Size, o.ETag)
		}
		md := stored.opts.Metadata
		if stored.opts.ContentEncoding != "zstd" || stored.opts.ContentType != "application/x-ndjson" || !stored.opts.ETagChecked ||
			md["Lines"] != fmt.Sprint(o.Lines) || md["First-Ts"] != logmodel.FormatTime(k.FirstTs) || md["Last-Ts"] != logmodel.FormatTime(k.LastTs) {
			t.Fatalf("%s: put with %+v", o.Key, stored.opts)
		}
		d, err := NewDecoder(strings.NewReader(string(stored.body)), k.Compression)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			e, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", o.Key, err)
			}
			got = append(got, entryString(&e))
		}
		d.Close()
		k.FirstTs, k.LastTs = 0, 0
		if w := byKey[k.String()]; !slices.Equal(got, w) {
			t.Fatalf("%s:\n got %q\nwant %q", o.Key, got, w)
		}
		lines += o.Lines
	}
	if j.Status != StatusSucceeded || j.Progress.Lines != lines || j.Progress.Lines != int64(len(want)) || j.Progress.Objects != int64(len(objs)) || j.Progress.Percent != 100 {
		t.Fatalf("job: got %+v; want succeeded with %d lines in %d objects", j, len(want), len(objs))
	}
	if j.ManifestKey != ManifestKey("", j.Tenant, j.ID) {
		t.Fatalf("manifest key: got %q; want %q", j.ManifestKey, ManifestKey("", j.Tenant, j.ID))
	}
	mo, ok := blobs.object(j.ManifestKey)
	if !ok {
		t.Fatalf("no manifest %s in the blob store", j.ManifestKey)
	}
	var man manifest
	if err := json.Unmarshal(mo.body, &man); err != nil {
		t.Fatal(err)
	}
	if man.JobID != j.ID || man.Tenant != j.Tenant || len(man.Objects) != len(objs) || man.Progress.Lines != lines || mo.opts.ContentType != "application/json" {
		t.Fatalf("manifest: got %+v with %+v", man, mo.opts)
	}
	for i := range objs {
		if man.Objects[i].Key != objs[i].Key || man.Objects[i].ETag != objs[i].ETag {
			t.Fatalf("manifest object %d: got %+v; want %+v", i, man.Objects[i], objs[i])
		}
	}
}

// TestJobRun runs a job on demand: one object per stream and hour older
// than the policy's age, from the oldest local entry, its index rows and
// manifest; the policy moves on, nothing is deleted, and queries and
// downloads read the objects back.
func TestJobRun(t *testing.T) {
	e := newJobEnv(t)
	m := e.manager()
	defer m.Close()
	ctx := t.Context()
	n := e.fill(40)
	p := e.policy(m, false)
	start, end := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	want := e.local(p, start, end)
	if len(want) != n {
		t.Fatalf("local entries: got %d; want %d", len(want), n)
	}
	j, err := m.StartJob(ctx, testTenant, p.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !j.StartTime.Equal(start) || !j.EndTime.Equal(end) {
		t.Fatalf("range: got [%s, %s); want [%s, %s)", j.StartTime, j.EndTime, start, end)
	}
	j = waitJob(t, m, j.ID)
	checkArchived(t, m, e.blobs, j, want)
	if j.DeletedEntries != 0 || len(e.local(p, start, end)) != n {
		t.Fatalf("a policy without delete_after_archive deleted local entries: %d", j.DeletedEntries)
	}
	if p, err = m.Policies().Get(ctx, testTenant, p.ID); err != nil || !p.ArchivedUntil.Equal(end) || !p.LastRunAt.Equal(testNow) {
		t.Fatalf("policy after the job: archived until %s, last run %s (%v); want %s, %s", p.ArchivedUntil, p.LastRunAt, err, end, testNow)
	}
	if _, err := m.StartJob(ctx, testTenant, p.ID, 0, 0); !errors.Is(err, ErrNothingToArchive) {
		t.Fatalf("a second job at once: got %v; want ErrNothingToArchive", err)
	}

	ms, _ := p.Matchers()
	got, more, stats, err := m.Query(ctx, store.Query{Tenant: testTenant, Matchers: ms, Start: start.UnixNano(), End: end.UnixNano(), Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	if more || len(got) != n || stats.ObjectsFetched != stats.ObjectsConsidered || stats.LinesScanned != int64(n) {
		t.Fatalf("Query: %d entries, more %v, %+v; want %d from every object", len(got), more, stats, n)
	}
	for i := range got {
		if entryString(&got[i]) != entryString(&want[i]) {
			t.Fatalf("Query entry %d: got %s; want %s", i, entryString(&got[i]), entryString(&want[i]))
		}
	}
	page, more, _, err := m.Query(ctx, store.Query{Tenant: testTenant, Matchers: ms, Start: start.UnixNano(), End: end.UnixNano(), Limit: 5, Direction: logmodel.Backward})
	if err != nil || !more || len(page) != 5 || entryString(&page[0]) != entryString(&want[n-1]) {
		t.Fatalf("Query backward: %d entries, more %v, %v", len(page), more, err)
	}

	objs, _, err := m.Index().List(ctx, Filter{Tenant: testTenant})
	if err != nil {
		t.Fatal(err)
	}
	o, rc, err := m.Open(ctx, testTenant, objs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if stored, _ := e.blobs.object(o.Key); err != nil || string(body) != string(stored.body) {
		t.Fatalf("Open: %d bytes, %v; want the %d stored", len(body), err, len(stored.body))
	}
	if _, _, err := m.Open(ctx, "t2", objs[0].Key); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Open in another tenant: got %v; want meta.ErrNotFound", err)
	}
	if err := e.blobs.Remove(ctx, objs[0].Key); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := m.Query(ctx, store.Query{Tenant: testTenant, Matchers: ms, Start: start.UnixNano(), End: end.UnixNano(), Limit: n}); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("Query of an object the bucket lost: got %v; want ErrBlobNotFound", err)
	}
}

// TestScheduledJobs runs the jobs the scheduler starts: a policy that never
// ran is due at once, the next job starts where the last ended, and a
// policy is not due again before its schedule says.
func TestScheduledJobs(t *testing.T) {
	e := newJobEnv(t)
	m := e.manager()
	defer m.Close()
	ctx := t.Context()
	e.fill(10)
	p := e.policy(m, false)
	jobs := func() []Job {
		t.Helper()
		js, err := m.Jobs().List(ctx, JobFilter{PolicyID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	m.RunDue(ctx)
	js := jobs()
	if len(js) != 1 {
		t.Fatalf("jobs after the first RunDue: got %d; want 1", len(js))
	}
	first := waitJob(t, m, js[0].ID)
	h8, h11, h12 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	checkArchived(t, m, e.blobs, first, e.local(p, h8, h11))

	e.clock.SetTime(testNow.Add(59 * time.Minute))
	m.RunDue(ctx)
	if n := len(jobs()); n != 1 {
		t.Fatalf("jobs before the next hour: got %d; want 1", n)
	}
	e.clock.SetTime(testNow.Add(time.Hour))
	m.RunDue(ctx)
	js = jobs()
	if len(js) != 2 {
		t.Fatalf("jobs at the next hour: got %d; want 2", len(js))
	}
	second := waitJob(t, m, js[0].ID)
	if !second.StartTime.Equal(h11) || !second.EndTime.Equal(h12) {
		t.Fatalf("second job: [%s, %s); want [%s, %s)", second.StartTime, second.EndTime, h11, h12)
	}
	checkArchived(t, m, e.blobs, second, e.local(p, h11, h12))

	p.Enabled = false
	if err := m.Policies().Update(ctx, &p, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.SetTime(testNow.Add(5 * time.Hour))
	m.RunDue(ctx)
	if n := len(jobs()); n != 2 {
		t.Fatalf("jobs of a disabled policy: got %d; want 2", n)
	}
}

// TestCancelJob cancels a job under way, and one left pending by a process
// that is gone.
func TestCancelJob(t *testing.T) {
	e := newJobEnv(t)
	m := e.manager()
	defer m.Close()
	ctx := t.Context()
	e.fill(5)
	p := e.policy(m, false)
	blocked := make(chan struct{})
	var once sync.Once
	e.blobs.onPut = func(ctx context.Context, key string) error {
		once.Do(func() { close(blocked) })
		<-ctx.Done()
		return ctx.Err()
	}
	j, err := m.StartJob(ctx, testTenant, p.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	<-blocked
	if j, err = m.CancelJob(ctx, testTenant, j.ID); err != nil || j.Status != StatusCancelled || j.FinishedAt == nil {
		t.Fatalf("cancel a running job: got %+v, %v; want cancelled", j, err)
	}
	if p, _ = m.Policies().Get(ctx, testTenant, p.ID); !p.ArchivedUntil.IsZero() {
		t.Fatalf("a cancelled job moved the policy on to %s", p.ArchivedUntil)
	}
	if j, err = m.CancelJob(ctx, testTenant, j.ID); err != nil || j.Status != StatusCancelled {
		t.Fatalf("cancel a cancelled job: got %+v, %v", j, err)
	}

	left := Job{ID: "aj_left", Tenant: testTenant, PolicyID: p.ID, Status: StatusPending, StartTime: testNow.Add(-4 * time.Hour), EndTime: testNow.Add(-time.Hour), CreatedAt: testNow}
	if err := m.jobs.create(ctx, &left); err != nil {
		t.Fatal(err)
	}
	if j, err = m.CancelJob(ctx, testTenant, left.ID); err != nil || j.Status != StatusCancelled || !j.FinishedAt.Equal(testNow) {
		t.Fatalf("cancel a job left pending: got %+v, %v", j, err)
	}
	if _, err := m.CancelJob(ctx, "t2", left.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("cancel another tenant's job: got %v; want meta.ErrNotFound", err)
	}
}

// TestJobResume stops a manager in the middle of a job, as a shutdown
// does, and checks that the next manager's Start resumes it: the objects
// already indexed are not written again, the rest are, and the progress
// counts each once.
func TestJobResume(t *testing.T) {
	e := newJobEnv(t)
	m1 := e.manager()
	ctx := t.Context()
	n := e.fill(30)
	p := e.policy(m1, false)
	// The first object of 10:00 blocks until the manager stops.
	blocked := make(chan struct{})
	var once sync.Once
	e.blobs.onPut = func(ctx context.Context, key string) error {
		if !strings.Contains(key, "/2026/11/21/10/") {
			return nil
		}
		once.Do(func() { close(blocked) })
		<-ctx.Done()
		return ctx.Err()
	}
	j, err := m1.StartJob(ctx, testTenant, p.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	<-blocked
	m1.Close()
	if j, err = m1.Jobs().Get(ctx, "", j.ID); err != nil || j.Status != StatusRunning {
		t.Fatalf("a job stopped by Close: got %+v, %v; want it left running", j, err)
	}
	before, _, err := m1.Index().List(ctx, Filter{Tenant: testTenant, JobID: j.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 4 {
		t.Fatalf("objects indexed before the stop: got %d; want the 4 of 08:00 and 09:00", len(before))
	}

	e.blobs.onPut = nil
	m2 := e.manager()
	defer m2.Close()
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, m2, j.ID)
	checkArchived(t, m2, e.blobs, j, e.local(p, time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)))
	if j.Progress.Lines != int64(n) {
		t.Fatalf("progress of the resumed job: %d lines; want %d", j.Progress.Lines, n)
	}
	for _, k := range e.blobs.keys(testTenant + "/") {
		if c := e.blobs.putCount(k); c != 1 {
			t.Fatalf("%s: written %d times; want once", k, c)
		}
	}
}
