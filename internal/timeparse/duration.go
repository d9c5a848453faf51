// Package timeparse reads the times and durations that every kubelog surface
// accepts: RFC3339 times, Unix integers read by their digit count, Loki's
// float seconds, and Go durations extended with days (d) and weeks (w).
package timeparse

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Day and Week are the units ParseDuration adds to Go's. A day is always 24
// hours here: durations are elapsed time, not calendar arithmetic.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// durationUnits maps each unit suffix to its length in nanoseconds. Both the
// micro sign (U+00B5) and the Greek mu (U+03BC) spell microseconds, as in Go.
var durationUnits = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond),
	"μs": uint64(time.Microsecond),
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(Day),
	"w":  uint64(Week),
}

// maxFracDigits is how many fraction digits ParseDuration reads exactly;
// later digits are worth less than a nanosecond even for weeks, and are
// checked but ignored.
const maxFracDigits = 18

// ErrOutOfRange is returned, wrapped, for a duration beyond
// time.Duration's range (about 292 years).
var ErrOutOfRange = errors.New("out of range")

// ParsePositive parses a duration as ParseDuration does and refuses zero
// and negative ones. Its errors say which of the three is wrong, to follow
// the name of the field.
func ParsePositive(s string) (time.Duration, error) {
	d, err := ParseDuration(s)
	switch {
	case errors.Is(err, ErrOutOfRange):
		return 0, fmt.Errorf("%q is too long: the longest duration is 106751d (about 292 years)", s)
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration such as 15m, 6h or 7d", s)
	case d <= 0:
		return 0, fmt.Errorf("%q is not positive", s)
	}
	return d, nil
}

// ParseDuration parses a Go duration ("1h30m", "1.5s", "-90m") that may also
// use d (24h) and w (7d) units, alone or mixed: "7d", "2w", "1d12h". A bare
// "0" is zero; any other number needs a unit. Fractions are computed exactly
// (truncated to the nanosecond), and a result beyond time.Duration's range is
// an error.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q", orig)
	}
	var total uint64
	for s != "" {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		intDigits := s[:i]
		s = s[i:]
		var fracDigits string
		if s != "" && s[0] == '.' {
			s = s[1:]
			j := 0
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			fracDigits = s[:j]
			s = s[j:]
		}
		if intDigits == "" && fracDigits == "" {
			return 0, fmt.Errorf("invalid duration %q: expected a number", orig)
		}
		k := 0
		for k < len(s) && s[k] != '.' && !isDigit(s[k]) {
			k++
		}
		unitName := s[:k]
		s = s[k:]
		if unitName == "" {
			return 0, fmt.Errorf("invalid duration %q: missing unit (one of ns, us, ms, s, m, h, d, w)", orig)
		}
		unit, ok := durationUnits[unitName]
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (want ns, us, ms, s, m, h, d or w)", orig, unitName)
		}
		v, ok := segmentNanos(intDigits, fracDigits, unit)
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: %w", orig, ErrOutOfRange)
		}
		total += v
		if total < v || total > 1<<63 {
			return 0, fmt.Errorf("invalid duration %q: %w", orig, ErrOutOfRange)
		}
	}
	if neg {
		return -time.Duration(total), nil
	}
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("invalid duration %q: %w", orig, ErrOutOfRange)
	}
	return time.Duration(total), nil
}

// segmentNanos returns intDigits.fracDigits × unit in nanoseconds, truncated,
// and false if it does not fit in 64 bits.
func segmentNanos(intDigits, fracDigits string, unit uint64) (uint64, bool) {
	var whole uint64
	if intDigits != "" {
		n, err := strconv.ParseUint(intDigits, 10, 64)
		if err != nil {
			return 0, false
		}
		hi, lo := bits.Mul64(n, unit)
		if hi != 0 {
			return 0, false
		}
		whole = lo
	}
	if len(fracDigits) > maxFracDigits {
		fracDigits = fracDigits[:maxFracDigits]
	}
	if fracDigits == "" {
		return whole, true
	}
	f, scale := uint64(0), uint64(1)
	for i := 0; i < len(fracDigits); i++ {
		f = f*10 + uint64(fracDigits[i]-'0')
		scale *= 10
	}
	// f < scale, so f*unit/scale < unit and Div64 cannot overflow.
	hi, lo := bits.Mul64(f, unit)
	frac, _ := bits.Div64(hi, lo, scale)
	sum := whole + frac
	return sum, sum >= whole
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Duration is a time.Duration that reads and writes itself as text: it
// marshals as Go's duration string ("720h0m0s") and unmarshals anything
// ParseDuration accepts ("30d"), so JSON and YAML configs can say "30d".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
