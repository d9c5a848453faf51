package podlog

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFixtures(t *testing.T) {
	f := func(name string, format Format, want ...string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := Detect(data); got != format {
			t.Fatalf("Detect(%s) = %v; want %v", name, got, format)
		}
		got, _ := decodeAll(t, format, DefaultConfig(), 0, data)
		if !equal(got, want) {
			t.Fatalf("%s: got\n%q\nwant\n%q", name, got, want)
		}
	}
	f("cri.log", FormatCRI,
		`1796665606000000001 stdout "server listening on :8080" [0,66)`,
		`1796665606500000000 stdout "GET /healthz 200" [128,185)`,
		`1796665606250000000 stderr "warning: a long line split by the runtime" [66,246)`,
		`1796665607000000000 stdout "done" [246,296)`)
	f("docker.log", FormatDocker,
		`1796665606000000001 stdout "server listening on :8080" [0,96)`,
		`1796665606500000000 stdout "GET /healthz 200" [179,258)`,
		`1796665606250000000 stderr "warning: a long line split by the runtime é�" [96,360)`,
		`1796665607000000000 stdout "done" [360,447)`)
}
