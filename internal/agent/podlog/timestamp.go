package podlog

import "math"

// maxTimestampLen is the length of the longest timestamp parseTimestamp
// accepts: nine fraction digits and a numeric zone offset.
const maxTimestampLen = len("2006-01-02T15:04:05.999999999-07:00")

// nsPerSecond is the number of nanoseconds in a second.
const nsPerSecond int64 = 1e9

// parseTimestamp parses an RFC 3339 timestamp with an optional fraction of
// one to nine digits, as the kubelet and Docker write them, into Unix
// nanoseconds. It refuses times whose nanosecond count does not fit an int64.
// It does the work of time.Parse(time.RFC3339Nano, ...) without allocating.
func parseTimestamp(b []byte) (int64, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") || len(b) > maxTimestampLen {
		return 0, false
	}
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := b[19:]
	var frac int64
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			frac = frac*10 + int64(rest[n]-'0')
			n++
		}
		ndigits := n - 1
		if ndigits == 0 || ndigits > 9 {
			return 0, false
		}
		for i := ndigits; i < 9; i++ {
			frac *= 10
		}
		rest = rest[n:]
	}
	var offset int64
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec - offset
	if secs >= 0 {
		if secs > math.MaxInt64/nsPerSecond || secs*nsPerSecond > math.MaxInt64-frac {
			return 0, false
		}
		return secs*nsPerSecond + frac, true
	}
	// Counted from the next second up, so that the last second of the range,
	// whose start is below math.MinInt64, still reads.
	if secs+1 < math.MinInt64/nsPerSecond {
		return 0, false
	}
	base := (secs + 1) * nsPerSecond
	if base < math.MinInt64+(nsPerSecond-frac) {
		return 0, false
	}
	return base - (nsPerSecond - frac), true
}

// digits reads a run of ASCII digits as a number.
func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of a month of the proleptic Gregorian
// calendar.
func daysIn(year, month int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to a date of the
// proleptic Gregorian calendar, counting in 400-year eras from March 1st so
// that the leap day ends each year.
func daysFromCivil(year, month, day int64) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 && year%400 != 0 {
		era--
	}
	yoe := year - era*400
	m := month + 9
	if month > 2 {
		m = month - 3
	}
	doy := (153*m+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
