package logql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// countingSource is a MemSource that also answers counts, as the store does.
type countingSource struct{ MemSource }

func (c *countingSource) CountStreams(ctx context.Context, ms []logmodel.Matcher, start, end int64) ([]StreamCount, error) {
	byKey := map[string]*StreamCount{}
	var out []*StreamCount
	err := c.SelectLogs(ctx, SelectParams{Matchers: ms, Start: start, End: end}, func(_ int, e *Entry) error {
		k := e.Labels.String()
		sc := byKey[k]
		if sc == nil {
			sc = &StreamCount{Labels: e.Labels}
			byKey[k] = sc
			out = append(out, sc)
		}
		sc.Entries++
		sc.Bytes += uint64(len(e.Line))
		return nil
	})
	res := make([]StreamCount, len(out))
	for i, sc := range out {
		res[i] = *sc
	}
	return res, err
}

// TestCounterMatchesScan checks that counts answered from metadata equal
// the ones computed entry by entry.
func TestCounterMatchesScan(t *testing.T) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var es []Entry
	for i := 0; i < 3000; i++ {
		es = append(es, Entry{
			Labels:    logmodel.FromPairs("app", fmt.Sprint("a", i%3), "pod", fmt.Sprint("p", i%5)),
			Timestamp: base + int64(i)*int64(1700*time.Millisecond),
			Line:      []byte(fmt.Sprintf("line %d %s", i, string(make([]byte, i%7)))),
		})
	}
	plain, err := NewEngine(&MemSource{Entries: es}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	counted, err := NewEngine(&countingSource{MemSource{Entries: es}}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{
		`count_over_time({app=~".+"}[1m])`,
		`sum by (app) (rate({app=~".+"}[5m]))`,
		`sum(bytes_over_time({app="a1"}[30s] offset 1m))`,
		`sum without (pod) (bytes_rate({app=~".+", pod!="p0"}[2m]))`,
		`sum(count_over_time({app=~".+"}[10s]))`,
	} {
		expr, err := ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []time.Duration{10 * time.Second, time.Minute, 7 * time.Minute} {
			a, err := plain.QueryRange(ctx, expr, base, base+int64(80*time.Minute), step)
			if err != nil {
				t.Fatal(err)
			}
			b, err := counted.QueryRange(ctx, expr, base, base+int64(80*time.Minute), step)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("%s step %v: counted result differs:\n%v\n%v", q, step, a, b)
			}
		}
		a, _ := plain.QueryInstant(ctx, expr, base+int64(40*time.Minute))
		b, _ := counted.QueryInstant(ctx, expr, base+int64(40*time.Minute))
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s instant: counted result differs:\n%v\n%v", q, a, b)
		}
	}
}
