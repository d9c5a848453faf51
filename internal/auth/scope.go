package auth

import (
	"fmt"
	"strings"
)

// Scopes is a set of permissions carried by a token.
type Scopes uint8

// The scopes. Admin implies every other scope, in every tenant.
const (
	// ScopeRead allows queries and tail.
	ScopeRead Scopes = 1 << iota
	// ScopeWrite allows pushing logs.
	ScopeWrite
	// ScopeManage allows managing the tenant's own clusters, collection
	// configs, jobs, archive policies and PodLogStreams.
	ScopeManage
	// ScopeAdmin allows everything in every tenant, tokens and limits included.
	ScopeAdmin
)

var scopeNames = [...]struct {
	s    Scopes
	name string
}{
	{ScopeRead, "read"},
	{ScopeWrite, "write"},
	{ScopeManage, "manage"},
	{ScopeAdmin, "admin"},
}

// ParseScopes parses a comma-separated list such as "read,write". Spaces
// around names are ignored; an unknown or empty name is an error that names
// it.
func ParseScopes(s string) (Scopes, error) {
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("no scopes given (want a comma-separated list of read, write, manage, admin)")
	}
	var set Scopes
	for part := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			return 0, fmt.Errorf("empty scope name in %q", s)
		}
		found := false
		for _, sn := range scopeNames {
			if sn.name == name {
				set |= sn.s
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown scope %q (want read, write, manage or admin)", name)
		}
	}
	return set, nil
}

// Has reports whether the set grants every scope in want. Admin grants all.
func (s Scopes) Has(want Scopes) bool {
	return s&ScopeAdmin != 0 || s&want == want
}

// String returns the canonical comma-separated form, e.g. "read,write", as
// stored in the metadata database.
func (s Scopes) String() string {
	var b strings.Builder
	for _, sn := range scopeNames {
		if s&sn.s == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(sn.name)
	}
	return b.String()
}
