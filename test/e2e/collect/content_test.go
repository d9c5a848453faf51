package collect

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestLineContent checks what the kubelet code in kwok sends for partial
// records with timestamps=true (the first record's timestamp only, in the
// fixed nanosecond form), and that the collector stores lines as the
// container wrote them: partial records joined without the inner timestamps,
// bytes that are not UTF-8 intact, identical lines at one timestamp kept apart.
func TestLineContent(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := testContext(t)
	const ns = "content"
	cs := newPod(t, ns, "p", []string{"app"}, testenv.PodOptions{})
	c := cs[0]
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := c.w.Write(testenv.Record{Time: at, Text: "short ", Partial: true}, testenv.Record{Time: at.Add(time.Millisecond), Text: "end"}); err != nil {
		t.Fatal(err)
	}
	raw, err := cluster.Client().CoreV1().Pods(ns).GetLogs("p", &corev1.PodLogOptions{Container: "app", Timestamps: true}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := at.Format("2006-01-02T15:04:05.000000000Z07:00") + " short end\n"
	if string(raw) != want {
		t.Fatalf("partial records with timestamps=true: got %q; want %q", raw, want)
	}
	c.mu.Lock()
	c.lines = append(c.lines, "short end")
	c.mu.Unlock()

	// A 40 KiB line in 16 KiB records, as containerd writes it.
	big := strings.Repeat("kubelog partial line ts=2026-01-02T03:04:05Z ", 1000)[:40<<10]
	var recs []testenv.Record
	for i := 0; i < len(big); i += 16 << 10 {
		recs = append(recs, testenv.Record{Text: big[i:min(i+16<<10, len(big))], Partial: i+16<<10 < len(big)})
	}
	if err := c.w.Write(recs...); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.lines = append(c.lines, big)
	c.mu.Unlock()
	c.write(t, "not UTF-8: \xff\xfe\x80 end", "same", "same", "same")
	c.write(t, "same")

	st := newStore(t)
	_ = startManager(t, testConfig(), st, &collector.MemoryCheckpoints{}, ns)
	waitCollected(t, st, 30*time.Second, cs)
	checkExact(t, st, cs)
	all := stored(t, st, ns)
	for _, e := range all[c.key()] {
		if e.restart != "0" {
			t.Fatalf("restart metadata: got %q; want 0", e.restart)
		}
	}
}
