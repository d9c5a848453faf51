package collect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// stallConn is a connection that can go silent: once stalled, reads return
// nothing (and drop what arrives) until the connection is closed, as when a
// network path dies without a reset.
type stallConn struct {
	net.Conn
	stalled   atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *stallConn) Read(b []byte) (int, error) {
	if !c.stalled.Load() {
		n, err := c.Conn.Read(b)
		if !c.stalled.Load() {
			return n, err
		}
	}
	<-c.closed
	return 0, errors.New("stalled connection closed")
}

func (c *stallConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// stallDialer dials stallConns and can stall every connection dialed so far.
type stallDialer struct {
	mu sync.Mutex
	// conns are the connections dialed (guarded by mu).
	conns []*stallConn
}

func (d *stallDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	sc := &stallConn{Conn: c, closed: make(chan struct{})}
	d.mu.Lock()
	d.conns = append(d.conns, sc)
	d.mu.Unlock()
	return sc, nil
}

// stallAll stalls every connection dialed so far and returns how many.
func (d *stallDialer) stallAll() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.stalled.Store(true)
	}
	return len(d.conns)
}

// dialed returns how many connections were dialed.
func (d *stallDialer) dialed() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// TestSilentStall checks the idle watchdog: the connections of the streams go
// silent without being closed while the containers keep writing; the watchdog
// reconnects and the streams resume exactly. HTTP/1.1 gives each stream its
// own connection (over HTTP/2, client-go's ping health check would close the
// shared connection itself).
func TestSilentStall(t *testing.T) {
	testenv.SkipIfDisabled(t)
	const ns = "stall"
	cs := newPod(t, ns, "p", []string{"a", "b", "c"}, testenv.PodOptions{})
	st := newStore(t)
	cfg := testConfig()
	cfg.IdleTimeout = time.Second
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	m, err := collector.NewManager(cfg, st, &collector.MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d := &stallDialer{}
	rc := cluster.RESTConfig()
	rc.Dial = d.dial
	rc.TLSClientConfig.NextProtos = []string{"http/1.1"}
	if err := m.AddCluster(t.Context(), collector.Cluster{ID: "c1", Name: "test", Tenant: tenant, RESTConfig: rc}, selections(ns)); err != nil {
		t.Fatal(err)
	}
	write := func(phase string, n int) {
		for i := 0; i < n; i++ {
			for _, c := range cs {
				c.write(t, fmt.Sprintf("%s %s %d", c.name, phase, i))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write("before", 100)
	waitCollected(t, st, 30*time.Second, cs)
	n := d.stallAll()
	write("stalled", 200)
	waitCollected(t, st, 30*time.Second, cs)
	if got := reconnects(t, reg, "idle"); got < 3 {
		t.Errorf("kubelog_collector_stream_reconnects_total{reason=\"idle\"}: got %v; want at least 3", got)
	}
	m.Close()
	checkExact(t, st, cs)
	if d.dialed() == n {
		t.Fatalf("connections dialed after the stall: got none; want the streams' reconnections")
	}
	t.Logf("%d connections stalled, %d dialed after", n, d.dialed()-n)
}

// reconnects returns the value of kubelog_collector_stream_reconnects_total
// for reason, summed over clusters.
func reconnects(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "kubelog_collector_stream_reconnects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
