package timeparse

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	f := func(in string, want time.Duration) {
		t.Helper()
		got, err := ParseDuration(in)
		if err != nil {
			t.Fatalf("ParseDuration(%q): unexpected error: %v", in, err)
		}
		if got != want {
			t.Fatalf("ParseDuration(%q) = %v; want %v", in, got, want)
		}
	}
	f("0", 0)
	f("-0", 0)
	f("+0", 0)
	f("720h", 720*time.Hour)
	f("1h30m", 90*time.Minute)
	f("7d", 7*Day)
	f("2w", 14*Day)
	f("1d12h", 36*time.Hour)
	f("1w2d3h4m5s6ms7us8ns", Week+2*Day+3*time.Hour+4*time.Minute+5*time.Second+6*time.Millisecond+7*time.Microsecond+8)
	f("1.5d", 36*time.Hour)
	f(".5w", 84*time.Hour)
	f("5.s", 5*time.Second)
	f("-1d", -Day)
	f("+2w", 2*Week)
	f("1.5s", 1500*time.Millisecond)
	f("3µs", 3*time.Microsecond)
	f("3μs", 3*time.Microsecond)
	f("0.000000001s", 1)
	f("0.0000000009s", 0)
	f("1.0000000000000000000001h", time.Hour)
	f("9223372036854775807ns", 1<<63-1)
	f("-9223372036854775808ns", -1<<63)
	f("15250w", 15250*Week)
}

func TestParseDurationErrors(t *testing.T) {
	f := func(in, wantSubstr string) {
		t.Helper()
		_, err := ParseDuration(in)
		if err == nil {
			t.Fatalf("ParseDuration(%q): got nil error; want one containing %q", in, wantSubstr)
		}
		if !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("ParseDuration(%q): got error %q; want it to contain %q", in, err, wantSubstr)
		}
	}
	f("", "invalid duration")
	f("-", "invalid duration")
	f("5", "missing unit")
	f("00", "missing unit")
	f("1d5", "missing unit")
	f("3y", `unknown unit "y"`)
	f("3D", `unknown unit "D"`)
	f(".d", "expected a number")
	f("d", "expected a number")
	f("1..5s", "missing unit")
	f(" 1s", "expected a number")
	f("9223372036854775808ns", "out of range")
	f("15251w", "out of range")
	f("99999999999999999999ns", "out of range")
	f("10000000000000000w", "out of range")
	f("-9223372036854775809ns", "out of range")
	f("5000000h5000000h", "out of range")
}

// TestParseDurationMatchesGo checks that inputs without d or w read the same
// as time.ParseDuration reads them.
func TestParseDurationMatchesGo(t *testing.T) {
	for _, in := range durationSeeds {
		checkAgainstGo(t, in)
	}
}

var durationSeeds = []string{
	"0", "-0", "1h30m", "7d", "2w", "1d12h", "1.5s", ".5s", "5.s", "-90m", "+3h",
	"3µs", "1ns", "1us", "1ms", "100ms", "2562047h47m16.854775807s", "-2562047h47m16.854775808s",
	"1.000000000000000000001s", "1e3s", "", "-", ".", "5", "3y", "1h-1m",
}

func checkAgainstGo(t *testing.T, in string) {
	t.Helper()
	if strings.ContainsAny(in, "dw") {
		return
	}
	want, wantErr := time.ParseDuration(in)
	got, err := ParseDuration(in)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("ParseDuration(%q) error = %v; time.ParseDuration error = %v", in, err, wantErr)
	}
	if err != nil {
		return
	}
	// time.ParseDuration computes fractions in floating point, so it may be
	// off by a few nanoseconds on huge values; ours is exact.
	diff := got - want
	if diff < 0 {
		diff = -diff
	}
	tolerance := time.Duration(1)
	if a := max(got, -got) >> 50; a > tolerance {
		tolerance = a
	}
	if diff > tolerance {
		t.Fatalf("ParseDuration(%q) = %d; time.ParseDuration = %d", in, got, want)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range durationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDuration(in)
		checkAgainstGo(t, in)
		if err != nil {
			return
		}
		// Go's own formatting of the result must read back to the same value.
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, which reads back as %v, %v", in, d, back, err)
		}
	})
}

func TestDurationJSON(t *testing.T) {
	var v struct {
		Retention Duration `json:"retention"`
	}
	if err := json.Unmarshal([]byte(`{"retention":"30d"}`), &v); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if got, want := time.Duration(v.Retention), 30*Day; got != want {
		t.Fatalf("got %v; want %v", got, want)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if got, want := string(b), `{"retention":"720h0m0s"}`; got != want {
		t.Fatalf("got %s; want %s", got, want)
	}
	if err := json.Unmarshal([]byte(`{"retention":"30x"}`), &v); err == nil || !strings.Contains(err.Error(), `unknown unit "x"`) {
		t.Fatalf("got error %v; want one naming the unit", err)
	}
}

func TestParsePositive(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"99999999d", "too long"},
		{"-99999999d", "too long"},
		{"0", "not positive"},
		{"-5m", "not positive"},
		{"soon", "not a duration"},
	} {
		if _, err := ParsePositive(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePositive(%q): %v, want %q", c.in, err, c.want)
		}
	}
	if d, err := ParsePositive("1d12h"); err != nil || d != 36*time.Hour {
		t.Errorf("ParsePositive(1d12h) = %v, %v", d, err)
	}
}
