package search

import (
	"regexp"
	"strings"
)

// Expr is a parsed search expression. The node types are And, Or, Not, Word,
// Phrase, Field, FieldPrefix, FieldRegex and MatchAll; a caller that
// translates an expression (for example into a storage plan) switches on
// them. Expressions are immutable and safe for concurrent use.
type Expr interface {
	// Match reports whether r satisfies the expression. It does not retain
	// r or the line r returns, and allocates nothing beyond what r's methods
	// and package regexp (which pools its matchers) do.
	Match(r Record) bool
	// String renders the expression in canonical syntax: for any expression
	// returned by Parse, Parse(e.String()) returns an equal expression. A
	// hand-built tree parses back only if its field names are valid and
	// MatchAll, if present, is the whole tree.
	String() string

	// write appends the canonical syntax to b. Being unexported, it also
	// keeps the set of node types closed.
	write(b *strings.Builder)
}

// MatchAll matches every record. Parse returns it for an empty or all-space
// query, and never inside another node; its String is "".
type MatchAll struct{}

// And matches when every term matches. Parse flattens nested conjunctions and
// produces at least two terms.
type And struct{ Terms []Expr }

// Or matches when at least one term matches. Parse flattens nested
// disjunctions and produces at least two terms.
type Or struct{ Terms []Expr }

// Not matches when Expr does not match.
type Not struct{ Expr Expr }

// Word matches a line that has Text as a whole token, compared with ASCII case
// folding: "timeout" matches "Timeout after 5s" but not "timeouts". Parse
// produces a Word only for a bare word that is exactly one token (see
// NextToken); other bare words become a Phrase.
type Word struct{ Text string }

// Phrase matches a line that contains Text, compared with ASCII case folding,
// where a Text that begins (ends) with a token byte must not be preceded
// (followed) by another token byte in the line. So "timeout after" matches
// "request Timeout after 5s" but not "timeout  after" or "xtimeout after",
// and ".com" matches "example.com".
type Phrase struct{ Text string }

// Field matches a record whose field Name is present and equal to Value. The
// level field compares with ASCII case folding, every other field exactly. The
// names "message" and "msg" stand for the line itself (see IsLineField), so
// message:"x" matches a line that is exactly x.
type Field struct{ Name, Value string }

// FieldPrefix matches a record whose field Name is present and starts with
// Prefix (folding case for level, as Field does). An empty Prefix matches any
// record that has the field.
type FieldPrefix struct{ Name, Prefix string }

// FieldRegex matches a record whose field Name is present and contains a match
// of Re (unanchored; use ^ and $ to anchor). Re must not be nil.
type FieldRegex struct {
	Name string
	Re   *regexp.Regexp
}

// IsLineField reports whether name refers to the log line rather than to a
// label or metadata key: "message" or "msg".
func IsLineField(name string) bool { return name == "message" || name == "msg" }

// String renders e in canonical syntax.
func (e MatchAll) String() string { return render(e) }

// String renders e in canonical syntax.
func (e And) String() string { return render(e) }

// String renders e in canonical syntax.
func (e Or) String() string { return render(e) }

// String renders e in canonical syntax.
func (e Not) String() string { return render(e) }

// String renders e in canonical syntax.
func (e Word) String() string { return render(e) }

// String renders e in canonical syntax.
func (e Phrase) String() string { return render(e) }

// String renders e in canonical syntax.
func (e Field) String() string { return render(e) }

// String renders e in canonical syntax.
func (e FieldPrefix) String() string { return render(e) }

// String renders e in canonical syntax.
func (e FieldRegex) String() string { return render(e) }

func render(e Expr) string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (MatchAll) write(*strings.Builder) {}

func (e And) write(b *strings.Builder) { writeList(b, e.Terms, " AND ", precAnd) }
func (e Or) write(b *strings.Builder)  { writeList(b, e.Terms, " OR ", precOr) }

func (e Not) write(b *strings.Builder) {
	b.WriteString("NOT ")
	writeOperand(b, e.Expr, precNot)
}

func (e Word) write(b *strings.Builder) {
	if isSingleToken(e.Text) && !isKeyword(e.Text) {
		b.WriteString(e.Text)
		return
	}
	writeQuoted(b, e.Text)
}

func (e Phrase) write(b *strings.Builder) { writeQuoted(b, e.Text) }

func (e Field) write(b *strings.Builder) {
	b.WriteString(e.Name)
	b.WriteByte(':')
	if bareValue(e.Value) && e.Value[len(e.Value)-1] != '*' {
		b.WriteString(e.Value)
		return
	}
	writeQuoted(b, e.Value)
}

func (e FieldPrefix) write(b *strings.Builder) {
	b.WriteString(e.Name)
	b.WriteByte(':')
	if e.Prefix == "" || bareValue(e.Prefix) {
		b.WriteString(e.Prefix)
	} else {
		writeQuoted(b, e.Prefix)
	}
	b.WriteByte('*')
}

func (e FieldRegex) write(b *strings.Builder) {
	b.WriteString(e.Name)
	b.WriteString(":/")
	src := e.Re.String()
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '/':
			b.WriteString(`\/`)
		case c == '\\' && i+1 < len(src):
			// Keep an escape pair together so that its second byte is never
			// mistaken for a delimiter; "\/" in the source means "/".
			i++
			if src[i] == '/' {
				b.WriteString(`\/`)
			} else {
				b.WriteByte(c)
				b.WriteByte(src[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('/')
}

// Operator precedence, loosest first; operands bound less tightly than their
// parent are parenthesised.
const (
	precOr = iota
	precAnd
	precNot
	precTerm
)

func precedence(e Expr) int {
	switch e.(type) {
	case Or:
		return precOr
	case And:
		return precAnd
	case Not:
		return precNot
	}
	return precTerm
}

func writeList(b *strings.Builder, terms []Expr, sep string, prec int) {
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		// An operand of the same precedence is parenthesised too, so that a
		// hand-built nested And or Or keeps its shape.
		writeOperand(b, t, prec+1)
	}
}

func writeOperand(b *strings.Builder, e Expr, min int) {
	if precedence(e) >= min {
		e.write(b)
		return
	}
	b.WriteByte('(')
	e.write(b)
	b.WriteByte(')')
}

// writeQuoted writes s as a phrase, escaping '"' and '\'.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// bareValue reports whether a field value can be written unquoted: it is
// not empty, has no space or parenthesis, and does not start like a phrase
// or a regex. A value ending in '*' is bare only as a FieldPrefix.
func bareValue(s string) bool {
	if s == "" || s[0] == '"' || s[0] == '/' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if isDelim(s[i]) {
			return false
		}
	}
	return true
}

func isKeyword(s string) bool { return s == "AND" || s == "OR" || s == "NOT" }

// isSpace reports whether c separates terms: ASCII space, \t, \n, \v, \f, \r.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// isDelim reports whether c ends a bare word or value.
func isDelim(c byte) bool { return isSpace(c) || c == '(' || c == ')' }
