package collect

import (
	"fmt"
	"testing"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestCollectOnce is case (g): a one-time job with tail_lines reads the last
// lines of each container, stores them and ends.
func TestCollectOnce(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := testContext(t)
	const ns = "once"
	cs := newPod(t, ns, "p", []string{"a", "b"}, testenv.PodOptions{})
	for i := 0; i < 100; i++ {
		for _, c := range cs {
			c.write(t, fmt.Sprintf("%s line %d", c.name, i))
		}
	}
	st := newStore(t)
	m, err := collector.NewManager(testConfig(), st, &collector.MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// No selection: only the job collects.
	if err := m.AddCluster(ctx, collector.Cluster{ID: "c1", Name: "test", Tenant: tenant, RESTConfig: cluster.RESTConfig()}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := m.CollectOnce(ctx, "c1", collector.OnceRequest{Namespace: ns, Pods: []string{"p"}, TailLines: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("results: got %d; want 2 containers", len(res))
	}
	for _, r := range res {
		if r.Err != nil || r.Lines != 10 {
			t.Fatalf("result %+v: want 10 lines and no error", r)
		}
	}
	all := stored(t, st, ns)
	for _, c := range cs {
		if d := testenv.DiffMultiset(storedLines(all, c.key()), c.written()[90:]); d != "" {
			t.Fatalf("%s: %s", c.key(), d)
		}
	}
}
