package podlogstream

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestRestartResumes kills kubelog serve with SIGKILL while a PodLogStream
// streams containers that keep writing, then starts it again on the same
// data directory: the object is still there, with the same uid, and every
// line is stored exactly once.
func TestRestartResumes(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	const ns, pod = "pls-restart", "app-3"
	cs := newPod(t, ns, pod, "p", "q")
	s, err := startServer(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	dc := s.dynamicClient(t, adminToken)
	created, err := dc.Create(ctx, plsObject("survivor", ns, pod, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				c.write(t, fmt.Sprintf("%s line %d %%d", c.name, i), 3)
			}
		})
	}
	time.Sleep(3 * time.Second)
	_ = s.Kill()
	time.Sleep(time.Second)
	s, err = startServer(s.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	dc = s.dynamicClient(t, adminToken)
	again, err := dc.Get(ctx, "survivor", metav1.GetOptions{})
	if err != nil || again.GetUID() != created.GetUID() {
		t.Fatalf("after the restart: %v, uid %s; want uid %s", err, again.GetUID(), created.GetUID())
	}
	sw := watchObject(t, dc, "survivor")
	sw.until(t, 15*time.Second, "streams active after the restart", func(st map[string]containerStatus) bool {
		return st["p"].Active && st["q"].Active
	})
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	want := map[string][]string{}
	total := 0
	for n, c := range cs {
		want[n] = c.written()
		total += len(want[n])
	}
	waitStored(t, s, ns, pod, want)
	t.Logf("killed with SIGKILL and restarted while streaming: %d lines stored exactly once", total)
}
