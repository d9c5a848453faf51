package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token is a token row. The secret itself is never stored, only its hash;
// package auth issues tokens and gives Hash and Scopes their meaning.
type Token struct {
	ID     string
	Tenant string
	Name   string
	// Hash is the lowercase hex SHA-256 of the secret.
	Hash string
	// Scopes is the comma-separated scope list, e.g. "read,write".
	Scopes    string
	CreatedAt time.Time
	// ExpiresAt is zero when the token never expires.
	ExpiresAt time.Time
	// RevokedAt is zero while the token is not revoked.
	RevokedAt time.Time
	// LastUsedAt is zero until the token is first used; it is updated
	// coarsely (see auth.Authenticator), not on every request.
	LastUsedAt time.Time
}

const tokenColumns = `id, tenant, name, hash, scopes, created_at, expires_at, revoked_at, last_used_at` // #nosec G101 -- column names, not a credential

// CreateToken inserts t. ID, Tenant, Name, Hash, Scopes and CreatedAt are
// required. A duplicate ID or hash, or a name already used by a live
// (unrevoked) token of the tenant, is ErrConflict; a missing tenant is
// ErrNotFound.
func (d *DB) CreateToken(ctx context.Context, t Token) error {
	if t.ID == "" || t.Tenant == "" || t.Name == "" || t.Hash == "" || t.Scopes == "" || t.CreatedAt.IsZero() {
		return fmt.Errorf("create token: id, tenant, name, hash, scopes and created_at are required")
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Tenant, t.Name, t.Hash, t.Scopes, t.CreatedAt.UnixNano(),
		Nanos(t.ExpiresAt), Nanos(t.RevokedAt), Nanos(t.LastUsedAt))
	if err == nil {
		return nil
	}
	kind := ConstraintKind(err)
	if errors.Is(kind, ErrConflict) {
		return fmt.Errorf("create token %q in tenant %q: id, hash or live name already exists: %w", t.Name, t.Tenant, ErrConflict)
	}
	if errors.Is(kind, ErrNotFound) {
		return fmt.Errorf("create token %q: tenant %q: %w", t.Name, t.Tenant, ErrNotFound)
	}
	return fmt.Errorf("create token %q in tenant %q: %w", t.Name, t.Tenant, err)
}

// ListTokens returns the tenant's tokens, revoked and expired ones included,
// ordered by creation; tenant "" lists every tenant's, ordered by tenant.
func (d *DB) ListTokens(ctx context.Context, tenant string) ([]Token, error) {
	query, args := `SELECT `+tokenColumns+` FROM tokens`, []any(nil)
	if tenant != "" {
		query, args = query+` WHERE tenant = ?`, []any{tenant}
	}
	rows, err := d.db.QueryContext(ctx, query+` ORDER BY tenant, created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken marks the token revoked at the given time. tenant "" matches
// any tenant; otherwise a token of another tenant is ErrNotFound, like a
// missing one. Revoking a revoked token succeeds and keeps the first time.
func (d *DB) RevokeToken(ctx context.Context, tenant, id string, at time.Time) error {
	query, args := `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, []any{at.UnixNano(), id}
	if tenant != "" {
		query, args = query+` AND tenant = ?`, append(args, tenant)
	}
	res, err := d.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	return expectRow(res, "token", id)
}

// LookupTokenByHash returns the token whose Hash is hash, revoked or expired
// ones included (the caller decides), or an error matching ErrNotFound.
func (d *DB) LookupTokenByHash(ctx context.Context, hash string) (Token, error) {
	row := d.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("look up token: %w", err)
	}
	return t, nil
}

// TouchToken records that the token was used at the given time; it never
// moves LastUsedAt backwards. A missing token is ErrNotFound.
func (d *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, `UPDATE tokens
SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END
WHERE id = ?`, at.UnixNano(), at.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("touch token %q: %w", id, err)
	}
	return expectRow(res, "token", id)
}

func scanToken(r rowScanner) (Token, error) {
	var (
		t                          Token
		created                    int64
		expires, revoked, lastUsed sql.NullInt64
	)
	if err := r.Scan(&t.ID, &t.Tenant, &t.Name, &t.Hash, &t.Scopes, &created, &expires, &revoked, &lastUsed); err != nil {
		return Token{}, err
	}
	t.CreatedAt = time.Unix(0, created).UTC()
	t.ExpiresAt = FromNanos(expires)
	t.RevokedAt = FromNanos(revoked)
	t.LastUsedAt = FromNanos(lastUsed)
	return t, nil
}
