package cli

import (
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
)

func TestProgressLine(t *testing.T) {
	f := func(lines, total, raw int64, percent float64, elapsed time.Duration, bar bool, want string) {
		t.Helper()
		j := &apiclient.ArchiveJob{Status: "running"}
		j.Progress.Lines, j.Progress.TotalLines, j.Progress.RawBytes, j.Progress.Percent, j.Progress.Objects = lines, total, raw, percent, 3
		if got := progressLine(j, elapsed, bar); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
	f(250, 1000, 50e6, 25, 10*time.Second, true, "[#######-----------------------]  25.0% 250/1000 lines, 3 objects, 5.0 MB/s, ETA 30s")
	f(250, 1000, 50e6, 25, 10*time.Second, false, "running  25.0% 250/1000 lines, 3 objects, 5.0 MB/s, ETA 30s")
	f(0, 0, 0, 0, 0, false, "running   0.0% 0/0 lines, 3 objects, 0.0 MB/s, ETA ?")
	f(1000, 1000, 1e6, 100, time.Second, true, "[##############################] 100.0% 1000/1000 lines, 3 objects, 1.0 MB/s, ETA 0s")
}
