package timeparse

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxUnixSeconds is the last second whose nanosecond count fits in an int64
// (2262-04-11), the range of every timestamp kubelog stores.
const maxUnixSeconds = math.MaxInt64 / int64(time.Second)

// ParseTime parses a point in time in any of the forms the APIs accept, and
// returns it in UTC:
//
//   - RFC3339, with or without fractional seconds: "2026-11-21T12:00:00.123Z".
//   - A Unix integer, read by its digit count: up to 10 digits are seconds
//     (so "0" and "86400" are seconds), 13 milliseconds, 16 microseconds, 19
//     nanoseconds. Any other length is an error: an 11-digit number is as
//     likely seconds with a stray digit as milliseconds with one missing.
//   - Loki's float seconds: "1700000000.123" (up to nanosecond precision;
//     further digits are truncated).
//
// Signs, exponents and surrounding spaces are not accepted.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("invalid time %q: empty", s)
	}
	if intPart, fracPart, ok := strings.Cut(s, "."); ok && allDigits(intPart) && allDigits(fracPart) {
		return parseFloatSeconds(s, intPart, fracPart)
	}
	if allDigits(s) {
		return parseUnixInteger(s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: want RFC3339, Unix seconds, milliseconds, microseconds or nanoseconds, or float seconds", s)
	}
	return t.UTC(), nil
}

func parseUnixInteger(s string) (time.Time, error) {
	switch len(s) {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 16, 19:
	default:
		return time.Time{}, fmt.Errorf("invalid time %q: %d digits; a Unix time has up to 10 digits (seconds), 13 (milliseconds), 16 (microseconds) or 19 (nanoseconds)", s, len(s))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: out of range", s)
	}
	switch {
	case len(s) <= 10:
		if n > maxUnixSeconds {
			return time.Time{}, fmt.Errorf("invalid time %q: out of range", s)
		}
		return time.Unix(n, 0).UTC(), nil
	case len(s) == 13:
		return time.UnixMilli(n).UTC(), nil
	case len(s) == 16:
		return time.UnixMicro(n).UTC(), nil
	default:
		return time.Unix(0, n).UTC(), nil
	}
}

func parseFloatSeconds(s, intPart, fracPart string) (time.Time, error) {
	if intPart == "" && fracPart == "" {
		return time.Time{}, fmt.Errorf("invalid time %q: no digits", s)
	}
	var sec int64
	if intPart != "" {
		var err error
		sec, err = strconv.ParseInt(intPart, 10, 64)
		if err != nil || sec > maxUnixSeconds {
			return time.Time{}, fmt.Errorf("invalid time %q: out of range", s)
		}
	}
	var nsec int64
	scale := int64(time.Second)
	for i := 0; i < len(fracPart) && i < 9; i++ {
		scale /= 10
		nsec += int64(fracPart[i]-'0') * scale
	}
	if sec == maxUnixSeconds && nsec > math.MaxInt64%int64(time.Second) {
		return time.Time{}, fmt.Errorf("invalid time %q: out of range", s)
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// allDigits reports whether s consists of ASCII digits only; "" qualifies.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
