package collector

import (
	"path/filepath"
	"testing"

	"github.com/kubelog/kubelog/internal/meta"
)

func TestCheckpoints(t *testing.T) {
	db, err := meta.Open(t.Context(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, cps := range map[string]Checkpoints{"memory": &MemoryCheckpoints{}, "sql": NewSQLCheckpoints(db)} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if r, ok, err := cps.Load(ctx, "t/c/a"); err != nil || ok {
				t.Fatalf("load missing: got %+v %v %v; want not found", r, ok, err)
			}
			for _, want := range []Resume{{Timestamp: 10, Count: 1}, {Timestamp: 12, Count: 3}} {
				if err := cps.Save(ctx, "t/c/a", want); err != nil {
					t.Fatal(err)
				}
				if got, ok, err := cps.Load(ctx, "t/c/a"); err != nil || !ok || got != want {
					t.Fatalf("load: got %+v %v %v; want %+v", got, ok, err, want)
				}
			}
			if _, ok, _ := cps.Load(ctx, "t/c/b"); ok {
				t.Fatal("load of another key: got a resume point; want none")
			}
		})
	}
}
