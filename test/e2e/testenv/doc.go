// Package testenv starts real servers for kubelog's end-to-end tests: a Kubernetes
// control plane with no container runtime (etcd, kube-apiserver and kwok, which
// plays the nodes, marks pods Running and serves container logs through the
// kubelet's own log-reading code from CRI-format files that the test writes; kube-
// controller-manager and kube-scheduler on request) and an S3 server (MinIO).
//
// Everything listens on free loopback ports and keeps its state in a directory the
// caller chooses. The binaries are built from source at the versions pinned under
// tools/ (see tools/build.sh) and cached between runs; Binaries builds them when
// they are missing. Child processes are killed when the test binary exits, even if
// it dies without calling Stop.
//
// BuildKubelog and StartKubelog build the kubelog binary and run `kubelog serve`
// on a free port; unlike the servers above, that process is the caller's to
// stop (Kubelog.Stop or Kubelog.Kill, typically in t.Cleanup).
//
// A test package starts what it needs once, in TestMain, and each test skips when
// KUBELOG_E2E=0:
//
//	var cluster *testenv.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(run(m)) }
//
//	func run(m *testing.M) int {
//		if testenv.Disabled() {
//			return m.Run() // every test calls testenv.SkipIfDisabled
//		}
//		dir, err := os.MkdirTemp("", "kubelog-e2e-")
//		if err != nil {
//			log.Print(err)
//			return 1
//		}
//		defer os.RemoveAll(dir)
//		// Generous: on a cold machine this includes building the binaries.
//		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
//		defer cancel()
//		cluster, err = testenv.StartCluster(ctx, dir, testenv.ClusterOptions{})
//		if err != nil {
//			log.Print(err)
//			return 1
//		}
//		defer cluster.Stop()
//		return m.Run()
//	}
//
//	func TestSomething(t *testing.T) {
//		testenv.SkipIfDisabled(t)
//		// cluster.CreateNode, cluster.CreatePod, NewCRIWriter, cluster.SetLogs ...
//	}
package testenv
