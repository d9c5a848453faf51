package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// toTokenJSON is a token as the API shows it; the secret appears only in
// the answer to its creation.
func toTokenJSON(t meta.Token) apiclient.Token {
	return apiclient.Token{
		ID: t.ID, Tenant: t.Tenant, Name: t.Name, Scopes: t.Scopes,
		CreatedAt: timeOrEmpty(t.CreatedAt), ExpiresAt: timeOrEmpty(t.ExpiresAt),
		RevokedAt: timeOrEmpty(t.RevokedAt), LastUsedAt: timeOrEmpty(t.LastUsedAt),
	}
}

// listTokens serves GET /api/v1/logs/tokens (admin): the acting tenant's
// tokens, or every tenant's with all=true.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	tenant := tenantOf(r)
	if queryOf(r).Get("all") == "true" {
		tenant = ""
	}
	ts, err := a.meta.ListTokens(r.Context(), tenant)
	if err != nil {
		return err
	}
	out := make([]apiclient.Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, toTokenJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// createTokenRequest is the body of POST /api/v1/logs/tokens.
type createTokenRequest struct {
	Tenant    string `json:"tenant"`
	Name      string `json:"name"`
	Scopes    string `json:"scopes"`
	ExpiresIn string `json:"expires_in"`
}

// createToken serves POST /api/v1/logs/tokens (admin). The token's secret is
// in the answer and nowhere else, ever.
func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Tenant == "" {
		req.Tenant = tenantOf(r)
	}
	if err := auth.ValidateTenant(req.Tenant); err != nil {
		return badRequest("tenant: %v", err)
	}
	scopes, err := auth.ParseScopes(req.Scopes)
	if err != nil {
		return badRequest("scopes: %v", err)
	}
	spec := auth.TokenSpec{Tenant: req.Tenant, Name: req.Name, Scopes: scopes}
	if req.ExpiresIn != "" {
		d, err := timeparse.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return badRequest("expires_in: %q is not a positive duration such as 720h or 30d", req.ExpiresIn)
		}
		spec.TTL = d
	}
	if err := spec.Validate(); err != nil {
		return badRequest("%v", err)
	}
	if _, err := a.meta.EnsureTenant(r.Context(), req.Tenant); err != nil {
		return err
	}
	secret, tok, err := auth.IssueToken(r.Context(), a.meta, a.clock.Now(), spec)
	if err != nil {
		if errors.Is(err, meta.ErrConflict) {
			return conflict("a live token named %q already exists in tenant %q", req.Name, req.Tenant)
		}
		return err
	}
	out := toTokenJSON(tok)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// revokeToken serves DELETE /api/v1/logs/tokens/{id} and DELETE
// /api/v1/logs/tokens?id= (admin).
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "token")
	if err != nil {
		return err
	}
	tenant := tenantOf(r)
	if queryOf(r).Get("all") == "true" {
		ts, err := a.meta.ListTokens(r.Context(), "")
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.ID == id {
				tenant = t.Tenant
			}
		}
	}
	if err := a.meta.RevokeToken(r.Context(), tenant, id, a.clock.Now()); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return notFound("no token %q in tenant %q", id, tenant)
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "revoked": true})
	return nil
}

// getLimits serves GET /api/v1/logs/tenants/{tenant}/limits (admin).
func (a *API) getLimits(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	if err := auth.ValidateTenant(tenant); err != nil {
		return badRequest("tenant: %v", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant": tenant, "limits": a.limits.For(tenant)})
	return nil
}

// putLimits serves PUT /api/v1/logs/tenants/{tenant}/limits (admin). The
// body is a full or partial limits document; fields left out keep their
// current values. Zero means unlimited.
func (a *API) putLimits(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	if err := auth.ValidateTenant(tenant); err != nil {
		return badRequest("tenant: %v", err)
	}
	l := a.limits.For(tenant)
	if err := decodeBody(r, &l); err != nil {
		return err
	}
	if err := l.Validate(); err != nil {
		return badRequest("limits: %v", err)
	}
	if _, err := a.meta.EnsureTenant(r.Context(), tenant); err != nil {
		return err
	}
	if err := auth.StoreTenantLimits(r.Context(), a.meta, tenant, l); err != nil {
		return err
	}
	if err := a.limits.Load(r.Context(), a.meta); err != nil {
		return err
	}
	a.query.SetRetention(tenant, time.Duration(l.Retention))
	writeJSON(w, http.StatusOK, map[string]any{"tenant": tenant, "limits": l})
	return nil
}
