package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func TestValidateTenant(t *testing.T) {
	f := func(name string, ok bool) {
		t.Helper()
		err := ValidateTenant(name)
		if (err == nil) != ok {
			t.Fatalf("ValidateTenant(%q) = %v; want ok=%v", name, err, ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTenant) {
			t.Fatalf("ValidateTenant(%q) = %v; want it to wrap ErrInvalidTenant", name, err)
		}
	}
	f("default", true)
	f("team-a", true)
	f("0", true)
	f("a.b_c-d", true)
	f(strings.Repeat("a", 63), true)
	f(strings.Repeat("a", 64), false)
	f("", false)
	f("Team", false)
	f("-team", false)
	f(".team", false)
	f("team a", false)
	f("team|other", false)
	f("tëam", false)
}

func FuzzValidateTenant(f *testing.F) {
	for _, s := range []string{"default", "team-a", "", "-x", "A", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := ValidateTenant(name) == nil, tenantRE.MatchString(name); got != want {
			t.Fatalf("ValidateTenant(%q) ok=%v; the regexp says %v", name, got, want)
		}
	})
}
