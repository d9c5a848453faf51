package auth

import "fmt"

// Principal is an authenticated token: who is calling, in which tenant, with
// which scopes. Treat it as read-only.
type Principal struct {
	TokenID string
	// Tenant is the token's own tenant.
	Tenant string
	Scopes Scopes
	// Name is the token's name, for logs and audit.
	Name string
}

// Require returns nil if the principal holds every scope in want, and an
// error wrapping ErrForbidden naming the missing ones otherwise.
func (p *Principal) Require(want Scopes) error {
	if p.Scopes.Has(want) {
		return nil
	}
	return fmt.Errorf("%w: token %q lacks scope %s", ErrForbidden, p.Name, want&^p.Scopes)
}

// ActingTenant returns the tenant a request acts in, given its
// X-Scope-OrgID header ("" when absent). Without the header, or when it names
// the token's own tenant, that is the token's tenant. Only an admin token may
// name another tenant; for others the error wraps ErrForbidden. A malformed
// name wraps ErrInvalidTenant. Whether the tenant exists is the caller's
// concern.
func (p *Principal) ActingTenant(orgIDHeader string) (string, error) {
	if orgIDHeader == "" || orgIDHeader == p.Tenant {
		return p.Tenant, nil
	}
	if err := ValidateTenant(orgIDHeader); err != nil {
		return "", fmt.Errorf("X-Scope-OrgID: %w", err)
	}
	if !p.Scopes.Has(ScopeAdmin) {
		return "", fmt.Errorf("%w: token of tenant %q cannot act in tenant %q", ErrForbidden, p.Tenant, orgIDHeader)
	}
	return orgIDHeader, nil
}
