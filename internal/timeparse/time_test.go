package timeparse

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	f := func(in string, want time.Time) {
		t.Helper()
		got, err := ParseTime(in)
		if err != nil {
			t.Fatalf("ParseTime(%q): unexpected error: %v", in, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v; want %v in UTC", in, got, want)
		}
	}
	base := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC) // 1700000000
	f("2023-11-14T22:13:20Z", base)
	f("2023-11-14T22:13:20.123456789Z", base.Add(123456789))
	f("2023-11-14T23:13:20.5+01:00", base.Add(500*time.Millisecond))
	f("1700000000", base)
	f("1700000000123", base.Add(123*time.Millisecond))
	f("1700000000123456", base.Add(123456*time.Microsecond))
	f("1700000000123456789", base.Add(123456789))
	f("0", time.Unix(0, 0))
	f("86400", time.Unix(86400, 0))
	f("1700000000.123", base.Add(123*time.Millisecond))
	f("1700000000.123456789", base.Add(123456789))
	f("1700000000.1234567899", base.Add(123456789))
	f("1700000000.", base)
	f(".5", time.Unix(0, 5e8))
	f("9223372036.854775807", time.Unix(0, 1<<63-1))
	f("9223372036854775807", time.Unix(0, 1<<63-1))
}

func TestParseTimeErrors(t *testing.T) {
	f := func(in, wantSubstr string) {
		t.Helper()
		got, err := ParseTime(in)
		if err == nil {
			t.Fatalf("ParseTime(%q) = %v; want an error containing %q", in, got, wantSubstr)
		}
		if !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("ParseTime(%q): got error %q; want it to contain %q", in, err, wantSubstr)
		}
	}
	f("", "empty")
	f(".", "no digits")
	f("-1700000000", "want RFC3339")
	f(" 1700000000", "want RFC3339")
	f("1.7e9", "want RFC3339")
	f("2023-11-14", "want RFC3339")
	f("2023-11-14 22:13:20Z", "want RFC3339")
	f("yesterday", "want RFC3339")
	f("1.2.3", "want RFC3339")
	f("9999999999", "out of range")
	f("9223372036854775808", "out of range")
	f("12345678901234567890", "20 digits")
	f("17000000001", "11 digits")
	f("170000000012", "12 digits")
	f("17000000000000", "14 digits")
	f("170000000000000", "15 digits")
	f("17000000000000000", "17 digits")
	f("170000000000000000", "18 digits")
	f("9223372037.0", "out of range")
	f("9223372036.854775808", "out of range")
	f("99999999999999999999.5", "out of range")
}

var timeSeeds = []string{
	"2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123456789+05:30", "1700000000", "1700000000123",
	"1700000000123456", "1700000000123456789", "1700000000.123", "0", ".5", "5.", ".", "",
	"9223372036.854775807", "9999999999", "-1", "1e9", "2023-11-14",
}

func FuzzParseTime(f *testing.F) {
	for _, s := range timeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseTime(in)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v; want UTC", in, got)
		}
		// Whatever form it came in, it must survive a trip through RFC3339.
		s := got.Format(time.RFC3339Nano)
		back, err := ParseTime(s)
		if err != nil || !back.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v, whose RFC3339 form %q reads back as %v, %v", in, got, s, back, err)
		}
	})
}
