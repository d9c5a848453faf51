package state

import (
	"errors"
	"strings"
	"testing"
)

const root = "/var/log/pods"

// pathSeeds are paths of the unit tests' kinds, good and bad.
var pathSeeds = []string{
	root + "/default_web-7d9f_0b8e6c1a-2f44-4f0e-9a61-3d2f1b7c9e10/nginx/0.log",
	root + "/kube-system_etcd-node.a.example_7f3c2a1b9d8e4f60a1b2c3d4e5f60718/etcd/12.log.20261207-101500",
	root + "/kube-system_etcd-node.a.example_7f3c2a1b9d8e4f60a1b2c3d4e5f60718/etcd/12.log.20261207-101500.gz",
	root + "/default_web_uid/c/0.log.20261207-101500.gz.tmp",
	root + "/default_web_uid/c/01.log",
	root + "//default_web_uid/c/0.log",
	root + "/default_web_x_uid/c/0.log",
	"/elsewhere/default_web_uid/c/0.log",
}

func TestParsePath(t *testing.T) {
	f := func(path string, want Source) {
		t.Helper()
		got, err := ParsePath(root, path)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", path, err)
		}
		if got != want {
			t.Fatalf("ParsePath(%q) = %+v; want %+v", path, got, want)
		}
		if back := got.Path(root); back != path {
			t.Fatalf("Path() = %q; want %q", back, path)
		}
	}
	f(pathSeeds[0], Source{Namespace: "default", Pod: "web-7d9f", UID: "0b8e6c1a-2f44-4f0e-9a61-3d2f1b7c9e10", Container: "nginx"})
	f(pathSeeds[1], Source{Namespace: "kube-system", Pod: "etcd-node.a.example", UID: "7f3c2a1b9d8e4f60a1b2c3d4e5f60718", Container: "etcd", Restart: 12, Rotation: "20261207-101500"})
	f(pathSeeds[2], Source{Namespace: "kube-system", Pod: "etcd-node.a.example", UID: "7f3c2a1b9d8e4f60a1b2c3d4e5f60718", Container: "etcd", Restart: 12, Rotation: "20261207-101500", Compressed: true})
	f(root+"/a_b_c/d/2147483647.log", Source{Namespace: "a", Pod: "b", UID: "c", Container: "d", Restart: 2147483647})

	// The root is cleaned; the path is not.
	for _, r := range []string{root + "/", root + "//", "/var/log/../log/pods"} {
		got, err := ParsePath(r, pathSeeds[0])
		if err != nil || got.Path(r) != pathSeeds[0] {
			t.Fatalf("ParsePath(%q, %q) = %+v, %v; want the path back", r, pathSeeds[0], got, err)
		}
	}
	if got, err := ParsePath("/", "/a_b_c/d/0.log"); err != nil || got.Path("/") != "/a_b_c/d/0.log" {
		t.Fatalf("ParsePath under / = %+v, %v; want the path back", got, err)
	}
}

func TestParsePathRefuses(t *testing.T) {
	f := func(path, problem string) {
		t.Helper()
		_, err := ParsePath(root, path)
		if err == nil {
			t.Fatalf("ParsePath(%q) succeeded; want an error about %s", path, problem)
		}
		if !errors.Is(err, ErrBadPath) {
			t.Fatalf("ParsePath(%q) = %v; want ErrBadPath", path, err)
		}
		if !strings.Contains(err.Error(), problem) {
			t.Fatalf("ParsePath(%q) = %q; want it to name %q", path, err, problem)
		}
	}
	f("/elsewhere/a_b_c/d/0.log", "not under")
	f(root, "not under")
	f(root+"/a_b_c", "want <namespace>")
	f(root+"/a_b_c/d", "want <namespace>")
	f(root+"/a_b_c/d/e/0.log", "want <namespace>")
	f(root+"//a_b_c/d/0.log", "want <namespace>")
	f(root+"/a_b_c/d/0.log/", "want <namespace>")
	f(root+"/a_b/d/0.log", "pod directory")
	f(root+"/a_b_c_e/d/0.log", "pod directory")
	f(root+"/A_b_c/d/0.log", "namespace")
	f(root+"/a.b_c_d/e/0.log", "namespace")
	f(root+"/"+strings.Repeat("a", 64)+"_b_c/d/0.log", "namespace")
	f(root+"/-a_b_c/d/0.log", "namespace")
	f(root+"/a_b-_c/d/0.log", "pod name")
	f(root+"/a_b..c_c/d/0.log", "pod name")
	f(root+"/a_.b_c/d/0.log", "pod name")
	f(root+"/a_"+strings.Repeat("b", 254)+"_c/d/0.log", "pod name")
	f(root+"/a_b_/d/0.log", "pod UID")
	f(root+"/a_b_c.d/d/0.log", "pod UID")
	f(root+"/a_b_"+strings.Repeat("c", 65)+"/d/0.log", "pod UID")
	f(root+"/a_b_c/D/0.log", "container name")
	f(root+"/a_b_c/./0.log", "container name")
	f(root+"/a_b_c/../0.log", "container name")
	f(root+"/a_b_c//0.log", "container name")
	f(root+"/a_b_c/d/0.txt", "file name")
	f(root+"/a_b_c/d/0.logx", "file name")
	f(root+"/a_b_c/d/.log", "restart count")
	f(root+"/a_b_c/d/01.log", "restart count")
	f(root+"/a_b_c/d/-1.log", "restart count")
	f(root+"/a_b_c/d/+1.log", "restart count")
	f(root+"/a_b_c/d/2147483648.log", "restart count")
	f(root+"/a_b_c/d/0.log.", "rotation suffix")
	f(root+"/a_b_c/d/0.log.gz", "rotation suffix")
	f(root+"/a_b_c/d/0.log.20261207-101500.tmp", "rotation suffix")
	f(root+"/a_b_c/d/0.log.20261207-101500.gz.tmp", "rotation suffix")
	f(root+"/a_b_c/d/0.log.20261307-101500", "rotation suffix")
	f(root+"/a_b_c/d/0.log.20261207-106000", "rotation suffix")
	f(root+"/a_b_c/d/0.log.2026120-7101500", "rotation suffix")
}
