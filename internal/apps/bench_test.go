package apps

import (
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// BenchmarkMatchFormat measures the per-line work of a download or live tail:
// the selection test and the text formatting.
func BenchmarkMatchFormat(b *testing.B) {
	svc, _ := fixture(b, nil)
	sel, err := svc.Resolve(b.Context(), Request{Tenant: "default", AppID: "dep-1", DeploymentID: "rs-2", Component: "app", Type: TypeRun})
	if err != nil {
		b.Fatal(err)
	}
	labels := logmodel.FromPairs("cluster", "test", "namespace", "shop", "pod", podName, "container", "app")
	md := logmodel.FromPairs(logmodel.MetaPodUID, "pod-2", logmodel.MetaRestart, "1", logmodel.MetaLevel, "info")
	line := []byte(`2026-11-21 12:00:00.123 INFO  [main] o.e.shop.Checkout - order 81723 paid in 42ms (card, 3 items)`)
	ts := time.Now().UnixNano()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if sel.Match(labels, md, line, ts) {
			n += len(sel.Format(labels, md, line, ts))
		}
	}
	if n == 0 {
		b.Fatal("no line matched")
	}
}
