package search

// The token definition below is shared with the storage engine's per-block
// bloom filters: a block may only be skipped for a query when both sides split
// and fold text the same way, so the engine must use NextToken (or Tokens) and
// AppendFolded rather than its own rules.

// tokenByte[c] reports whether byte c belongs to a token.
var tokenByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '_' ||
			(c >= '0' && c <= '9') ||
			(c >= 'a' && c <= 'z') ||
			(c >= 'A' && c <= 'Z') ||
			c >= 0x80
	}
	return t
}()

// IsTokenByte reports whether c belongs to a token: an ASCII letter or digit,
// '_', or any byte >= 0x80, so that UTF-8 sequences (and invalid bytes) are
// part of the token around them.
func IsTokenByte(c byte) bool { return tokenByte[c] }

// NextToken returns the bounds s[start:end] of the first token that begins at
// or after index i, which must be in [0, len(s)]. A token is a maximal run of
// bytes for which IsTokenByte is true. When no token is left, start == end ==
// len(s). NextToken does not allocate; scan a whole line with
//
//	for i := 0; ; {
//		start, end := search.NextToken(line, i)
//		if start == end {
//			break
//		}
//		use(line[start:end])
//		i = end
//	}
//
// Tokens keep their case; fold them with AppendFolded before hashing them
// into an index that RequiredTokens will be checked against.
func NextToken[S ~string | ~[]byte](s S, i int) (start, end int) {
	for i < len(s) && !tokenByte[s[i]] {
		i++
	}
	start = i
	for i < len(s) && tokenByte[s[i]] {
		i++
	}
	return start, i
}

// Tokens returns the tokens of s in order, as substrings of s (see NextToken).
// Use NextToken on hot paths: Tokens allocates the result slice.
func Tokens(s string) []string {
	var out []string
	for i := 0; ; {
		start, end := NextToken(s, i)
		if start == end {
			return out
		}
		out = append(out, s[start:end])
		i = end
	}
}

// AppendFolded appends tok to dst with ASCII letters folded to lower case and
// every other byte unchanged, and returns the extended slice. This is the
// folding that word and phrase matching use, and the form in which
// RequiredTokens reports tokens; an index must store tokens folded the same
// way. (bytes.ToLower is not a substitute: it folds non-ASCII letters too.)
func AppendFolded[S ~string | ~[]byte](dst []byte, tok S) []byte {
	for i := 0; i < len(tok); i++ {
		dst = append(dst, lower(tok[i]))
	}
	return dst
}

// lower folds an ASCII upper-case letter to lower case.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// upper folds an ASCII lower-case letter to upper case.
func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// equalFold reports whether a and b are equal under ASCII case folding.
func equalFold[A, B ~string | ~[]byte](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// isSingleToken reports whether s is exactly one token.
func isSingleToken(s string) bool {
	start, end := NextToken(s, 0)
	return start == 0 && end == len(s) && end > 0
}
