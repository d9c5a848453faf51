package podlog

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	ok := func(in string) {
		t.Helper()
		want, err := time.Parse(time.RFC3339Nano, in)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", in, err)
		}
		got, valid := parseTimestamp([]byte(in))
		if !valid || got != want.UnixNano() {
			t.Fatalf("parseTimestamp(%q) = %d, %v; want %d, true", in, got, valid, want.UnixNano())
		}
	}
	ok("2026-12-07T17:46:46.123456789Z")
	ok("2026-12-07T17:46:46Z")
	ok("2026-12-07T17:46:46.1Z")
	ok("1970-01-01T00:00:00Z")
	ok("1969-12-31T23:59:59.999999999Z")
	ok("2000-02-29T12:00:00+05:30")
	ok("2024-03-01T00:00:00-23:59")
	ok("1677-09-21T00:12:43.145224192Z")
	ok("2262-04-11T23:47:16.854775807Z")
	ok("1900-03-01T00:00:00Z")
	bad := func(in string) {
		t.Helper()
		if got, valid := parseTimestamp([]byte(in)); valid {
			t.Fatalf("parseTimestamp(%q) = %d, true; want false", in, got)
		}
	}
	bad("")
	bad("2026-12-07")
	bad("2026-12-07 17:46:46Z")
	bad("2026-12-07T17:46:46")
	bad("2026-12-07T17:46:46.Z")
	bad("2026-12-07T17:46:46.1234567890Z")
	bad("2026-00-07T17:46:46Z")
	bad("2026-02-29T17:46:46Z")
	bad("1900-02-29T17:46:46Z")
	bad("2026-12-32T17:46:46Z")
	bad("2026-12-07T24:00:00Z")
	bad("2026-12-07T17:60:00Z")
	bad("2026-12-07T17:46:60Z")
	bad("2026-12-07T17:46:46+24:00")
	bad("2026-12-07T17:46:46+0200")
	bad("2026-12-07T17:46:46z")
	bad("2262-04-11T23:47:16.854775808Z")
	bad("1677-09-21T00:12:43.145224191Z")
	bad("+026-12-07T17:46:46Z")
}
