package collector

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPinSelects(t *testing.T) {
	f := func(p Pin, name string, want bool) {
		t.Helper()
		if got := p.selects(name); got != want {
			t.Errorf("pin only=%v ignore=%v selects %q: got %v; want %v", p.OnlyContainers, p.IgnoreContainers, name, got, want)
		}
	}
	f(Pin{}, "a", true)
	f(Pin{OnlyContainers: []string{"a"}}, "a", true)
	f(Pin{OnlyContainers: []string{"a"}}, "b", false)
	f(Pin{IgnoreContainers: []string{"a"}}, "a", false)
	f(Pin{IgnoreContainers: []string{"a"}}, "b", true)
	f(Pin{OnlyContainers: []string{"a", "b"}, IgnoreContainers: []string{"b"}}, "b", false)
}

func TestPinnedEarliestSince(t *testing.T) {
	c := &clusterCollector{}
	ps := c.pinSet()
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	f := func(container string, wantSince time.Time, wantOK bool) {
		t.Helper()
		since, ok := c.pinned(pod, container)
		if ok != wantOK || !since.Equal(wantSince) {
			t.Errorf("pinned %q: got %v, %v; want %v, %v", container, since, ok, wantSince, wantOK)
		}
	}
	f("a", time.Time{}, false)
	ps.pins["1"] = Pin{ID: "1", Namespace: "ns", Pod: "p", Since: t0.Add(time.Hour)}
	f("a", t0.Add(time.Hour), true)
	ps.pins["2"] = Pin{ID: "2", Namespace: "ns", Pod: "p", Since: t0, OnlyContainers: []string{"b"}}
	f("a", t0.Add(time.Hour), true)
	f("b", t0, true)
	ps.pins["3"] = Pin{ID: "3", Namespace: "ns", Pod: "p"}
	f("b", time.Time{}, true) // one pin wants everything
	ps.pins["4"] = Pin{ID: "4", Namespace: "other", Pod: "p"}
	delete(ps.pins, "3")
	f("b", t0, true)
}

func TestApplySince(t *testing.T) {
	f := func(resume Resume, since int64, want Resume) {
		t.Helper()
		s := &stream{inst: instance{since: since}}
		s.pos.last = resume
		s.applySince()
		s.pos.reopen()
		if s.pos.last != want {
			t.Errorf("resume %v since %d: got %v; want %v", resume, since, s.pos.last, want)
		}
	}
	f(Resume{}, 0, Resume{})
	f(Resume{}, 100, Resume{Timestamp: 100})
	f(Resume{Timestamp: 200, Count: 2}, 100, Resume{Timestamp: 200, Count: 2})
	f(Resume{Timestamp: 50, Count: 1}, 100, Resume{Timestamp: 100})
	// Lines before since are skipped, lines at since taken.
	s := &stream{inst: instance{since: 100}}
	s.applySince()
	s.pos.reopen()
	for _, c := range []struct {
		ts   int64
		want bool
	}{{99, false}, {100, true}, {100, true}, {101, true}} {
		if _, ok := s.pos.take(c.ts); ok != c.want {
			t.Errorf("take %d: got %v; want %v", c.ts, ok, c.want)
		}
	}
}
