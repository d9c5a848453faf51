package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EnvBin names the environment variable that sets the directory of the cached
// binaries. Unset, it is ~/.cache/kubelog-testenv/bin.
const EnvBin = "KUBELOG_TESTENV_BIN"

// EnvE2E names the environment variable that turns the end-to-end tests off when
// set to "0". Any other value, or none, runs them, building the binaries if needed.
const EnvE2E = "KUBELOG_E2E"

// rootModule is the module path whose go.mod marks the repository root.
const rootModule = "github.com/kubelog/kubelog"

// binaryNames are the files Binaries makes sure of.
var binaryNames = []string{
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
	"kwok", "kwok-crds.yaml", "kwok-stages.yaml", "minio",
}

// Disabled reports whether KUBELOG_E2E=0 turns the end-to-end tests off.
func Disabled() bool {
	return os.Getenv(EnvE2E) == "0"
}

// SkipIfDisabled skips t, saying why, when KUBELOG_E2E=0.
func SkipIfDisabled(t testing.TB) {
	t.Helper()
	if Disabled() {
		t.Skip("end-to-end test skipped: " + EnvE2E + "=0")
	}
}

// binaries remembers Binaries' answer: it runs tools/build.sh at most once per
// test binary.
var binaries = sync.OnceValues(findBinaries)

// Binaries returns the directory holding the test binaries (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl, kwok, minio) and kwok's
// manifests. Inside the kubelog repository it runs tools/build.sh, which builds
// what is missing or out of date (about 25 minutes from cold on 2 cores; seconds
// when all is built) and needs `go` on PATH. Outside it, the binaries must already
// be in $KUBELOG_TESTENV_BIN. Safe for concurrent use; the build runs once.
func Binaries() (string, error) {
	return binaries()
}

func findBinaries() (string, error) {
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	root, rootErr := repoRoot()
	if rootErr == nil {
		if err := runBuild(root, dir); err != nil {
			return "", err
		}
	}
	var missing []string
	for _, name := range binaryNames {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("test binaries missing from %s: %s; run tools/build.sh in the kubelog repository (%v)",
			dir, strings.Join(missing, ", "), rootErr)
	}
	return dir, nil
}

// binDir returns $KUBELOG_TESTENV_BIN or its default.
func binDir() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		return filepath.Abs(dir)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("test binaries: set %s: %w", EnvBin, err)
	}
	return filepath.Join(home, ".cache", "kubelog-testenv", "bin"), nil
}

// repoRoot walks up from the working directory to the go.mod of the kubelog module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the kubelog repository: %w", err)
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == rootModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module " + rootModule + " above the working directory")
		}
		dir = parent
	}
}

// modulePath returns the module path a go.mod file declares, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// runBuild runs tools/build.sh for dir, its progress going to stderr (it prints
// the directory on stdout, which is dropped: dir is already known). It names the
// binaries the tests run, so that the linters build.sh also builds for make lint
// are left alone.
func runBuild(root, dir string) error {
	var build []string
	for _, name := range binaryNames {
		if !strings.HasSuffix(name, ".yaml") { // kwok's manifests come with kwok
			build = append(build, name)
		}
	}
	cmd := exec.Command(filepath.Join(root, "tools", "build.sh"), build...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), EnvBin+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tools/build.sh (needs go on PATH; set %s=0 to skip end-to-end tests): %w", EnvE2E, err)
	}
	return nil
}
