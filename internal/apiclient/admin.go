package apiclient

import (
	"context"
	"net/http"
)

// Tokens calls GET /api/v1/logs/tokens: the acting tenant's tokens, or
// every tenant's with all.
func (c *Client) Tokens(ctx context.Context, all bool) (*TokenList, error) {
	p := LogsPath + "/tokens"
	if all {
		p += "?all=true"
	}
	return get[TokenList](ctx, c, p)
}

// CreateToken calls POST /api/v1/logs/tokens; the answer's Token is the
// secret.
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (*Token, error) {
	return send[Token](ctx, c, http.MethodPost, LogsPath+"/tokens", req)
}

// RevokeToken calls DELETE /api/v1/logs/tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) (*Revoked, error) {
	return send[Revoked](ctx, c, http.MethodDelete, LogsPath+"/tokens/"+escape(id), nil)
}

// Limits calls GET /api/v1/logs/tenants/{tenant}/limits.
func (c *Client) Limits(ctx context.Context, tenant string) (*TenantLimits, error) {
	return get[TenantLimits](ctx, c, LogsPath+"/tenants/"+escape(tenant)+"/limits")
}

// SetLimits calls PUT /api/v1/logs/tenants/{tenant}/limits with the whole
// of l; read them with Limits first to change some.
func (c *Client) SetLimits(ctx context.Context, tenant string, l Limits) (*TenantLimits, error) {
	return send[TenantLimits](ctx, c, http.MethodPut, LogsPath+"/tenants/"+escape(tenant)+"/limits", l)
}
