package clusters

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
)

// ClusterConfig is a registered cluster.
type ClusterConfig struct {
	ID     string
	Tenant string
	Name   string
	// Kubeconfig is the inline YAML reaching the cluster; empty when
	// InCluster.
	Kubeconfig string
	InCluster  bool
	// Context is the kubeconfig context; empty means its current one.
	Context string
	// Origin is who registered the cluster: OriginAPI or OriginOperator.
	Origin    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CollectionConfig decides what of a cluster is collected.
type CollectionConfig struct {
	ID        string
	Tenant    string
	ClusterID string
	// Namespace is one namespace or "*".
	Namespace        string
	LabelSelector    string
	OnlyContainers   []string
	IgnoreContainers []string
	IncludeInit      bool
	Enabled          bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Origins of a cluster config.
const (
	// OriginAPI is a cluster a tenant registered through the API: only
	// inline credentials are honoured, and its API server is reached
	// through the egress policy.
	OriginAPI = "api"
	// OriginOperator is the cluster of kubelog serve --kubeconfig, which
	// keeps client-go's full kubeconfig behaviour.
	OriginOperator = "operator"
)

// db reads and writes the package's tables, with kubeconfigs sealed by
// keys.
type db struct {
	sql  *sql.DB
	keys *secrets.Keyring
}

// kubeconfigPlace is the additional data that binds a sealed kubeconfig
// to its cluster.
func kubeconfigPlace(id string) string { return "cluster_configs.kubeconfig:" + id }

// seal returns the stored form of a kubeconfig ("" stays "").
func (d *db) seal(c ClusterConfig) (string, error) {
	if c.Kubeconfig == "" {
		return "", nil
	}
	v, err := d.keys.Seal([]byte(c.Kubeconfig), kubeconfigPlace(c.ID))
	if err != nil {
		return "", fmt.Errorf("cluster %s: seal the kubeconfig: %w", c.ID, err)
	}
	return v, nil
}

// newID returns a random 16-hex-digit ID.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const clusterColumns = `id, tenant, name, kubeconfig, in_cluster, context, origin, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

// scanCluster reads a cluster row and opens its kubeconfig.
func (d *db) scanCluster(s scanner) (ClusterConfig, error) {
	var c ClusterConfig
	var inCluster int
	var created, updated sql.NullInt64
	if err := s.Scan(&c.ID, &c.Tenant, &c.Name, &c.Kubeconfig, &inCluster, &c.Context, &c.Origin, &created, &updated); err != nil {
		return c, err
	}
	c.InCluster = inCluster != 0
	c.CreatedAt, c.UpdatedAt = meta.FromNanos(created), meta.FromNanos(updated)
	if secrets.IsSealed(c.Kubeconfig) {
		plain, err := d.keys.Open(c.Kubeconfig, kubeconfigPlace(c.ID))
		if err != nil {
			return c, fmt.Errorf("cluster %s: open the kubeconfig: %w", c.ID, err)
		}
		c.Kubeconfig = string(plain)
	}
	return c, nil
}

// reseal seals every stored kubeconfig with the current key: the plain
// ones of earlier versions and those sealed with an older key. It returns
// how many rows changed.
func (d *db) reseal(ctx context.Context) (int, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT id, kubeconfig FROM cluster_configs`)
	if err != nil {
		return 0, fmt.Errorf("reseal kubeconfigs: %w", err)
	}
	stored := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reseal kubeconfigs: %w", err)
		}
		stored[id] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reseal kubeconfigs: %w", err)
	}
	n := 0
	for id, v := range stored {
		sealed, changed, err := d.keys.Reseal(v, kubeconfigPlace(id))
		if err != nil {
			return n, fmt.Errorf("cluster %s: %w", id, err)
		}
		if !changed {
			continue
		}
		if _, err := d.sql.ExecContext(ctx, `UPDATE cluster_configs SET kubeconfig = ? WHERE id = ?`, sealed, id); err != nil {
			return n, fmt.Errorf("cluster %s: reseal the kubeconfig: %w", id, err)
		}
		n++
	}
	return n, nil
}

// insertCluster inserts c; a name already used in the tenant is
// meta.ErrConflict.
func (d *db) insertCluster(ctx context.Context, c ClusterConfig) error {
	kc, err := d.seal(c)
	if err != nil {
		return err
	}
	_, err = d.sql.ExecContext(ctx, `INSERT INTO cluster_configs (`+clusterColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Tenant, c.Name, kc, boolInt(c.InCluster), c.Context, c.Origin, c.CreatedAt.UnixNano(), c.UpdatedAt.UnixNano())
	if errors.Is(meta.ConstraintKind(err), meta.ErrConflict) {
		return fmt.Errorf("cluster name %q already exists in tenant %q: %w", c.Name, c.Tenant, meta.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert cluster config: %w", err)
	}
	return nil
}

// updateCluster replaces the row of c.ID.
func (d *db) updateCluster(ctx context.Context, c ClusterConfig) error {
	kc, err := d.seal(c)
	if err != nil {
		return err
	}
	res, err := d.sql.ExecContext(ctx, `UPDATE cluster_configs SET name = ?, kubeconfig = ?, in_cluster = ?, context = ?, origin = ?, updated_at = ? WHERE id = ? AND tenant = ?`,
		c.Name, kc, boolInt(c.InCluster), c.Context, c.Origin, c.UpdatedAt.UnixNano(), c.ID, c.Tenant)
	if errors.Is(meta.ConstraintKind(err), meta.ErrConflict) {
		return fmt.Errorf("cluster name %q already exists in tenant %q: %w", c.Name, c.Tenant, meta.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update cluster config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("cluster %s: %w", c.ID, meta.ErrNotFound)
	}
	return nil
}

// deleteCluster deletes a cluster config with its collection configs and
// jobs.
func (d *db) deleteCluster(ctx context.Context, tenant, id string) error {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM cluster_configs WHERE id = ? AND tenant = ?`, id, tenant)
	if err != nil {
		return fmt.Errorf("delete cluster config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("cluster %s: %w", id, meta.ErrNotFound)
	}
	return nil
}

// getCluster returns a cluster of the tenant ("" for any tenant).
func (d *db) getCluster(ctx context.Context, tenant, id string) (ClusterConfig, error) {
	q, args := `SELECT `+clusterColumns+` FROM cluster_configs WHERE id = ?`, []any{id}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	c, err := d.scanCluster(d.sql.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("cluster %s: %w", id, meta.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("get cluster config: %w", err)
	}
	return c, nil
}

// listClusters returns the tenant's clusters ("" for all), by creation.
func (d *db) listClusters(ctx context.Context, tenant string) ([]ClusterConfig, error) {
	q, args := `SELECT `+clusterColumns+` FROM cluster_configs`, []any(nil)
	if tenant != "" {
		q, args = q+` WHERE tenant = ?`, []any{tenant}
	}
	rows, err := d.sql.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list cluster configs: %w", err)
	}
	defer rows.Close()
	var out []ClusterConfig
	for rows.Next() {
		c, err := d.scanCluster(rows)
		if err != nil {
			return nil, fmt.Errorf("list cluster configs: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const collectionColumns = `id, tenant, cluster_id, namespace, label_selector, only_containers, ignore_containers, include_init, enabled, created_at, updated_at`

func scanCollection(s scanner) (CollectionConfig, error) {
	var c CollectionConfig
	var only, ignore string
	var init, enabled int
	var created, updated sql.NullInt64
	if err := s.Scan(&c.ID, &c.Tenant, &c.ClusterID, &c.Namespace, &c.LabelSelector, &only, &ignore, &init, &enabled, &created, &updated); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(only), &c.OnlyContainers); err != nil {
		return c, fmt.Errorf("only_containers of %s: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(ignore), &c.IgnoreContainers); err != nil {
		return c, fmt.Errorf("ignore_containers of %s: %w", c.ID, err)
	}
	c.IncludeInit, c.Enabled = init != 0, enabled != 0
	c.CreatedAt, c.UpdatedAt = meta.FromNanos(created), meta.FromNanos(updated)
	return c, nil
}

func jsonList(ss []string) string {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

// insertCollection inserts c.
func (d *db) insertCollection(ctx context.Context, c CollectionConfig) error {
	_, err := d.sql.ExecContext(ctx, `INSERT INTO collection_configs (`+collectionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Tenant, c.ClusterID, c.Namespace, c.LabelSelector, jsonList(c.OnlyContainers), jsonList(c.IgnoreContainers),
		boolInt(c.IncludeInit), boolInt(c.Enabled), c.CreatedAt.UnixNano(), c.UpdatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("insert collection config: %w", err)
	}
	return nil
}

// updateCollection replaces the row of c.ID.
func (d *db) updateCollection(ctx context.Context, c CollectionConfig) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE collection_configs SET cluster_id = ?, namespace = ?, label_selector = ?, only_containers = ?,
		ignore_containers = ?, include_init = ?, enabled = ?, updated_at = ? WHERE id = ? AND tenant = ?`,
		c.ClusterID, c.Namespace, c.LabelSelector, jsonList(c.OnlyContainers), jsonList(c.IgnoreContainers),
		boolInt(c.IncludeInit), boolInt(c.Enabled), c.UpdatedAt.UnixNano(), c.ID, c.Tenant)
	if err != nil {
		return fmt.Errorf("update collection config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("collection config %s: %w", c.ID, meta.ErrNotFound)
	}
	return nil
}

// deleteCollection deletes a collection config of the tenant.
func (d *db) deleteCollection(ctx context.Context, tenant, id string) error {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM collection_configs WHERE id = ? AND tenant = ?`, id, tenant)
	if err != nil {
		return fmt.Errorf("delete collection config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("collection config %s: %w", id, meta.ErrNotFound)
	}
	return nil
}

// CollectionFilter selects collection configs; empty fields match all.
type CollectionFilter struct {
	Tenant, ClusterID, Namespace string
}

// listCollections returns the configs matching f, by creation.
func (d *db) listCollections(ctx context.Context, f CollectionFilter) ([]CollectionConfig, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"tenant", f.Tenant}, {"cluster_id", f.ClusterID}, {"namespace", f.Namespace}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + collectionColumns + ` FROM collection_configs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := d.sql.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list collection configs: %w", err)
	}
	defer rows.Close()
	var out []CollectionConfig
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("list collection configs: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// getCollection returns one collection config of the tenant.
func (d *db) getCollection(ctx context.Context, tenant, id string) (CollectionConfig, error) {
	c, err := scanCollection(d.sql.QueryRowContext(ctx, `SELECT `+collectionColumns+` FROM collection_configs WHERE id = ? AND tenant = ?`, id, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("collection config %s: %w", id, meta.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("get collection config: %w", err)
	}
	return c, nil
}
