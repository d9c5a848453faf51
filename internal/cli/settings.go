package cli

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// setting is one setting of kubelog serve: its flag, environment variable
// and YAML key, and the typed value it sets. Adding a setting is one line
// of serveSettings.
type setting struct {
	flag, env, key, help string
	value                value
}

// value is a typed setting: Set parses text into the bound field, String
// prints it back (the default, before any Set). It is a pflag.Value.
type value interface {
	Set(string) error
	String() string
	Type() string
}

// stringValue is a setting taken as it is given.
type stringValue struct{ p *string }

func (v stringValue) Set(s string) error { *v.p = strings.TrimSpace(s); return nil }
func (v stringValue) String() string     { return *v.p }
func (v stringValue) Type() string       { return "string" }

// boolValue is a boolean; as a flag, given alone it means true.
type boolValue struct{ p *bool }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}
func (v boolValue) String() string { return strconv.FormatBool(*v.p) }
func (v boolValue) Type() string   { return "bool" }

// durationValue is a duration with d and w units; positive unless zero is
// allowed.
type durationValue struct {
	p         *time.Duration
	allowZero bool
}

func (v durationValue) Set(s string) error {
	d, err := timeparse.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a duration such as 90s, 15m, 12h or 30d", s)
	case d < 0 || (d == 0 && !v.allowZero):
		return fmt.Errorf("%q is not positive", s)
	}
	*v.p = d
	return nil
}

func (v durationValue) String() string {
	if d := *v.p; d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return v.p.String()
}
func (v durationValue) Type() string { return "duration" }

// bytesValue is a size: a whole number with an optional unit.
type bytesValue struct{ p *int64 }

func (v bytesValue) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}
func (v bytesValue) String() string { return strconv.FormatInt(*v.p, 10) }
func (v bytesValue) Type() string   { return "bytes" }

// intValue is a positive whole number.
type intValue struct{ p *int }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive whole number", s)
	}
	*v.p = n
	return nil
}
func (v intValue) String() string { return strconv.Itoa(*v.p) }
func (v intValue) Type() string   { return "int" }

// enumValue is one of a few words.
type enumValue struct {
	p      *string
	values []string
}

func (v enumValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if !slices.Contains(v.values, s) {
		return fmt.Errorf("must be %s, not %q", strings.Join(v.values, ", "), s)
	}
	*v.p = s
	return nil
}
func (v enumValue) String() string { return *v.p }
func (v enumValue) Type() string   { return strings.Join(v.values, "|") }

// prefixesValue is a comma-separated list of CIDRs or addresses.
type prefixesValue struct{ p *[]netip.Prefix }

func (v prefixesValue) Set(s string) error {
	ps, err := egress.ParsePrefixes(s)
	if err != nil {
		return err
	}
	*v.p = ps
	return nil
}

func (v prefixesValue) String() string {
	out := make([]string, len(*v.p))
	for i, p := range *v.p {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}
func (v prefixesValue) Type() string { return "cidrs" }
