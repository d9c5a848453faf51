package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ParsePrefixes parses the value of --egress-allow or --egress-deny: a
// comma-separated list of CIDR prefixes or single IP addresses (a single
// address is a /32 or /128), with spaces around items ignored. An empty or
// blank s gives nil. Host bits are cleared (10.1.2.3/8 is 10.0.0.0/8) and
// IPv4-mapped IPv6 prefixes become IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8),
// so each result prints back to an equivalent item. The error names the first
// bad item.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	items := strings.Split(s, ",")
	out := make([]netip.Prefix, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		pr, err := parsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("prefix list item %d %q: %w", i+1, item, err)
		}
		out = append(out, pr)
	}
	return out, nil
}

// parsePrefix parses one trimmed item of ParsePrefixes.
func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("empty item, want a CIDR prefix or an IP address")
	}
	var pr netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if pr, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address: %w", err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("an IPv6 zone is not allowed")
		}
		pr = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pr.Addr(); a.Is4In6() && pr.Bits() >= 96 {
		pr = netip.PrefixFrom(a.Unmap(), pr.Bits()-96)
	}
	return pr.Masked(), nil
}
