package archive

import (
	"fmt"
	"time"

	"github.com/kubelog/kubelog/internal/timeparse"
)

// Schedule says when a policy runs: at the top of every hour (@hourly), at
// midnight UTC (@daily), or every fixed interval (6h, 30m, 1d).
type Schedule struct {
	// Every is the interval; zero for @hourly and @daily, which align to
	// the clock.
	Every time.Duration
	// Align is time.Hour for @hourly and 24h for @daily.
	Align time.Duration
}

// MinInterval is the shortest interval schedule accepted.
const MinInterval = time.Minute

// ParseSchedule reads "@hourly", "@daily" or an interval of at least a
// minute.
func ParseSchedule(s string) (Schedule, error) {
	switch s {
	case "@hourly":
		return Schedule{Align: time.Hour}, nil
	case "@daily", "@midnight":
		return Schedule{Align: 24 * time.Hour}, nil
	case "":
		return Schedule{}, fmt.Errorf("schedule is empty; use @hourly, @daily or an interval such as 6h")
	}
	d, err := timeparse.ParseDuration(s)
	if err != nil {
		return Schedule{}, fmt.Errorf("%q is not @hourly, @daily or an interval such as 6h", s)
	}
	if d < MinInterval {
		return Schedule{}, fmt.Errorf("interval %q is shorter than %s", s, MinInterval)
	}
	return Schedule{Every: d}, nil
}

// Next returns the first run time after last. A policy that never ran
// (last zero) is due at once.
func (s Schedule) Next(last time.Time) time.Time {
	if last.IsZero() {
		return time.Time{}
	}
	if s.Align > 0 {
		return last.UTC().Truncate(s.Align).Add(s.Align)
	}
	return last.Add(s.Every)
}
