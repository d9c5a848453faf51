package logql

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// MemSource is a Source over entries held in memory, for tests and small
// tools. It ignores Limit and delivers every matching entry.
type MemSource struct {
	// Entries must not change while a query runs.
	Entries []Entry
	// Parallelism is the number of goroutines SelectLogs uses; 0 means 1.
	Parallelism int
}

var _ Source = (*MemSource)(nil)

// Workers returns the parallelism.
func (m *MemSource) Workers() int { return max(m.Parallelism, 1) }

// SelectLogs splits the entries among the workers and calls fn for each
// match.
func (m *MemSource) SelectLogs(ctx context.Context, p SelectParams, fn func(worker int, e *Entry) error) error {
	var matchers []*logmodel.CompiledMatcher
	for _, mt := range p.Matchers {
		cm, err := compileMatcher(mt)
		if err != nil {
			return err
		}
		matchers = append(matchers, cm)
	}
	var filters []func([]byte) bool
	for _, f := range p.Filters {
		switch f.Type {
		case logmodel.LineContains, logmodel.LineNotContains:
			needle, neg := []byte(f.Value), f.Type == logmodel.LineNotContains
			filters = append(filters, func(l []byte) bool { return bytes.Contains(l, needle) != neg })
		case logmodel.LineRegexp, logmodel.LineNotRegexp:
			re, err := regexp.Compile(f.Value)
			if err != nil {
				return fmt.Errorf("memsource: line filter: %w", err)
			}
			neg := f.Type == logmodel.LineNotRegexp
			filters = append(filters, func(l []byte) bool { return re.Match(l) != neg })
		}
	}
	accept := func(e *Entry) bool {
		if e.Timestamp < p.Start || e.Timestamp >= p.End {
			return false
		}
		for _, cm := range matchers {
			if !cm.Matches(e.Labels.Get(cm.Name)) {
				return false
			}
		}
		for _, f := range filters {
			if !f(e.Line) {
				return false
			}
		}
		return true
	}
	workers := m.Workers()
	chunk := (len(m.Entries) + workers - 1) / workers
	errs := make([]error, workers)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(w*chunk, len(m.Entries)), min((w+1)*chunk, len(m.Entries))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi && !stop.Load(); i++ {
				if i%1024 == 0 {
					if errs[w] = ctx.Err(); errs[w] != nil {
						return
					}
				}
				e := &m.Entries[i]
				if !accept(e) {
					continue
				}
				if errs[w] = fn(w, e); errs[w] != nil {
					stop.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
