package meta

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	if len(ms) == 0 || ms[0].version != 1 || ms[0].name != "0001_tenants_tokens" {
		t.Fatalf("got %+v; want 0001_tenants_tokens first", ms)
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	f := func(files []string, wantSubstr string) {
		t.Helper()
		fsys := fstest.MapFS{}
		for _, name := range files {
			fsys["migrations/"+name] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		_, err := loadMigrations(fsys)
		if err == nil || !strings.Contains(err.Error(), wantSubstr) {
			t.Fatalf("loadMigrations(%v): got error %v; want one containing %q", files, err, wantSubstr)
		}
	}
	f([]string{"0001_a.sql", "0003_c.sql"}, "version 2 is missing")
	f([]string{"0001_a.sql", "01_b.sql"}, "share version 1")
	f([]string{"a_b.sql"}, "NNNN_short_name.sql")
	f([]string{"0001.sql"}, "NNNN_short_name.sql")
	f([]string{"0000_zero.sql"}, "NNNN_short_name.sql")
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("query versions: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("scan: %v", err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestMigrateAppliesOnlyPendingSteps(t *testing.T) {
	ctx := context.Background()
	db := openRaw(t, filepath.Join(t.TempDir(), "m.db"))
	v1 := []migration{{1, "0001_a", "CREATE TABLE a (x BIGINT); INSERT INTO a VALUES (1);"}}
	v2 := append(v1, migration{2, "0002_b", "CREATE TABLE b (y TEXT); INSERT INTO a VALUES (2);"})
	for range 2 {
		if err := migrate(ctx, db, v1); err != nil {
			t.Fatalf("migrate v1: %v", err)
		}
	}
	for range 2 {
		if err := migrate(ctx, db, v2); err != nil {
			t.Fatalf("migrate v2: %v", err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows in a: got %d, %v; want 2 (each step applied once)", n, err)
	}
	if got := versions(t, db); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("versions: got %v; want [1 2]", got)
	}
	// A binary that knows only v1 refuses a database migrated to v2.
	if err := migrate(ctx, db, v1); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("migrate older list: got error %v; want 'newer than this binary'", err)
	}
}

func TestMigrateFailedStepRollsBack(t *testing.T) {
	ctx := context.Background()
	db := openRaw(t, filepath.Join(t.TempDir(), "m.db"))
	bad := []migration{
		{1, "0001_a", "CREATE TABLE a (x BIGINT);"},
		{2, "0002_bad", "CREATE TABLE b (y TEXT); INSERT INTO nosuch VALUES (1);"},
	}
	if err := migrate(ctx, db, bad); err == nil || !strings.Contains(err.Error(), "0002_bad") {
		t.Fatalf("migrate: got error %v; want one naming 0002_bad", err)
	}
	if got := versions(t, db); len(got) != 1 || got[0] != 1 {
		t.Fatalf("versions: got %v; want [1]", got)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("table b: got %d, %v; want it rolled back", n, err)
	}
	fixed := []migration{bad[0], {2, "0002_b", "CREATE TABLE b (y TEXT);"}}
	if err := migrate(ctx, db, fixed); err != nil {
		t.Fatalf("migrate after fix: %v", err)
	}
}

func TestOpenIsIdempotentAcrossReopen(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	if _, err := d.EnsureTenant(ctx, "team-a"); err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	before := appliedAt(t, d.SQL())
	d2 := openPath(t, path)
	after := appliedAt(t, d2.SQL())
	if len(before) == 0 || strings.Join(before, " ") != strings.Join(after, " ") {
		t.Fatalf("schema_migrations before reopen %v, after %v; want the same, non-empty", before, after)
	}
	if _, err := d2.GetTenant(ctx, "team-a"); err != nil {
		t.Fatalf("GetTenant after reopen: %v", err)
	}
}

// appliedAt lists schema_migrations as "version@applied_at".
func appliedAt(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("query schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v, at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, fmt.Sprintf("%d@%d", v, at))
	}
	return out
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	errs := make(chan error, 8)
	dbs := make(chan *DB, 8)
	for range 8 {
		go func() {
			d, err := Open(context.Background(), path)
			errs <- err
			dbs <- d
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
		d := <-dbs
		t.Cleanup(func() { d.Close() })
	}
	d := openPath(t, path)
	ms, _ := loadMigrations(migrationFiles)
	if got := versions(t, d.SQL()); len(got) != len(ms) {
		t.Fatalf("versions: got %v; want %d, each once", got, len(ms))
	}
}
