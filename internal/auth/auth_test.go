package auth

import (
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// newFakeClock returns a clock that moves only when told to.
func newFakeClock() *testingclock.FakeClock {
	return testingclock.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
}
