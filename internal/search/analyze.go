package search

import "slices"

// RequiredTokens returns tokens that every line matching e contains as whole
// tokens, folded with AppendFolded, without duplicates, in order of first
// appearance. A storage engine may skip a block whose token index (built from
// NextToken and AppendFolded) lacks any of them. The result is nil when
// nothing is required.
//
// The tokens come from the words and phrases that e requires: those of every
// operand of an And, and those common to every operand of an Or. Nothing
// under a Not counts, and neither do field terms (message:"..." included).
func RequiredTokens(e Expr) []string {
	switch e := e.(type) {
	case Word:
		return foldedTokens(nil, e.Text)
	case Phrase:
		return foldedTokens(nil, e.Text)
	case And:
		var out []string
		for _, t := range e.Terms {
			for _, tok := range RequiredTokens(t) {
				if !slices.Contains(out, tok) {
					out = append(out, tok)
				}
			}
		}
		return out
	case Or:
		if len(e.Terms) == 0 {
			return nil
		}
		out := RequiredTokens(e.Terms[0])
		for _, t := range e.Terms[1:] {
			if len(out) == 0 {
				return nil
			}
			other := RequiredTokens(t)
			out = slices.DeleteFunc(out, func(tok string) bool { return !slices.Contains(other, tok) })
		}
		return out
	}
	return nil
}

// foldedTokens appends the distinct folded tokens of s to out.
func foldedTokens(out []string, s string) []string {
	var buf []byte
	for i := 0; ; {
		start, end := NextToken(s, i)
		if start == end {
			return out
		}
		buf = AppendFolded(buf[:0], s[start:end])
		if !slices.Contains(out, string(buf)) {
			out = append(out, string(buf))
		}
		i = end
	}
}

// Fields returns the names of the labels and metadata keys that e refers to
// (in field:value, field:prefix* and field:/regex/ terms, negated or not),
// without duplicates, in order of first appearance. The line pseudo-fields
// message and msg are left out. The result is nil when e refers to none.
func Fields(e Expr) []string {
	var out []string
	var walk func(Expr)
	add := func(name string) {
		if !IsLineField(name) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	walk = func(e Expr) {
		switch e := e.(type) {
		case And:
			for _, t := range e.Terms {
				walk(t)
			}
		case Or:
			for _, t := range e.Terms {
				walk(t)
			}
		case Not:
			walk(e.Expr)
		case Field:
			add(e.Name)
		case FieldPrefix:
			add(e.Name)
		case FieldRegex:
			add(e.Name)
		}
	}
	walk(e)
	return out
}
