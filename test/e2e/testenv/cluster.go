package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ClusterOptions configures StartCluster. The zero value starts etcd,
// kube-apiserver and kwok.
type ClusterOptions struct {
	// Controllers also starts kube-controller-manager and kube-scheduler: then
	// Deployments and ReplicaSets make pods, the scheduler binds them to kwok
	// nodes, the garbage collector deletes dependents and controllers record
	// Events. Without them CreatePod binds pods to a node itself.
	Controllers bool
	// EventTTL is kube-apiserver's --event-ttl, how long Events are kept; zero
	// keeps its default of one hour.
	EventTTL time.Duration
	// Node, when not empty, is a kwok node StartCluster creates (see
	// CreateNode) before it returns.
	Node string
	// Logger receives progress messages and warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Cluster is a running control plane started by StartCluster. Its methods may be
// called concurrently, except RestartAPIServer and Stop (see RestartAPIServer).
// Stop must be called.
type Cluster struct {
	dir    string
	config *rest.Config
	client kubernetes.Interface
	dyn    dynamic.Interface
	// controllers is ClusterOptions.Controllers: CreatePod leaves binding to the
	// scheduler.
	controllers bool
	// apiserverArgs start kube-apiserver again on the same port and storage.
	apiserverBin  string
	apiserverArgs []string
	apiserverURL  string
	// probe checks kube-apiserver's /readyz, authenticated and verified.
	probe *http.Client

	mu sync.Mutex
	// procs holds the running processes in start order (guarded by mu);
	// RestartAPIServer replaces the kube-apiserver entry.
	procs []*process
}

// StartCluster starts etcd, kube-apiserver and kwok (and with opts.Controllers
// kube-controller-manager and kube-scheduler) on free loopback ports, with their
// state, certificates, logs (NAME.log) and kubeconfig under dir. It builds the
// binaries first if needed (see Binaries), which can take most of ctx's time on a
// cold machine. ctx bounds the start only: the processes run until Stop. On error
// whatever had started is stopped again.
func StartCluster(ctx context.Context, dir string, opts ClusterOptions) (*Cluster, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	raiseInotifyLimit(log)
	c := &Cluster{dir: dir, controllers: opts.Controllers}
	start := time.Now()
	if err := c.start(ctx, bin, opts); err != nil {
		c.Stop()
		return nil, fmt.Errorf("start cluster in %s: %w", dir, err)
	}
	if opts.Node != "" {
		if _, err := c.CreateNode(ctx, opts.Node); err != nil {
			c.Stop()
			return nil, fmt.Errorf("start cluster in %s: %w", dir, err)
		}
	}
	log.Info("testenv: cluster started", "dir", dir, "apiserver", c.apiserverURL,
		"controllers", opts.Controllers, "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

func (c *Cluster) start(ctx context.Context, bin string, opts ClusterOptions) error {
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kwokPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	path := func(name string) string { return filepath.Join(c.dir, name) }

	ca, err := newAuthority()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path("ca.crt"), ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	if err := ca.writeServing(path("apiserver.crt"), path("apiserver.key"), "kube-apiserver",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc"); err != nil {
		return err
	}
	if err := ca.writeServing(path("kwok.crt"), path("kwok.key"), "kwok"); err != nil {
		return err
	}
	if err := writeServiceAccountKeys(path("sa.key"), path("sa.pub")); err != nil {
		return err
	}
	token := randomHex(16)
	if err := os.WriteFile(path("tokens.csv"), []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}

	etcdURL := "http://" + hostPort(etcdPort)
	peerURL := "http://" + hostPort(peerPort)
	etcd, err := c.run("etcd", filepath.Join(bin, "etcd"), []string{
		"--name=default", "--data-dir=" + path("etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		// Test data need not survive a power cut; fsync dominates etcd's latency.
		"--unsafe-no-fsync", "--log-level=warn",
	})
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if err := etcd.waitReady(ctx, httpOK(plain, etcdURL+"/health", "")); err != nil {
		return err
	}

	c.apiserverURL = "https://" + hostPort(apiPort)
	c.apiserverBin = filepath.Join(bin, "kube-apiserver")
	c.apiserverArgs = []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + path("apiserver.crt"), "--tls-private-key-file=" + path("apiserver.key"),
		"--token-auth-file=" + path("tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-key-file=" + path("sa.pub"),
		"--service-account-signing-key-file=" + path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.96.0.0/16",
		// kwok nodes report 127.0.0.1 and serve the kubelet API with a
		// certificate from the same CA.
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority=" + path("ca.crt"),
	}
	if opts.EventTTL > 0 {
		c.apiserverArgs = append(c.apiserverArgs, "--event-ttl="+opts.EventTTL.String())
	}
	c.config = &rest.Config{
		Host:            c.apiserverURL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.certPEM},
		// Tests create objects in bursts; the default 5 QPS would throttle them.
		QPS:   100,
		Burst: 200,
	}
	tlsConfig := &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}
	c.probe = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	apiserver, err := c.startAPIServer(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs = append(c.procs, apiserver)
	c.mu.Unlock()
	if c.client, err = kubernetes.NewForConfig(c.config); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if c.dyn, err = dynamic.NewForConfig(c.config); err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	if err := c.writeKubeconfig(token, ca.certPEM); err != nil {
		return err
	}
	if err := c.applyCRDs(ctx, filepath.Join(bin, "kwok-crds.yaml")); err != nil {
		return err
	}

	kwok, err := c.run("kwok", filepath.Join(bin, "kwok"), []string{
		"--kubeconfig=" + c.Kubeconfig(), "--config=" + filepath.Join(bin, "kwok-stages.yaml"),
		"--enable-crds=Logs,ClusterLogs", "--manage-all-nodes",
		"--node-ip=127.0.0.1", "--node-port=" + strconv.Itoa(kwokPort),
		"--server-address=" + hostPort(kwokPort),
		"--tls-cert-file=" + path("kwok.crt"), "--tls-private-key-file=" + path("kwok.key"),
	})
	if err != nil {
		return err
	}
	if err := kwok.waitReady(ctx, httpOK(c.probe, "https://"+hostPort(kwokPort)+"/healthz", "")); err != nil {
		return err
	}
	if !opts.Controllers {
		return nil
	}

	// kube-controller-manager and kube-scheduler serve /healthz with a
	// self-signed certificate of their own.
	selfSigned := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	kcm, err := c.run("kube-controller-manager", filepath.Join(bin, "kube-controller-manager"), []string{
		"--kubeconfig=" + c.Kubeconfig(), "--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(kcmPort),
		"--service-account-private-key-file=" + path("sa.key"), "--root-ca-file=" + path("ca.crt"),
		"--use-service-account-credentials=false", "--leader-elect=false",
	})
	if err != nil {
		return err
	}
	sched, err := c.run("kube-scheduler", filepath.Join(bin, "kube-scheduler"), []string{
		"--kubeconfig=" + c.Kubeconfig(), "--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(schedPort),
		"--leader-elect=false",
	})
	if err != nil {
		return err
	}
	if err := kcm.waitReady(ctx, httpOK(selfSigned, "https://"+hostPort(kcmPort)+"/healthz", "")); err != nil {
		return err
	}
	return sched.waitReady(ctx, httpOK(selfSigned, "https://"+hostPort(schedPort)+"/healthz", ""))
}

// run starts a process and records it for Stop.
func (c *Cluster) run(name, bin string, args []string) (*process, error) {
	p, err := startProcess(c.dir, name, bin, args, nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

// startAPIServer starts kube-apiserver with c.apiserverArgs and waits for /readyz.
// The caller records the process.
func (c *Cluster) startAPIServer(ctx context.Context) (*process, error) {
	p, err := startProcess(c.dir, "kube-apiserver", c.apiserverBin, c.apiserverArgs, nil)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, httpOK(c.probe, c.apiserverURL+"/readyz", c.config.BearerToken)); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// RestartAPIServer stops kube-apiserver (SIGTERM, as in a rolling update) and
// starts it again on the same port with the same storage, returning once it is
// ready. Clients, kwok and the controllers reconnect by themselves; watches they
// had open end with an error or an EOF in between. It must not run concurrently
// with itself or Stop.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	i := slices.IndexFunc(c.procs, func(p *process) bool { return p.name == "kube-apiserver" })
	var old *process
	if i >= 0 {
		old = c.procs[i]
	}
	c.mu.Unlock()
	if old == nil {
		return errors.New("restart kube-apiserver: not running")
	}
	old.stop()
	p, err := c.startAPIServer(ctx)
	if err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
	return nil
}

// Stop stops every process, the last started first, each getting SIGTERM and up
// to 3s before SIGKILL. It leaves the state directory in place (the caller owns
// it) and may be called more than once.
func (c *Cluster) Stop() {
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
}

// Dir returns the state directory: certificates, etcd data and each component's
// log (etcd.log, kube-apiserver.log, kwok.log, ...), useful when a test fails.
func (c *Cluster) Dir() string { return c.dir }

// Kubeconfig returns the path of a kubeconfig file with admin (system:masters)
// credentials, for kubelog's own client code and for kubectl.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.dir, "kubeconfig") }

// RESTConfig returns a copy of the admin client configuration; the caller may
// change it.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns a clientset with admin credentials, shared by all callers.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// writeKubeconfig writes the admin kubeconfig that Kubeconfig names.
func (c *Cluster) writeKubeconfig(token string, caPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testenv"] = &clientcmdapi.Cluster{Server: c.apiserverURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testenv"] = &clientcmdapi.Context{Cluster: "testenv", AuthInfo: "admin"}
	cfg.CurrentContext = "testenv"
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig()); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// httpOK returns a readiness check that GETs url (with a bearer token unless
// token is empty) and wants 200.
func httpOK(client *http.Client, url, token string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// inotifyInstances is the per-user inotify instance limit kwok needs: it uses one
// instance per followed log, and the usual default is 128.
const inotifyInstances = 8192

// raiseInotifyLimit raises fs.inotify.max_user_instances to inotifyInstances when
// it is lower and the process runs as root; otherwise it warns when it is low.
func raiseInotifyLimit(log *slog.Logger) {
	const path = "/proc/sys/fs/inotify/max_user_instances"
	b, err := os.ReadFile(path)
	if err != nil {
		return // not Linux, or no procfs: nothing to raise
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n >= inotifyInstances {
		return
	}
	if os.Geteuid() == 0 {
		if err = os.WriteFile(path, []byte(strconv.Itoa(inotifyInstances)), 0o644); err == nil {
			return
		}
	}
	log.Warn("testenv: inotify instance limit is low; kwok needs one per followed log",
		"max_user_instances", n, "fix", "sysctl -w fs.inotify.max_user_instances=8192", "err", err)
}
