package egress

import (
	"fmt"
	"net/netip"
)

// Policy decides which IP addresses kubelog may connect to on a tenant's
// behalf. Check gives the decision for one address; DialContext, Transport
// and CheckRedirect enforce it. The zero Policy refuses private ranges; most
// deployments want DefaultPolicy. A Policy must not be modified once in use;
// its methods are safe for concurrent use.
//
// An address is decided after unmapping IPv4-mapped IPv6 (::ffff:a.b.c.d is
// a.b.c.d) and dropping any zone, in this order:
//  1. in Deny: refused;
//  2. in Allow: allowed;
//  3. NAT64 (64:ff9b::/96) or 6to4 (2002::/16): decided as the IPv4 address
//     it embeds, since that is where the packets end up;
//  4. loopback (127.0.0.0/8, ::1), link-local unicast and multicast
//     (169.254.0.0/16, fe80::/10, 224.0.0.0/24, ff02::/16), unspecified
//     (0.0.0.0, ::), multicast, 0.0.0.0/8, 240.0.0.0/4 including the
//     broadcast address 255.255.255.255, and IPv6 forms that carry IPv4 in
//     ways kubelog never needs (IPv4-compatible ::/96, IPv4-translated
//     ::ffff:0:0:0/96, Teredo 2001::/32): refused;
//  5. private (see AllowPrivate): allowed only if AllowPrivate;
//  6. anything else: allowed.
type Policy struct {
	// AllowPrivate lets connections reach the private ranges 10.0.0.0/8,
	// 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 (carrier-grade NAT),
	// fc00::/7 (unique local), fec0::/10 (deprecated site-local) and
	// 64:ff9b:1::/48 (local-use NAT64). A kubelog inside a cluster needs it
	// to reach that cluster's API server.
	AllowPrivate bool
	// Allow lists prefixes that are allowed even when step 4 or 5 would
	// refuse them, for example 127.0.0.1/32 for an API server on the host.
	Allow []netip.Prefix
	// Deny lists prefixes that are always refused, even when in Allow.
	Deny []netip.Prefix
}

// DefaultPolicy returns the policy kubelog uses unless the operator sets
// one: private ranges allowed, no Allow or Deny prefixes.
func DefaultPolicy() Policy {
	return Policy{AllowPrivate: true}
}

// Validate reports a Policy whose Allow or Deny holds an invalid (zero)
// prefix, which would silently match nothing.
func (p Policy) Validate() error {
	for i, pr := range p.Allow {
		if !pr.IsValid() {
			return fmt.Errorf("egress allow item %d: invalid prefix", i+1)
		}
	}
	for i, pr := range p.Deny {
		if !pr.IsValid() {
			return fmt.Errorf("egress deny item %d: invalid prefix", i+1)
		}
	}
	return nil
}

// Check returns nil if the policy lets kubelog connect to ip, or an *Error
// of Kind Refused whose cause says why not.
func (p Policy) Check(ip netip.Addr) error {
	if r := p.refusal(ip); r != nil {
		return &Error{Kind: Refused, Target: ip.String(), Err: r}
	}
	return nil
}

// verdict is the outcome of deciding one address; every value other than
// allowed is a reason to refuse.
type verdict uint8

const (
	allowed verdict = iota
	denied
	loopback
	linkLocal
	unspecified
	multicast
	thisNetwork
	reserved
	tunnelled
	private
	invalid
)

// verdictText completes "<address> is ..." for each refusing verdict.
var verdictText = [...]string{
	allowed:     "allowed",
	denied:      "in the operator's deny list",
	loopback:    "loopback",
	linkLocal:   "link-local",
	unspecified: "unspecified",
	multicast:   "multicast",
	thisNetwork: "in 0.0.0.0/8 (this network)",
	reserved:    "in 240.0.0.0/4 (reserved or broadcast)",
	tunnelled:   "an IPv6 form carrying IPv4 that kubelog does not connect to",
	private:     "private and the policy does not allow private addresses",
	invalid:     "not a valid IP address",
}

// refusal is why an address was refused: the cause inside a Refused *Error,
// meant for the server log.
type refusal struct {
	addr netip.Addr
	// embedded is the IPv4 address a NAT64 or 6to4 addr was decided as, or
	// the zero Addr.
	embedded netip.Addr
	why      verdict
}

func (r *refusal) Error() string {
	switch {
	case !r.addr.IsValid():
		return "address is " + verdictText[r.why]
	case r.embedded.IsValid():
		return fmt.Sprintf("%s embeds %s, which is %s", r.addr, r.embedded, verdictText[r.why])
	default:
		return fmt.Sprintf("%s is %s", r.addr, verdictText[r.why])
	}
}

// refusal returns nil if ip is allowed, else why it is refused.
func (p Policy) refusal(ip netip.Addr) *refusal {
	v, embedded := p.decide(ip)
	if v == allowed {
		return nil
	}
	return &refusal{addr: ip, embedded: embedded, why: v}
}

var (
	thisNetwork4   = netip.MustParsePrefix("0.0.0.0/8")
	reserved4      = netip.MustParsePrefix("240.0.0.0/4")
	cgnat4         = netip.MustParsePrefix("100.64.0.0/10")
	ipv4Compatible = netip.MustParsePrefix("::/96")
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	teredo         = netip.MustParsePrefix("2001::/32")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	siteLocal6     = netip.MustParsePrefix("fec0::/10")
)

// decide applies the steps documented on Policy. For a NAT64 or 6to4
// address it also returns the IPv4 address the verdict is about.
func (p Policy) decide(ip netip.Addr) (verdict, netip.Addr) {
	if !ip.IsValid() {
		return invalid, netip.Addr{}
	}
	ip = ip.Unmap().WithZone("")
	if contains(p.Deny, ip) {
		return denied, netip.Addr{}
	}
	if contains(p.Allow, ip) {
		return allowed, netip.Addr{}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		v, _ := p.decide(v4)
		return v, v4
	}
	switch {
	case ip.IsLoopback():
		return loopback, netip.Addr{}
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return linkLocal, netip.Addr{}
	case ip.IsUnspecified():
		return unspecified, netip.Addr{}
	case ip.IsMulticast():
		return multicast, netip.Addr{}
	case ip.Is4() && thisNetwork4.Contains(ip):
		return thisNetwork, netip.Addr{}
	case ip.Is4() && reserved4.Contains(ip):
		return reserved, netip.Addr{}
	case ip.Is6() && (ipv4Compatible.Contains(ip) || ipv4Translated.Contains(ip) || teredo.Contains(ip)):
		return tunnelled, netip.Addr{}
	case isPrivate(ip) && !p.AllowPrivate:
		return private, netip.Addr{}
	}
	return allowed, netip.Addr{}
}

// isPrivate reports whether ip, unmapped and without zone, is in one of the
// ranges documented on Policy.AllowPrivate.
func isPrivate(ip netip.Addr) bool {
	if ip.IsPrivate() {
		return true
	}
	if ip.Is4() {
		return cgnat4.Contains(ip)
	}
	return siteLocal6.Contains(ip) || nat64Local.Contains(ip)
}

// embeddedIPv4 returns the IPv4 address a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address sends its packets to.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// contains reports whether a prefix of list holds ip, which is unmapped and
// has no zone. A prefix written as IPv4-mapped IPv6 (::ffff:10.0.0.0/104)
// matches the IPv4 addresses it maps.
func contains(list []netip.Prefix, ip netip.Addr) bool {
	for _, pr := range list {
		if pr.Contains(ip) {
			return true
		}
		if a := pr.Addr(); ip.Is4() && a.Is4In6() && pr.Bits() >= 96 &&
			netip.PrefixFrom(a.Unmap(), pr.Bits()-96).Contains(ip) {
			return true
		}
	}
	return false
}
