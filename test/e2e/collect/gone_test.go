package collect

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// goneProxy sits between the collector and kube-apiserver. It can break the
// pod watches and then answer the next watch that resumes from a
// resourceVersion with 410 Gone ("too old resource version"), as
// kube-apiserver does once etcd has compacted that revision.
type goneProxy struct {
	proxy *httputil.ReverseProxy
	// expire makes the next resumed pod watch answer 410.
	expire atomic.Bool
	// expired counts the 410s sent; lists counts the pod lists (plain, or
	// watch-lists with sendInitialEvents) seen.
	expired, lists atomic.Int64

	mu sync.Mutex
	// watches are the cancel functions of the open pod watches (guarded by
	// mu).
	watches map[*http.Request]context.CancelFunc
}

func newGoneProxy(t *testing.T) (*goneProxy, *rest.Config) {
	t.Helper()
	target := cluster.RESTConfig()
	rt, err := rest.TransportFor(target)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := &goneProxy{watches: map[*http.Request]context.CancelFunc{}}
	p.proxy = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport:     rt,
		FlushInterval: -1,
		ErrorHandler:  func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p, &rest.Config{Host: "http://" + ln.Addr().String()}
}

func (p *goneProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/pods" {
		p.proxy.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	watch := q.Get("watch") == "true" || q.Get("watch") == "1"
	if !watch || q.Get("sendInitialEvents") == "true" {
		p.lists.Add(1)
	} else if q.Get("resourceVersion") != "" && p.expire.CompareAndSwap(true, false) {
		p.expired.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: %s (999999)","reason":"Expired","code":410}`,
			q.Get("resourceVersion"))
		return
	}
	if watch {
		ctx, cancel := context.WithCancel(r.Context())
		r = r.WithContext(ctx)
		p.mu.Lock()
		p.watches[r] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.watches, r)
			p.mu.Unlock()
			cancel()
		}()
	}
	p.proxy.ServeHTTP(w, r)
}

// breakWatches ends the open pod watches and returns how many there were.
func (p *goneProxy) breakWatches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cancel := range p.watches {
		cancel()
	}
	return len(p.watches)
}

// TestWatchGone checks that the pod informer lists again when its watch is
// answered 410 Gone, and that collection goes on exactly: pods created
// around the 410 are collected, and no line is lost or doubled.
func TestWatchGone(t *testing.T) {
	testenv.SkipIfDisabled(t)
	const ns = "gone"
	proxy, rc := newGoneProxy(t)
	st := newStore(t)
	m, err := collector.NewManager(testConfig(), st, &collector.MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.AddCluster(t.Context(), collector.Cluster{ID: "c1", Name: "test", Tenant: tenant, RESTConfig: rc}, selections(ns)); err != nil {
		t.Fatal(err)
	}
	cs := newPod(t, ns, "before", []string{"a", "b"}, testenv.PodOptions{})
	write := func(cs []*container, phase string, n int) {
		for i := range n {
			for _, c := range cs {
				c.write(t, fmt.Sprintf("%s %s %d", c.name, phase, i))
			}
		}
	}
	write(cs, "one", 100)
	waitCollected(t, st, 30*time.Second, cs)
	listsBefore := proxy.lists.Load()

	proxy.expire.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for proxy.expired.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no resumed pod watch reached the proxy after its watches were broken")
		}
		proxy.breakWatches()
		time.Sleep(200 * time.Millisecond)
	}
	write(cs, "two", 100)
	// A pod created after the 410 is known only through the new list and
	// watch.
	late := newPod(t, ns, "after", []string{"c"}, testenv.PodOptions{})
	cs = append(cs, late...)
	write(cs, "three", 100)
	waitCollected(t, st, 30*time.Second, cs)
	m.Close()
	if got := proxy.lists.Load(); got <= listsBefore {
		t.Fatalf("pod lists after the 410: got %d, before %d; want a new list", got, listsBefore)
	}
	t.Logf("410 answered %d time(s); pod lists %d before, %d after", proxy.expired.Load(), listsBefore, proxy.lists.Load())
	checkExact(t, st, cs)
}
