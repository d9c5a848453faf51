package logql

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration units accepted in ranges, offsets and duration label filters: Go's
// units plus d (24h), w (7d) and y (365d), as in Prometheus.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
	{"us", time.Microsecond},
	{"µs", time.Microsecond},
	{"ns", time.Nanosecond},
}

var errBadDuration = errors.New("invalid duration")

// parseDuration parses a sequence of decimal numbers, each with an optional
// fraction and a unit: "5m", "1h30m", "1.5s", "2d". A leading "-" negates.
func parseDuration(s string) (time.Duration, error) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return 0, errBadDuration
	}
	var total int64
	for s != "" {
		i := 0
		for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, errBadDuration
		}
		num := s[:i]
		s = s[i:]
		j := 0
		for j < len(s) && !isDigit(s[j]) && s[j] != '.' {
			j++
		}
		unit := s[:j]
		s = s[j:]
		var ud time.Duration
		for _, u := range durationUnits {
			if u.name == unit {
				ud = u.d
				break
			}
		}
		if ud == 0 {
			return 0, errBadDuration
		}
		v, err := durationPart(num, int64(ud))
		if err != nil || total > math.MaxInt64-v {
			return 0, errBadDuration
		}
		total += v
	}
	d := time.Duration(total)
	if neg {
		d = -d
	}
	return d, nil
}

// durationPart returns num units of size unit, exactly for whole numbers.
func durationPart(num string, unit int64) (int64, error) {
	whole, frac, _ := strings.Cut(num, ".")
	if strings.Contains(frac, ".") || (whole == "" && frac == "") {
		return 0, errBadDuration
	}
	var v int64
	if whole != "" {
		w, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || w > math.MaxInt64/unit {
			return 0, errBadDuration
		}
		v = w * unit
	}
	if frac != "" {
		f, err := strconv.ParseFloat("0."+frac, 64)
		if err != nil {
			return 0, errBadDuration
		}
		fv := int64(math.Round(f * float64(unit)))
		if v > math.MaxInt64-fv {
			return 0, errBadDuration
		}
		v += fv
	}
	return v, nil
}

// formatDuration renders d exactly, with the largest units first, in a form
// parseDuration reads back: 90s is "1m30s", 8d is "1w1d", 0 is "0s".
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = uint64(-d)
		if d == math.MinInt64 {
			u = 1 << 63
		}
	}
	for _, unit := range durationUnits {
		if unit.name == "µs" {
			continue
		}
		if q := u / uint64(unit.d); q > 0 {
			b.WriteString(strconv.FormatUint(q, 10))
			b.WriteString(unit.name)
			u -= q * uint64(unit.d)
		}
	}
	return b.String()
}

// Byte units, case-insensitive, in the style of go-humanize: k, kb and K are
// powers of 1000; ki and kib are powers of 1024.
var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1e18, "ei": 1 << 60, "eib": 1 << 60,
}

var errBadBytes = errors.New("invalid byte size")

// parseBytes parses a byte size such as "20MB", "1.5KiB", "3k" or "5 MiB".
func parseBytes(s string) (uint64, error) {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, errBadBytes
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, errBadBytes
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	m, ok := byteUnits[unit]
	if !ok {
		return 0, errBadBytes
	}
	v := n * m
	if v >= math.MaxUint64 {
		return 0, errBadBytes
	}
	return uint64(v), nil
}

// formatBytes renders n exactly in a form parseBytes reads back, preferring
// binary units: 2048 is "2KiB", 20000000 is "20MB", 1500 is "1500B".
func formatBytes(n uint64) string {
	bin := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	dec := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	if n == 0 {
		return "0B"
	}
	for i := len(bin) - 1; i >= 0; i-- {
		if m := uint64(1) << (10 * (i + 1)); n%m == 0 {
			return strconv.FormatUint(n/m, 10) + bin[i]
		}
	}
	m := uint64(1)
	best := -1
	for i := range dec {
		m *= 1000
		if n%m == 0 {
			best = i
		}
	}
	if best >= 0 {
		return strconv.FormatUint(n/pow1000(best+1), 10) + dec[best] // #nosec G602 -- best indexes dec in the loop above
	}
	return strconv.FormatUint(n, 10) + "B"
}

func pow1000(k int) uint64 {
	m := uint64(1)
	for range k {
		m *= 1000
	}
	return m
}

// formatFloat renders a float so that strconv.ParseFloat reads it back exactly.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
