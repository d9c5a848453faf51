package store

// A token is a maximal run of ASCII letters, ASCII digits, '_' and bytes of
// multi-byte UTF-8 sequences (>= 0x80). Tokens are compared case-insensitively
// for ASCII letters. Tokens made only of digits are not put into bloom filters:
// with random numbers in most log lines they would swell the filters, so a
// search for a number alone never prunes blocks (it is still answered exactly).
//
// Besides whole tokens, the filters of format-2 parts hold the first four and
// the last four bytes of every token of four bytes or more (the "grams"),
// unless they are digits only. A substring search such as "needle-7f3a9c"
// then prunes too: a line containing it has a token ending in "needle" and
// one starting with "7f3a9c".

var tokenByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
	}
	return t
}()

var lowerByte = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = byte(c)
		if c >= 'A' && c <= 'Z' {
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// tokenHash returns the hash of one token, as splitLine computes it.
func tokenHash(tok string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(tok); i++ {
		h = (h ^ uint64(lowerByte[tok[i]])) * fnvPrime
	}
	return mixHash(h)
}

// indexableToken reports whether tok would be put in a bloom filter.
func indexableToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !tokenByte[tok[i]] {
			return false
		}
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return true
		}
	}
	return false
}

// splitTokens returns the tokens of s.
func splitTokens(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && tokenByte[s[i]] {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
	}
	return out
}

// mixHash finalises an FNV hash so that its bits are spread for bloom probes.
func mixHash(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// hashSet is an open-addressing set of non-zero 64-bit hashes, reused per block.
type hashSet struct {
	slots []uint64
	n     int
	zero  bool // the value 0 is present
}

func (s *hashSet) reset() {
	if len(s.slots) > 1<<16 {
		s.slots = nil
	} else {
		clear(s.slots)
	}
	s.n, s.zero = 0, false
}

// add inserts h and reports whether it was new.
func (s *hashSet) add(h uint64) bool {
	if h == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if (s.n+1)*4 >= len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

// has reports whether h is in the set.
func (s *hashSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	n := len(old) * 2
	if n < 1024 {
		n = 1024
	}
	s.slots = make([]uint64, n)
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}

// each calls fn for every hash in the set.
func (s *hashSet) each(fn func(uint64)) {
	if s.zero {
		fn(0)
	}
	for _, h := range s.slots {
		if h != 0 {
			fn(h)
		}
	}
}

func (s *hashSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// Salts that keep prefix and suffix grams apart from each other and from
// whole tokens.
const (
	prefixSalt = 0x9e3779b97f4a7c15
	suffixSalt = 0xc2b2ae3d27d4eb4f
	innerSalt  = 0x165667b19e3779f9
)

// eachInnerGram calls fn with every 4-byte window of tok (lowercased, packed)
// that holds no ASCII digit. Blocks index these for every token from format
// 3 on, so that a substring cut on both sides, such as "error" in "errors"
// or "xerror", still prunes blocks; digits are left out because they are
// mostly random and would fill the blooms.
func eachInnerGram[S ~string | ~[]byte](tok S, fn func(uint32)) {
	run := 0
	var g uint32
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c-'0' <= 9 {
			run = 0
			continue
		}
		g = g<<8 | uint32(lowerByte[c])
		if run++; run >= 4 {
			fn(g)
		}
	}
}

// gramHash hashes four lowercased bytes, packed big-endian, as a prefix or
// suffix gram.
func gramHash(g uint32, salt uint64) uint64 { return mixHash(uint64(g) ^ salt) }

// packGram packs the first four bytes of s, lowercased; ok says they are
// not all digits.
func packGram[S ~string | ~[]byte](s S) (uint32, bool) {
	var g uint32
	alpha := false
	for i := 0; i < 4; i++ {
		c := s[i]
		g = g<<8 | uint32(lowerByte[c])
		alpha = alpha || c < '0' || c > '9'
	}
	return g, alpha
}

// substringHashes returns the bloom hashes that every line containing needle
// holds: whole tokens bounded on both sides inside the needle, the prefix or
// suffix gram of tokens bounded on one side, and the inner grams of every
// piece of a token (see addInnerGrams).
func substringHashes(needle string) (tokens, grams, inner []uint64) {
	start := -1
	for i := 0; i <= len(needle); i++ {
		if i < len(needle) && tokenByte[needle[i]] {
			if start < 0 {
				start = i
			}
			continue
		}
		if start < 0 {
			continue
		}
		tok := needle[start:i]
		left, right := start > 0, i < len(needle)
		eachInnerGram(tok, func(g uint32) { inner = append(inner, gramHash(g, innerSalt)) })
		switch {
		case left && right:
			if indexableToken(tok) {
				tokens = append(tokens, tokenHash(tok))
			}
		case left && len(tok) >= 4: // the line's token starts with tok
			if g, alpha := packGram(tok[:4]); alpha {
				grams = append(grams, gramHash(g, prefixSalt))
			}
		case right && len(tok) >= 4: // the line's token ends with tok
			if g, alpha := packGram(tok[len(tok)-4:]); alpha {
				grams = append(grams, gramHash(g, suffixSalt))
			}
		}
		start = -1
	}
	return tokens, grams, inner
}
