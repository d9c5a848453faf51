package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Tenant is a tenant row. Package meta does not check tenant names; callers
// validate them first (auth.ValidateTenant).
type Tenant struct {
	Name      string
	CreatedAt time.Time
	// Limits is the tenant's stored limits document (package auth's Limits
	// as JSON), or nil when none is stored and the defaults apply.
	Limits json.RawMessage
}

// EnsureTenant creates the tenant if it does not exist and returns it.
func (d *DB) EnsureTenant(ctx context.Context, name string) (Tenant, error) {
	if _, err := d.db.ExecContext(ctx,
		`INSERT INTO tenants (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
		name, time.Now().UnixNano()); err != nil {
		return Tenant{}, fmt.Errorf("ensure tenant %q: %w", name, err)
	}
	return d.GetTenant(ctx, name)
}

// GetTenant returns the named tenant, or an error matching ErrNotFound.
func (d *DB) GetTenant(ctx context.Context, name string) (Tenant, error) {
	row := d.db.QueryRowContext(ctx, `SELECT name, created_at, limits FROM tenants WHERE name = ?`, name)
	t, err := scanTenant(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant %q: %w", name, err)
	}
	return t, nil
}

// ListTenants returns every tenant, ordered by name.
func (d *DB) ListTenants(ctx context.Context) ([]Tenant, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, created_at, limits FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ts []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// SetTenantLimits stores the tenant's limits document, which must be valid
// JSON; nil removes it so the defaults apply. A missing tenant is ErrNotFound.
func (d *DB) SetTenantLimits(ctx context.Context, name string, limits json.RawMessage) error {
	var v sql.NullString
	if limits != nil {
		if !json.Valid(limits) {
			return fmt.Errorf("set limits of tenant %q: not valid JSON", name)
		}
		v = sql.NullString{String: string(limits), Valid: true}
	}
	res, err := d.db.ExecContext(ctx, `UPDATE tenants SET limits = ? WHERE name = ?`, v, name)
	if err != nil {
		return fmt.Errorf("set limits of tenant %q: %w", name, err)
	}
	return expectRow(res, "tenant", name)
}

// rowScanner is the Scan method shared by *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanTenant(r rowScanner) (Tenant, error) {
	var (
		t       Tenant
		created int64
		limits  sql.NullString
	)
	if err := r.Scan(&t.Name, &created, &limits); err != nil {
		return Tenant{}, err
	}
	t.CreatedAt = time.Unix(0, created).UTC()
	if limits.Valid {
		t.Limits = json.RawMessage(limits.String)
	}
	return t, nil
}

// expectRow turns an UPDATE or DELETE that matched no row into ErrNotFound.
func expectRow(res sql.Result, kind, key string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, key, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", kind, key, ErrNotFound)
	}
	return nil
}
