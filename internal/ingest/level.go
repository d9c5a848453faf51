package ingest

import (
	"bytes"

	"github.com/kubelog/kubelog/internal/jsonscan"
)

// Levels returned by DetectLevel and NormalizeLevel: from least to most
// severe, then LevelUnknown when no level is recognised.
const (
	LevelTrace   = "trace"
	LevelDebug   = "debug"
	LevelInfo    = "info"
	LevelNotice  = "notice"
	LevelWarn    = "warn"
	LevelError   = "error"
	LevelFatal   = "fatal"
	LevelUnknown = "unknown"
)

// Scan bounds keep DetectLevel's cost independent of the line length.
const (
	// jsonLevelScanLimit bounds the walk over a JSON object's top-level keys.
	jsonLevelScanLimit = 16 << 10
	// logfmtScanLimit bounds the search for a level= key.
	logfmtScanLimit = 1024
	// textScanLimit bounds the search for level words such as ERROR or [warn].
	textScanLimit = 256
)

// DetectLevel returns the severity of a log line: one of LevelTrace,
// LevelDebug, LevelInfo, LevelNotice, LevelWarn, LevelError, LevelFatal, or
// LevelUnknown when nothing recognisable is found.
//
// It looks, in order, at:
//   - a JSON object's top-level level, lvl, severity, loglevel, log.level,
//     log_level, levelname or severity_text field (a string, or a pino/bunyan
//     number such as 30), or a nested {"log":{"level":...}};
//   - positional prefixes: a syslog priority (<11>), a klog/glog header
//     (E1121 12:00:00.123456) and an Android logcat threadtime header;
//   - logfmt keys level=, lvl=, severity= (and the JSON key names above);
//   - the first level word in the line: ERROR or Error anywhere, lowercase
//     only as [warn], <warn>, (warn), warn: or as the first word.
//
// The scan is bounded (16 KiB for JSON, 1 KiB for logfmt, 256 bytes for
// words), does not allocate, and never fails.
func DetectLevel(line []byte) string {
	s := line
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	if len(s) == 0 {
		return LevelUnknown
	}
	if s[0] == '{' {
		if lv := jsonLevel(s); lv != "" {
			return lv
		}
	}
	if lv := prefixLevel(s); lv != "" {
		return lv
	}
	if lv := logfmtLevel(s); lv != "" {
		return lv
	}
	if lv := textLevel(s); lv != "" {
		return lv
	}
	return LevelUnknown
}

// NormalizeLevel maps a level name in any case, such as "WARNING", "Err",
// "crit", "dbg" or "I", to one of the Level constants, or LevelUnknown.
// Surrounding spaces are ignored.
func NormalizeLevel(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if lv := normalizeLevel(s); lv != "" {
		return lv
	}
	return LevelUnknown
}

// maxLevelWord is the length of the longest level word, "informational".
const maxLevelWord = 13

// Flags on a level word saying where free text may use it.
const (
	// wordTitle allows the Titlecase form (Error) anywhere in the text. The
	// ALLCAPS form is always allowed.
	wordTitle = 1 << iota
	// wordLower allows the lowercase form when bracketed ([warn]), followed by
	// a colon (warn:) or first in the line.
	wordLower
)

// minTextWord is the shortest level word looked for in free text; shorter
// ones, the single letters, count only as the value of a level field.
const minTextWord = 3

// levelWords lists the level names DetectLevel and NormalizeLevel know, in
// lowercase.
var levelWords = []struct {
	word, level string
	flags       int
}{
	{"trace", LevelTrace, wordTitle | wordLower},
	{"verbose", LevelTrace, wordTitle | wordLower},
	{"trc", LevelTrace, wordLower},
	{"vrb", LevelTrace, wordLower},
	{"finest", LevelTrace, 0},
	{"finer", LevelTrace, 0},
	{"t", LevelTrace, 0},
	{"v", LevelTrace, 0},
	{"debug", LevelDebug, wordTitle | wordLower},
	{"dbg", LevelDebug, wordLower},
	{"fine", LevelDebug, 0},
	{"d", LevelDebug, 0},
	{"info", LevelInfo, wordTitle | wordLower},
	{"information", LevelInfo, wordTitle | wordLower},
	{"inf", LevelInfo, wordLower},
	{"informational", LevelInfo, wordLower},
	{"i", LevelInfo, 0},
	{"notice", LevelNotice, wordTitle | wordLower},
	{"n", LevelNotice, 0},
	{"warn", LevelWarn, wordTitle | wordLower},
	{"warning", LevelWarn, wordTitle | wordLower},
	{"wrn", LevelWarn, wordLower},
	{"w", LevelWarn, 0},
	{"error", LevelError, wordTitle | wordLower},
	{"severe", LevelError, wordTitle | wordLower},
	{"err", LevelError, wordLower},
	{"e", LevelError, 0},
	{"fatal", LevelFatal, wordTitle | wordLower},
	{"critical", LevelFatal, wordTitle | wordLower},
	{"emergency", LevelFatal, wordTitle | wordLower},
	{"ftl", LevelFatal, wordLower},
	{"crit", LevelFatal, wordLower},
	{"emerg", LevelFatal, wordLower},
	{"alert", LevelFatal, wordLower},
	{"panic", LevelFatal, wordLower},
	{"dpanic", LevelFatal, wordLower},
	{"f", LevelFatal, 0},
}

// levelWordInfo is a levelWords entry without the word.
type levelWordInfo struct {
	level string
	flags int
}

var (
	// levelWordIndex maps each of levelWords to its level and flags.
	levelWordIndex = map[string]levelWordInfo{}
	// levelWordFirst and levelWordLast have bit n set for a byte c when some
	// level word of length n starts, or ends, with c in any case: a cheap
	// test that rejects almost every word of free text before the map lookup.
	levelWordFirst, levelWordLast [256]uint16
)

func init() {
	for _, w := range levelWords {
		levelWordIndex[w.word] = levelWordInfo{w.level, w.flags}
		n := len(w.word)
		first, last := w.word[0], w.word[n-1]
		levelWordFirst[first] |= 1 << n
		levelWordFirst[first-'a'+'A'] |= 1 << n
		levelWordLast[last] |= 1 << n
		levelWordLast[last-'a'+'A'] |= 1 << n
	}
}

// levelWord looks up a lowercase level name. It returns "" when w is not one.
func levelWord(w []byte) (level string, flags int) {
	info := levelWordIndex[string(w)]
	return info.level, info.flags
}

// normalizeLevel maps a level value in any case to a Level constant, or ""
// when it is not one. It does not allocate.
func normalizeLevel[T string | []byte](s T) string {
	if len(s) == 0 || len(s) > maxLevelWord {
		return ""
	}
	var buf [maxLevelWord]byte
	for i := 0; i < len(s); i++ {
		buf[i] = toLower(s[i])
	}
	lv, _ := levelWord(buf[:len(s)])
	return lv
}

// jsonLevel walks the top-level keys of a JSON object looking for a level
// field. It returns "" when there is none, its value is not recognised, or
// the object is malformed within the scan limit.
func jsonLevel(s []byte) string {
	if len(s) > jsonLevelScanLimit {
		s = s[:jsonLevelScanLimit]
	}
	l := jsonscan.Scanner{Buf: s, Quiet: true}
	return levelInObject(&l, 0)
}

// levelInObject scans the object at the scanner's position. depth counts
// nested "log" objects; only one level of nesting is followed.
func levelInObject(l *jsonscan.Scanner, depth int) string {
	if l.Enter('{') != nil {
		return ""
	}
	for first := true; ; first = false {
		more, err := l.More('}', first)
		if err != nil || !more {
			return ""
		}
		key, err := l.Key()
		if err != nil {
			return ""
		}
		l.SkipSpace()
		switch {
		case isLevelKey(key):
			if lv := levelValue(l); lv != "" {
				return lv
			}
			continue // levelValue consumed the value
		case depth == 0 && bytes.Equal(key, []byte("log")) && l.Peek() == '{':
			if lv := levelInObject(l, depth+1); lv != "" {
				return lv
			}
			continue // the nested object was consumed
		}
		if l.SkipValue(0) != nil {
			return ""
		}
	}
}

// levelValue consumes a JSON value and maps it to a level: a string level
// name, or a pino/bunyan number (10 trace … 60 fatal).
func levelValue(l *jsonscan.Scanner) string {
	switch c := l.Peek(); {
	case c == '"':
		raw, _, err := l.RawString()
		if err != nil {
			return ""
		}
		return normalizeLevel(raw)
	case c >= '0' && c <= '9':
		raw, err := l.Number()
		if err != nil {
			return ""
		}
		return pinoLevel(raw)
	}
	_ = l.SkipValue(0)
	return ""
}

// pinoLevel maps pino and bunyan numeric levels.
func pinoLevel(n []byte) string {
	switch string(n) {
	case "10":
		return LevelTrace
	case "20":
		return LevelDebug
	case "30":
		return LevelInfo
	case "40":
		return LevelWarn
	case "50":
		return LevelError
	case "60":
		return LevelFatal
	}
	return ""
}

// isLevelKey reports whether a JSON or logfmt key names the level, in any case.
func isLevelKey(k []byte) bool {
	const longest = len("severity_text")
	if len(k) < 3 || len(k) > longest {
		return false
	}
	var buf [longest]byte
	for i := 0; i < len(k); i++ {
		buf[i] = toLower(k[i])
	}
	switch string(buf[:len(k)]) {
	case "level", "lvl", "severity", "loglevel", "log.level", "log_level", "levelname", "severity_text":
		return true
	}
	return false
}

// prefixLevel recognises formats that put the level at a fixed place at the
// start of the line.
func prefixLevel(s []byte) string {
	switch c := s[0]; c {
	case '<':
		return syslogLevel(s)
	case 'I', 'W', 'E', 'F':
		// klog/glog: Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg
		if matchPattern(s[1:], "0000 00:00:00") {
			return klogLevel(c)
		}
	}
	if c := s[0]; c >= '0' && c <= '9' {
		return logcatLevel(s)
	}
	return ""
}

// syslogLevel reads an RFC 3164/5424 priority such as <11>; the severity is
// the priority modulo 8.
func syslogLevel(s []byte) string {
	pri := 0
	i := 1
	for ; i < len(s) && i <= 3 && s[i] >= '0' && s[i] <= '9'; i++ {
		pri = pri*10 + int(s[i]-'0')
	}
	if i == 1 || i >= len(s) || s[i] != '>' || pri > 191 {
		return ""
	}
	switch pri % 8 {
	case 0, 1, 2: // emerg, alert, crit
		return LevelFatal
	case 3:
		return LevelError
	case 4:
		return LevelWarn
	case 5:
		return LevelNotice
	case 6:
		return LevelInfo
	}
	return LevelDebug
}

func klogLevel(c byte) string {
	switch c {
	case 'I':
		return LevelInfo
	case 'W':
		return LevelWarn
	case 'E':
		return LevelError
	}
	return LevelFatal
}

// logcatLevel reads Android's default "threadtime" format:
// [yyyy-]mm-dd hh:mm:ss.mmm  pid  tid L tag: message.
func logcatLevel(s []byte) string {
	if matchPattern(s, "0000-") {
		s = s[5:]
	}
	const stamp = "00-00 00:00:00.000"
	if !matchPattern(s, stamp) {
		return ""
	}
	s = s[len(stamp):]
	for range 2 { // pid, tid
		n := 0
		for n < len(s) && s[n] == ' ' {
			n++
		}
		if n == 0 {
			return ""
		}
		s = s[n:]
		n = 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		if n == 0 {
			return ""
		}
		s = s[n:]
	}
	n := 0
	for n < len(s) && s[n] == ' ' {
		n++
	}
	if n == 0 || n+1 >= len(s) || s[n+1] != ' ' {
		return ""
	}
	switch s[n] {
	case 'V':
		return LevelTrace
	case 'D':
		return LevelDebug
	case 'I':
		return LevelInfo
	case 'W':
		return LevelWarn
	case 'E':
		return LevelError
	case 'F', 'A':
		return LevelFatal
	}
	return ""
}

// matchPattern reports whether s starts with pattern, where '0' in the
// pattern stands for any digit and other bytes stand for themselves.
func matchPattern(s []byte, pattern string) bool {
	if len(s) < len(pattern) {
		return false
	}
	for i := 0; i < len(pattern); i++ {
		p, c := pattern[i], s[i]
		if p == '0' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != p {
			return false
		}
	}
	return true
}

// logfmtLevel finds key=value pairs whose key names the level. Values may be
// quoted.
func logfmtLevel(s []byte) string {
	if len(s) > logfmtScanLimit {
		s = s[:logfmtScanLimit]
	}
	for off := 0; ; {
		i := bytes.IndexByte(s[off:], '=')
		if i < 0 {
			return ""
		}
		eq := off + i
		off = eq + 1
		k := eq
		for k > 0 && !isSpace(s[k-1]) {
			k--
		}
		if !isLevelKey(s[k:eq]) {
			continue
		}
		v := s[eq+1:]
		if len(v) > 0 && v[0] == '"' {
			v = v[1:]
			if end := bytes.IndexByte(v, '"'); end >= 0 {
				v = v[:end]
			}
		} else {
			end := 0
			for end < len(v) && !isSpace(v[end]) {
				end++
			}
			v = v[:end]
		}
		if lv := normalizeLevel(v); lv != "" {
			return lv
		}
	}
}

// textLevel returns the level of the first level word in the line's head.
// Words are runs of letters, digits and underscores, so ERROR_CODE and
// E1234 are not level words.
func textLevel(s []byte) string {
	cut := len(s) > textScanLimit
	if cut {
		s = s[:textScanLimit]
	}
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if j == len(s) && cut {
			return "" // the word may continue past the limit
		}
		if lv := wordLevel(s, i, j); lv != "" {
			return lv
		}
		i = j
	}
	return ""
}

// Letter cases of a word.
const (
	caseMixed = iota
	caseUpper
	caseTitle
	caseLower
)

// wordLevel checks whether s[i:j] is a level word in a form and context that
// free text allows.
func wordLevel(s []byte, i, j int) string {
	w := s[i:j]
	if len(w) < minTextWord || len(w) > maxLevelWord || levelWordFirst[w[0]]&levelWordLast[w[len(w)-1]]&(1<<len(w)) == 0 {
		return ""
	}
	var buf [maxLevelWord]byte
	upper, lower := 0, 0
	for k, c := range w {
		switch {
		case c >= 'A' && c <= 'Z':
			upper++
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z':
			lower++
		default:
			return "" // digits or underscores: an identifier
		}
		buf[k] = c
	}
	form := caseMixed
	switch {
	case lower == 0:
		form = caseUpper
	case upper == 0:
		form = caseLower
	case upper == 1 && w[0] >= 'A' && w[0] <= 'Z':
		form = caseTitle
	}
	lv, flags := levelWord(buf[:len(w)])
	if lv == "" {
		return ""
	}
	switch form {
	case caseUpper:
		return lv
	case caseTitle:
		if flags&wordTitle != 0 {
			return lv
		}
	case caseLower:
		if flags&wordLower != 0 && lowerContextOK(s, i, j) {
			return lv
		}
	}
	return ""
}

// lowerContextOK reports whether a lowercase word at s[i:j] is marked as a
// level: bracketed, followed by a colon, or first in the line.
func lowerContextOK(s []byte, i, j int) bool {
	next := byte(0)
	if j < len(s) {
		next = s[j]
	}
	if next == ':' {
		return true
	}
	if i == 0 {
		return next == 0 || next == ' ' || next == '\t'
	}
	switch s[i-1] {
	case '[':
		return next == ']'
	case '<':
		return next == '>'
	case '(':
		return next == ')'
	}
	return false
}

// wordBytes marks the bytes that make up words: ASCII letters, digits, '_'.
var wordBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = isLetter(byte(c)) || (c >= '0' && c <= '9') || c == '_'
	}
	return t
}()

func isWordByte(c byte) bool { return wordBytes[c] }

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
