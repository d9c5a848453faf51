package podlogstream

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestKubectl drives the API with a real kubectl holding a kubelog token:
// apply -f, get -o yaml, get -w, patch --type merge, edit, delete and
// explain.
func TestKubectl(t *testing.T) {
	testenv.SkipIfDisabled(t)
	kc := srv.kubeconfig(t, adminToken)
	manifest := filepath.Join(t.TempDir(), "pls.yaml")
	write := func(pod string) {
		t.Helper()
		y := "apiVersion: tilt.dev/v1alpha1\nkind: PodLogStream\nmetadata:\n  name: kubectl-web\n  labels: {app: web}\nspec:\n  pod: " + pod + "\n  onlyContainers: [app]\n"
		if err := os.WriteFile(manifest, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// get -w, in the background, for the whole test.
	watch := exec.Command(kubectlBin, "get", "podlogstreams", "-w", "--output-watch-events")
	watch.Env = append(os.Environ(), "KUBECONFIG="+kc)
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	watch.Stderr = os.Stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			events = append(events, strings.Join(strings.Fields(sc.Text()), " "))
			mu.Unlock()
		}
	}()
	defer func() { _ = watch.Process.Kill(); _ = watch.Wait() }()
	time.Sleep(time.Second) // let the watch start

	write("web-0")
	if out := mustKubectl(t, kc, "", "apply", "-f", manifest); !strings.Contains(out, "podlogstream.tilt.dev/kubectl-web created") {
		t.Fatalf("apply: %s", out)
	}
	y := mustKubectl(t, kc, "", "get", "pls", "kubectl-web", "-o", "yaml")
	for _, want := range []string{"apiVersion: tilt.dev/v1alpha1", "kind: PodLogStream", "generation: 1", "namespace: default", "pod: web-0", "uid: ", "creationTimestamp: ", "resourceVersion: "} {
		if !strings.Contains(y, want) {
			t.Fatalf("get -o yaml lacks %q:\n%s", want, y)
		}
	}
	write("web-1")
	if out := mustKubectl(t, kc, "", "apply", "-f", manifest); !strings.Contains(out, "configured") {
		t.Fatalf("second apply: %s", out)
	}
	if out := mustKubectl(t, kc, "", "patch", "podlogstream", "kubectl-web", "--type", "merge", "-p", `{"spec":{"pod":"web-2"}}`); !strings.Contains(out, "patched") {
		t.Fatalf("patch: %s", out)
	}
	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/pod: web-2/pod: web-3/' \"$1\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	edit := exec.Command(kubectlBin, "edit", "pls", "kubectl-web")
	edit.Env = append(os.Environ(), "KUBECONFIG="+kc, "KUBE_EDITOR="+editor)
	if out, err := edit.CombinedOutput(); err != nil || !strings.Contains(string(out), "edited") {
		t.Fatalf("edit: %v %s", err, out)
	}
	got := mustKubectl(t, kc, "", "get", "pls", "kubectl-web", "-o", "jsonpath={.spec.pod} {.metadata.generation}")
	if got != "web-3 4" {
		t.Fatalf("after apply, patch and edit: got %q; want \"web-3 4\"", got)
	}
	desc := mustKubectl(t, kc, "", "describe", "pls", "kubectl-web")
	if !strings.Contains(desc, "Pod:  web-3") || !strings.Contains(desc, "Container Statuses") {
		t.Fatalf("describe:\n%s", desc)
	}
	if out := mustKubectl(t, kc, "", "delete", "pls", "kubectl-web"); !strings.Contains(out, `"kubectl-web" deleted`) {
		t.Fatalf("delete: %s", out)
	}
	if out, err := kubectl(t, kc, "", "get", "pls", "kubectl-web"); err == nil || !strings.Contains(out, "NotFound") {
		t.Fatalf("get after delete: %v %s", err, out)
	}
	waitFor(t, 10*time.Second, "watch events", func() string {
		mu.Lock()
		defer mu.Unlock()
		want := []string{"ADDED kubectl-web", "MODIFIED kubectl-web", "MODIFIED kubectl-web", "MODIFIED kubectl-web", "DELETED kubectl-web"}
		i := 0
		for _, e := range events {
			if i < len(want) && strings.HasPrefix(e, want[i]+" ") {
				i++
			}
		}
		if i < len(want) {
			return "got " + strings.Join(events, " | ") + "; missing " + want[i]
		}
		return ""
	})

	explain := mustKubectl(t, kc, "", "explain", "podlogstream.spec")
	for _, want := range []string{"KIND:       PodLogStream", "pod\t<string> -required-", "onlyContainers\t<[]string>", "ignoreContainers", "sinceTime", "cluster\t<string>"} {
		if !strings.Contains(explain, want) {
			t.Fatalf("explain podlogstream.spec lacks %q:\n%s", want, explain)
		}
	}
	if out := mustKubectl(t, kc, "", "api-resources", "--api-group", "tilt.dev"); !strings.Contains(out, "podlogstreams") || !strings.Contains(out, "pls") {
		t.Fatalf("api-resources: %s", out)
	}
	// kubectl create validates on the server (fieldValidation=Strict, which
	// it finds in the OpenAPI document).
	bad := "apiVersion: tilt.dev/v1alpha1\nkind: PodLogStream\nmetadata: {name: kubectl-bad}\nspec: {pod: p, bogus: 1}\n"
	if out, err := kubectl(t, kc, bad, "create", "-f", "-"); err == nil || !strings.Contains(out, `unknown field "spec.bogus"`) {
		t.Fatalf("create with an unknown field: %v %s", err, out)
	}
	good := "apiVersion: tilt.dev/v1alpha1\nkind: PodLogStream\nmetadata: {generateName: kubectl-gen-}\nspec: {pod: p}\n"
	if out := mustKubectl(t, kc, good, "create", "-f", "-"); !strings.Contains(out, "podlogstream.tilt.dev/kubectl-gen-") {
		t.Fatalf("create with generateName: %s", out)
	}
	if out := mustKubectl(t, kc, "", "delete", "pls", "--all"); !strings.Contains(out, "kubectl-gen-") {
		t.Fatalf("delete --all: %s", out)
	}
	out, err := kubectl(t, kc, "", "apply", "--server-side", "-f", manifest)
	if err == nil || !strings.Contains(out, "server-side apply is not supported") {
		t.Fatalf("server-side apply: %v %s", err, out)
	}
}
