package logql

import (
	"fmt"
	"net/netip"
	"strings"
)

// ipMatcher matches addresses against an ip("...") pattern: one address, a
// range "a-b" or a CIDR prefix.
type ipMatcher struct {
	lo, hi netip.Addr
}

func parseIPPattern(s string) (*ipMatcher, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("invalid ip pattern %q: %w", s, err)
		}
		p = p.Masked()
		return &ipMatcher{lo: p.Addr(), hi: lastAddr(p)}, nil
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || lo.Is4() != hi.Is4() || hi.Less(lo) {
			return nil, fmt.Errorf("invalid ip range %q", s)
		}
		return &ipMatcher{lo: lo, hi: hi}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("invalid ip pattern %q: %w", s, err)
	}
	return &ipMatcher{lo: a, hi: a}, nil
}

// lastAddr returns the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			if i*8+bit >= bits {
				b[i] |= 0x80 >> bit
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (m *ipMatcher) contains(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() != m.lo.Unmap().Is4() {
		return false
	}
	return !a.Less(m.lo.Unmap()) && !m.hi.Unmap().Less(a)
}

// matchString reports whether s is an address within the pattern.
func (m *ipMatcher) matchString(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	return err == nil && m.contains(a)
}

func isIPChar(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'
}

// matchLine reports whether any address in line is within the pattern.
// Candidates are maximal runs of hexadecimal digits, ":" and "." (IPv6),
// and within them runs of digits and "." (IPv4, so that "10.0.0.1:80"
// matches 10.0.0.1).
func (m *ipMatcher) matchLine(line []byte) bool {
	for i := 0; i < len(line); {
		if !isIPChar(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && isIPChar(line[j]) {
			j++
		}
		if j-i >= 2 && m.matchCandidate(string(line[i:j])) {
			return true
		}
		i = j
	}
	return false
}

func (m *ipMatcher) matchCandidate(s string) bool {
	if strings.Contains(s, ":") && m.matchString(strings.Trim(s, ".:")) {
		return true
	}
	for i := 0; i < len(s); {
		if !isDigit(s[i]) && s[i] != '.' {
			i++
			continue
		}
		j := i
		for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
			j++
		}
		if run := strings.Trim(s[i:j], "."); strings.Contains(run, ".") && m.matchString(run) {
			return true
		}
		i = j
	}
	return false
}
