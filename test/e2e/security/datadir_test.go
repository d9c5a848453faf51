package security_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubelog/kubelog/test/e2e/testenv"

	"github.com/kubelog/kubelog/internal/apiclient"
)

// TestSecretsAtRest is attack 4, on a server of its own: after a tenant
// registers a cluster with an inline token and an archive policy with an S3
// secret, no file of the data dir holds either secret (or a tenant token's)
// in plain text, the data dir is private (directories 0700, files 0600),
// and a restart still uses both. A data dir others can write, or one in use
// by another process, is refused.
func TestSecretsAtRest(t *testing.T) {
	testenv.SkipIfDisabled(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s, err := launch(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cleanupServer(t, s)
	_, evil, err := s.newToken("evil", "x", "read,write,manage")
	if err != nil {
		t.Fatal(err)
	}
	clusterID, err := s.registerCluster(evil, "secret-c")
	if err != nil {
		t.Fatal(err)
	}
	policyID, err := s.create(evil, "/api/v1/logs/archive/policies", policyBody("secret-policy", "secrets-at-rest", `{namespace="x"}`))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"the cluster's bearer token": cluster.RESTConfig().BearerToken,
		"the S3 secret key":          s3.SecretKey,
		"evil's API token":           evil,
	}
	// Answers never carry them either.
	for _, p := range []string{"/api/v1/logs/clusters/configs?id=" + clusterID, "/api/v1/logs/archive/policies/" + policyID, "/api/v1/logs/clusters/configs", "/api/v1/logs/archive/policies"} {
		r := s.must(t, evil, 200, "GET", p, nil, nil)
		for what, sec := range secrets {
			if r.has(sec) {
				t.Errorf("GET %s: the answer holds %s", p, what)
			}
		}
	}
	// The scan finds what is there: the admin token is in admin-token, by
	// design.
	if got := filesHolding(t, dataDir, s.admin); len(got) != 1 || got[0] != "admin-token" {
		t.Fatalf("files holding the admin token: got %v; want [admin-token]", got)
	}
	// While the server runs, the database's write-ahead log holds the
	// newest pages.
	scanSecrets(t, dataDir, secrets)
	stop(t, s)
	if _, err := os.Stat(filepath.Join(dataDir, "kubelog.db")); err != nil {
		t.Fatalf("the metadata database is not where the scan looks: %v", err)
	}
	scanSecrets(t, dataDir, secrets)
	checkModes(t, dataDir)

	// A restart unseals both: the cluster connects, the bucket answers.
	s2, err := launch(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cleanupServer(t, s2)
	s2.must(t, evil, 200, "GET", "/api/v1/logs/clusters/configs?id="+clusterID, nil, nil)
	s2.must(t, evil, 200, "GET", "/api/v1/logs/archive/policies/"+policyID, nil, nil)
	waitFor(t, 30*time.Second, "the cluster reachable after the restart", func() (bool, string) {
		var st apiclient.ClusterStatusList
		r := s2.must(t, evil, 200, "GET", "/api/v1/logs/clusters/status", nil, &st)
		return len(st.Clusters) == 1 && st.Clusters[0].ClusterID == clusterID && st.Clusters[0].Reachable, r.String()
	})
	var info apiclient.StorageInfo
	r := s2.must(t, evil, 200, "GET", "/api/v1/logs/storage/info", nil, &info)
	if len(info.ArchiveDestinations) != 1 || info.ArchiveDestinations[0].PolicyID != policyID || !info.ArchiveDestinations[0].Reachability.Reachable {
		t.Errorf("archive destination after the restart: got %s; want the policy's bucket reachable with the unsealed secret", r)
	}

	t.Run("DataDirInUse", func(t *testing.T) {
		k, err := testenv.StartKubelog(kubelogBin, dataDir, nil, baseArgs...)
		if err == nil {
			_ = k.Kill()
			t.Fatal("a second kubelog serve on a data dir in use started; want it refused")
		}
		if !strings.Contains(err.Error(), "in use") {
			t.Fatalf("second kubelog serve: got %v; want a refusal saying the data dir is in use", err)
		}
	})
	stop(t, s2)

	t.Run("WorldWritableDataDir", func(t *testing.T) {
		if err := os.Chmod(dataDir, 0o777); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dataDir, 0o700)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kubelogBin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, baseArgs...)...).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("kubelog serve on a 0777 data dir ran for 30s; want it refused at once:\n%s", out)
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("kubelog serve on a 0777 data dir: got %v\n%s; want a non-zero exit", err, out)
		}
		if !strings.Contains(string(out), dataDir) {
			t.Fatalf("kubelog serve on a 0777 data dir: the message does not name the dir:\n%s", out)
		}
		if st, err := os.Stat(dataDir); err != nil || st.Mode().Perm() != 0o777 {
			t.Errorf("the refused data dir's mode changed: %v %v", st.Mode(), err)
		}
	})
}

// TestSecretKeyOutsideDataDir: with the sealing key given in
// KUBELOG_SECRET_KEY, the data dir holds neither the key nor the secrets, so
// a copy of the data dir alone gives nothing away; a start without the key
// is refused instead of dropping the sealed secrets, and a start with it
// unseals them.
func TestSecretKeyOutsideDataDir(t *testing.T) {
	testenv.SkipIfDisabled(t)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key := hex.EncodeToString(raw)
	t.Setenv("KUBELOG_SECRET_KEY", key)
	dataDir := filepath.Join(t.TempDir(), "data")
	s, err := launch(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cleanupServer(t, s)
	_, evil, err := s.newToken("evil", "x", "read,write,manage")
	if err != nil {
		t.Fatal(err)
	}
	clusterID, err := s.registerCluster(evil, "sealed-c")
	if err != nil {
		t.Fatal(err)
	}
	stop(t, s)
	if _, err := os.Stat(filepath.Join(dataDir, "secret.key")); err == nil {
		t.Error("secret.key was written to the data dir although the key came from KUBELOG_SECRET_KEY")
	}
	scanSecrets(t, dataDir, map[string]string{
		"the sealing key (hex)": key, "the sealing key (base64)": base64.RawStdEncoding.EncodeToString(raw),
		"the sealing key (raw)": string(raw), "the cluster's bearer token": cluster.RESTConfig().BearerToken,
	})

	t.Setenv("KUBELOG_SECRET_KEY", "")
	if k, err := launch(dataDir); err == nil {
		_ = k.Kill()
		t.Fatal("kubelog serve started without the key that sealed its secrets; want it refused")
	} else if !strings.Contains(err.Error(), "KUBELOG_SECRET_KEY") {
		t.Errorf("kubelog serve without the key: got %v; want a refusal naming KUBELOG_SECRET_KEY", err)
	}

	t.Setenv("KUBELOG_SECRET_KEY", key)
	s2, err := launch(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cleanupServer(t, s2)
	waitFor(t, 30*time.Second, "the cluster reachable with the key given again", func() (bool, string) {
		var st apiclient.ClusterStatusList
		r := s2.must(t, evil, 200, "GET", "/api/v1/logs/clusters/status", nil, &st)
		return len(st.Clusters) == 1 && st.Clusters[0].ClusterID == clusterID && st.Clusters[0].Reachable, r.String()
	})
}

// stop stops s with SIGTERM and fails the test unless it exits cleanly.
func stop(t *testing.T, s *server) {
	t.Helper()
	if err := s.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("kubelog serve did not stop cleanly: %v\n%s", err, s.Log())
	}
}

// scanSecrets fails the test for each file under dir that holds one of the
// secrets' bytes.
func scanSecrets(t *testing.T, dir string, secrets map[string]string) {
	t.Helper()
	for what, sec := range secrets {
		for _, f := range filesHolding(t, dir, sec) {
			t.Errorf("%s holds %s in plain text", f, what)
		}
	}
}

// filesHolding returns the files under dir, relative to it, that hold
// secret's bytes. It fails the test if there is no file at all.
func filesHolding(t *testing.T, dir, secret string) []string {
	t.Helper()
	var out []string
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while the server runs
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		n++
		if bytes.Contains(b, []byte(secret)) {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no file under %s", dir)
	}
	return out
}

// checkModes fails the test unless dir and every directory under it is 0700
// and every file 0600.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.IsDir() && info.Mode().Perm() != 0o700:
			t.Errorf("directory %s has mode %04o; want 0700", rel, info.Mode().Perm())
		case d.Type().IsRegular() && info.Mode().Perm() != 0o600:
			t.Errorf("file %s has mode %04o; want 0600", rel, info.Mode().Perm())
		case !d.IsDir() && !d.Type().IsRegular():
			t.Errorf("%s is a %v; want only files and directories", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every 200ms until it holds, and fails the test after
// timeout with the last detail cond gave.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; last: %s", what, timeout, detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
