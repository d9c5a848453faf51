package collector

import (
	"context"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

func TestSelects(t *testing.T) {
	pod := func(ns string, labels, annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p", Labels: labels, Annotations: annotations}}
	}
	web := pod("shop", map[string]string{"app": "web"}, nil)
	f := func(name string, sels []Selection, p *corev1.Pod, container string, init, want bool) {
		t.Helper()
		compiled, err := compileSelections(sels)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := selects(compiled, p, container, init); got != want {
			t.Fatalf("%s: got %v; want %v", name, got, want)
		}
	}
	all := Selection{ID: "all", Namespace: "*", IncludeInit: true, Enabled: true}
	f("all namespaces", []Selection{all}, web, "app", false, true)
	f("no selection", nil, web, "app", false, false)
	f("disabled", []Selection{{Namespace: "*", Enabled: false}}, web, "app", false, false)
	f("other namespace", []Selection{{Namespace: "bank", Enabled: true}}, web, "app", false, false)
	f("namespace", []Selection{{Namespace: "shop", Enabled: true}}, web, "app", false, true)
	f("label selector", []Selection{{Namespace: "*", LabelSelector: "app in (web,api)", Enabled: true}}, web, "app", false, true)
	f("label selector misses", []Selection{{Namespace: "*", LabelSelector: "app=api", Enabled: true}}, web, "app", false, false)
	f("init excluded", []Selection{{Namespace: "*", Enabled: true}}, web, "setup", true, false)
	f("init included", []Selection{all}, web, "setup", true, true)
	f("only containers", []Selection{{Namespace: "*", OnlyContainers: []string{"app"}, Enabled: true}}, web, "sidecar", false, false)
	f("ignore containers", []Selection{{Namespace: "*", IgnoreContainers: []string{"sidecar"}, Enabled: true}}, web, "sidecar", false, false)
	f("second selection matches", []Selection{{Namespace: "bank", Enabled: true}, all}, web, "app", false, true)
	f("excluded pod", []Selection{all}, pod("shop", nil, map[string]string{ExcludeAnnotation: "true"}), "app", false, false)

	for _, bad := range []Selection{{ID: "x", Namespace: ""}, {ID: "y", Namespace: "*", LabelSelector: "app in ("}} {
		if _, err := compileSelections([]Selection{bad}); err == nil {
			t.Fatalf("compile %+v: got no error; want one", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"MaxStreams":     func(c *Config) { c.MaxStreams = 0 },
		"QPS":            func(c *Config) { c.QPS = 0 },
		"IdleTimeout":    func(c *Config) { c.IdleTimeout = 0 },
		"BackoffMax":     func(c *Config) { c.BackoffMax = c.BackoffMin / 2 },
		"BatchLines":     func(c *Config) { c.BatchLines = 0 },
		"MaxLineBytes":   func(c *Config) { c.MaxLineBytes = 10 },
		"SelectionDelay": func(c *Config) { c.SelectionDelay = 6e9 },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Fatalf("%s: got no error; want one", name)
		}
	}
}

// TestConfigLogSource checks that a cluster's streams open through the
// Config's LogSource, given the cluster.
func TestConfigLogSource(t *testing.T) {
	logs := newFakeLogs()
	var got Cluster
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.LogSource = func(cl Cluster) LogSource { got = cl; return logs }
	m, err := NewManager(cfg, &memSink{}, &MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cl := Cluster{ID: "c1", Name: "test", Tenant: "t1", RESTConfig: &rest.Config{Host: "http://127.0.0.1:1"}}
	if err := m.AddCluster(context.Background(), cl, nil); err != nil {
		t.Fatal(err)
	}
	c, err := m.cluster("c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != cl.ID || c.logs != LogSource(logs) {
		t.Fatalf("log source made for %+v and used %T; want it made for %+v and used", got, c.logs, cl)
	}
}
