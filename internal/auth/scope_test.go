package auth

import (
	"strings"
	"testing"
)

func TestParseScopes(t *testing.T) {
	f := func(in string, want Scopes, wantString string) {
		t.Helper()
		got, err := ParseScopes(in)
		if err != nil {
			t.Fatalf("ParseScopes(%q): unexpected error: %v", in, err)
		}
		if got != want || got.String() != wantString {
			t.Fatalf("ParseScopes(%q) = %v (%q); want %v (%q)", in, uint8(got), got, uint8(want), wantString)
		}
	}
	f("read", ScopeRead, "read")
	f("read,write", ScopeRead|ScopeWrite, "read,write")
	f(" write , read ", ScopeRead|ScopeWrite, "read,write")
	f("read,read", ScopeRead, "read")
	f("admin", ScopeAdmin, "admin")
	f("manage,admin,write,read", ScopeRead|ScopeWrite|ScopeManage|ScopeAdmin, "read,write,manage,admin")
}

func TestParseScopesErrors(t *testing.T) {
	f := func(in, wantSubstr string) {
		t.Helper()
		_, err := ParseScopes(in)
		if err == nil || !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("ParseScopes(%q): got error %v; want one containing %q", in, err, wantSubstr)
		}
	}
	f("", "no scopes")
	f("  ", "no scopes")
	f("read,wrte", `unknown scope "wrte"`)
	f("Read", `unknown scope "Read"`)
	f("read,,write", "empty scope name")
	f("read,", "empty scope name")
}

func TestScopesHas(t *testing.T) {
	f := func(have, want Scopes, ok bool) {
		t.Helper()
		if got := have.Has(want); got != ok {
			t.Fatalf("%q.Has(%q) = %v; want %v", have, want, got, ok)
		}
	}
	f(ScopeRead, ScopeRead, true)
	f(ScopeRead, ScopeWrite, false)
	f(ScopeRead, ScopeRead|ScopeWrite, false)
	f(ScopeRead|ScopeWrite, ScopeRead|ScopeWrite, true)
	f(ScopeAdmin, ScopeRead|ScopeWrite|ScopeManage, true)
	f(ScopeManage, ScopeAdmin, false)
	f(0, ScopeRead, false)
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"read", "read,write", " admin ", "read,,write", "bogus", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseScopes(in)
		if err != nil {
			return
		}
		if s == 0 {
			t.Fatalf("ParseScopes(%q) returned no scopes and no error", in)
		}
		back, err := ParseScopes(s.String())
		if err != nil || back != s {
			t.Fatalf("ParseScopes(%q) = %q, which reads back as %q, %v", in, s, back, err)
		}
	})
}
