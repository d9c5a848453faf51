package search

import (
	"bytes"
	"strings"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Record is what an expression is matched against: one log entry.
//
// Match calls Line and Field any number of times and keeps neither the
// record nor the returned values. For Match to stay allocation-free, both
// methods must not allocate. A Record need not be safe for concurrent use;
// one Expr may match different Records in parallel.
type Record interface {
	// Line returns the raw log line. Match does not modify it.
	Line() []byte
	// Field returns the value of a stream label (cluster, namespace, pod,
	// container, app, node, ...) or a structured metadata key (level,
	// stream, ...), and whether the record has it. Match never asks for
	// "message" or "msg": those mean the line.
	Field(name string) (string, bool)
}

// Match always returns true.
func (MatchAll) Match(Record) bool { return true }

// Match reports whether every term matches; it stops at the first that does
// not.
func (e And) Match(r Record) bool {
	for _, t := range e.Terms {
		if !t.Match(r) {
			return false
		}
	}
	return true
}

// Match reports whether any term matches; it stops at the first that does.
func (e Or) Match(r Record) bool {
	for _, t := range e.Terms {
		if t.Match(r) {
			return true
		}
	}
	return false
}

// Match reports whether e.Expr does not match.
func (e Not) Match(r Record) bool { return !e.Expr.Match(r) }

// Match reports whether the line has e.Text as a whole token.
func (e Word) Match(r Record) bool { return containsPhrase(r.Line(), e.Text) }

// Match reports whether the line contains e.Text with token boundaries.
func (e Phrase) Match(r Record) bool { return containsPhrase(r.Line(), e.Text) }

// Match reports whether field e.Name equals e.Value.
func (e Field) Match(r Record) bool {
	if IsLineField(e.Name) {
		return string(r.Line()) == e.Value
	}
	v, ok := r.Field(e.Name)
	if !ok {
		return false
	}
	if e.Name == logmodel.MetaLevel {
		return equalFold(v, e.Value)
	}
	return v == e.Value
}

// Match reports whether field e.Name starts with e.Prefix.
func (e FieldPrefix) Match(r Record) bool {
	if IsLineField(e.Name) {
		line := r.Line()
		return len(line) >= len(e.Prefix) && string(line[:len(e.Prefix)]) == e.Prefix
	}
	v, ok := r.Field(e.Name)
	if !ok || len(v) < len(e.Prefix) {
		return false
	}
	if e.Name == logmodel.MetaLevel {
		return equalFold(v[:len(e.Prefix)], e.Prefix)
	}
	return strings.HasPrefix(v, e.Prefix)
}

// Match reports whether field e.Name contains a match of e.Re.
func (e FieldRegex) Match(r Record) bool {
	if IsLineField(e.Name) {
		return e.Re.Match(r.Line())
	}
	v, ok := r.Field(e.Name)
	return ok && e.Re.MatchString(v)
}

// containsPhrase reports whether line contains p under ASCII case folding, at
// a position where a p that starts (ends) with a token byte is not preceded
// (followed) by a token byte. For a one-token p that is a whole-token match.
func containsPhrase(line []byte, p string) bool {
	n := len(p)
	if n == 0 {
		return true
	}
	if n > len(line) {
		return false
	}
	// Candidates are the positions of p's first byte in either case, found
	// with bytes.IndexByte. Each finder remembers its next hit, so the line
	// is scanned once per case however many candidates fail.
	last := len(line) - n // the last position p can start at
	head := line[:last+1]
	lo, up := lower(p[0]), upper(p[0])
	nextLo, nextUp := -1, -1
	if lo == up {
		nextUp = len(line) // never a candidate
	}
	boundStart, boundEnd := tokenByte[p[0]], tokenByte[p[n-1]]
	for i := 0; i <= last; {
		if nextLo < i {
			nextLo = indexFrom(head, lo, i)
		}
		if nextUp < i {
			nextUp = indexFrom(head, up, i)
		}
		j := min(nextLo, nextUp)
		if j > last {
			return false
		}
		i = j + 1
		if boundStart && j > 0 && tokenByte[line[j-1]] {
			continue
		}
		end := j + n
		if boundEnd && end < len(line) && tokenByte[line[end]] {
			continue
		}
		if equalFold(line[j+1:end], p[1:]) {
			return true
		}
	}
	return false
}

// indexFrom returns the index of the first c in b at or after i, or len(b)+1
// when there is none (beyond every valid start, so min skips it).
func indexFrom(b []byte, c byte, i int) int {
	k := bytes.IndexByte(b[i:], c)
	if k < 0 {
		return len(b) + 1
	}
	return i + k
}
