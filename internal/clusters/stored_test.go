package clusters

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubelog/kubelog/internal/meta"
)

// TestStoredExecKubeconfigIsDisabledNotRun stores, as an earlier version
// would have, a tenant's kubeconfig with an exec plugin in plain text. The
// start seals it, does not run the plugin and reports the cluster disabled
// with the reason.
func TestStoredExecKubeconfigIsDisabledNotRun(t *testing.T) {
	s, d, _ := newService(t)
	ctx := t.Context()
	marker := filepath.Join(t.TempDir(), "ran")
	execKubeconfig := strings.Replace(unreachableKubeconfig, "    token: secret-token\n",
		"    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [\"-c\", \"id > "+marker+"\"]\n", 1)
	if _, err := d.SQL().ExecContext(ctx, `INSERT INTO cluster_configs (id, tenant, name, kubeconfig, in_cluster, context, created_at, updated_at)
		VALUES ('old', 'default', 'old', ?, 0, '', 1, 1)`, execKubeconfig); err != nil {
		t.Fatal(err)
	}
	if n, err := Reseal(ctx, d, s.cfg.Keys); err != nil || n != 1 {
		t.Fatalf("reseal: %d, %v", n, err)
	}
	var stored string
	if err := d.SQL().QueryRowContext(ctx, `SELECT kubeconfig FROM cluster_configs WHERE id = 'old'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "exec") || !strings.HasPrefix(stored, "kls1:") {
		t.Fatalf("stored kubeconfig is not sealed: %.60q", stored)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the exec plugin ran: %v", err)
	}
	st, err := s.Status(ctx, meta.DefaultTenant)
	if err != nil || len(st) != 1 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if want := "disabled, not collected: kubeconfig: users[0].user.exec:"; !strings.HasPrefix(st[0].LastError, want) {
		t.Fatalf("status: %q; want it to start with %q", st[0].LastError, want)
	}
	if c, err := s.GetCluster(ctx, meta.DefaultTenant, "old"); err != nil || c.Kubeconfig != execKubeconfig || c.Origin != OriginAPI {
		t.Fatalf("get: %+v, %v", c, err)
	}
}

// TestKubeconfigsAreSealedAtRest checks that a cluster's token is in no
// file of the database once the database is scrubbed.
func TestKubeconfigsAreSealedAtRest(t *testing.T) {
	dir := t.TempDir()
	d, err := meta.Open(t.Context(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, _, _ := newService(t)
	dbs := &db{sql: d.SQL(), keys: s.cfg.Keys}
	c := ClusterConfig{ID: "c1", Tenant: meta.DefaultTenant, Name: "c1", Kubeconfig: unreachableKubeconfig, Origin: OriginAPI}
	if err := dbs.insertCluster(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := d.Scrub(t.Context()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "meta.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("secret-token")) {
			t.Errorf("%s holds the token in plain text", filepath.Base(f))
		}
	}
	got, err := dbs.getCluster(t.Context(), "", "c1")
	if err != nil || got.Kubeconfig != unreachableKubeconfig {
		t.Fatalf("read back: %v", err)
	}
}
