package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// clusterTailFlags are the flags of kubelog tail that only the cluster mode
// (no --server) uses.
type clusterTailFlags struct {
	kubeconfig, kubeContext string
	excludeContainer        string
	include, exclude        []string
	since                   string
	tail                    int64
}

// clusterTail is kubelog tail reading straight from a cluster, as stern
// does: it watches the chosen pods and follows each matching container's log
// as the pods come and go. Create it with newClusterTail.
type clusterTail struct {
	client kubernetes.Interface
	// logs opens the containers' log streams.
	logs collector.LogSource
	// clock times the reconnect backoff; nil means the real clock.
	clock      clock.Clock
	namespace  string // "" for every namespace
	selector   labels.Selector
	podRE      *regexp.Regexp
	containRE  *regexp.Regexp
	excludeCRE *regexp.Regexp
	include    []*regexp.Regexp
	exclude    []*regexp.Regexp
	since      time.Duration
	tail       int64 // < 0: every line since `since`
	output     string
	timestamps bool
	color      bool

	outMu sync.Mutex
	// out receives the log lines (guarded by outMu).
	out *bufio.Writer
	// status receives "+ pod › container" and "- ..." notices (guarded by
	// outMu).
	status io.Writer

	mu sync.Mutex
	// tails holds the tails started, by pod UID, container, restart count
	// and container ID (guarded by mu).
	tails map[string]context.CancelFunc
	wg    sync.WaitGroup
}

// compileRegexps compiles a flag's regexps.
func compileRegexps(flag string, res []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range res {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, s, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// clusterTailSpec turns the flags into typed values; it needs no cluster.
func (o *tailOptions) clusterTailSpec() (*clusterTail, error) {
	t := &clusterTail{output: o.output, timestamps: o.timestamps, color: o.color, tail: o.cluster.tail, tails: map[string]context.CancelFunc{}}
	switch o.output {
	case "default", "raw", "json":
	default:
		return nil, fmt.Errorf("--output must be default, raw or json, not %q", o.output)
	}
	var err error
	if t.selector, err = labels.Parse(o.selector); err != nil {
		return nil, fmt.Errorf("--selector: %w", err)
	}
	for _, rx := range []struct {
		flag, re string
		dst      **regexp.Regexp
	}{{"POD_REGEX", o.podRegex, &t.podRE}, {"--container", o.container, &t.containRE}, {"--exclude-container", o.cluster.excludeContainer, &t.excludeCRE}} {
		if rx.re == "" {
			continue
		}
		if *rx.dst, err = regexp.Compile(rx.re); err != nil {
			return nil, fmt.Errorf("%s: %w", rx.flag, err)
		}
	}
	if t.include, err = compileRegexps("--include", o.cluster.include); err != nil {
		return nil, err
	}
	if t.exclude, err = compileRegexps("--exclude", o.cluster.exclude); err != nil {
		return nil, err
	}
	if o.cluster.since != "" {
		if t.since, err = timeparse.ParseDuration(o.cluster.since); err != nil || t.since <= 0 {
			return nil, fmt.Errorf("--since: %q is not a positive duration such as 10m or 2h", o.cluster.since)
		}
	}
	if o.namespace != "" && o.allNamespaces {
		return nil, errors.New("give -n NAMESPACE or -A, not both")
	}
	return t, nil
}

// kubeClient reads the kubeconfig as kubectl does ($KUBECONFIG, then
// ~/.kube/config, unless --kubeconfig) and returns a client and the
// namespace to use: -n, else the context's, else "default"; "" with -A.
func (o *tailOptions) kubeClient() (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.cluster.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.cluster.kubeContext})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = 20, 50
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, "", err
	}
	ns := o.namespace
	switch {
	case o.allNamespaces:
		ns = ""
	case ns == "":
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("kubeconfig: %w", err)
		}
	}
	return client, ns, nil
}

// run watches the pods and follows their containers until ctx ends.
func (t *clusterTail) run(ctx context.Context) error {
	opts := []informers.SharedInformerOption{informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
		lo.LabelSelector = t.selector.String()
	})}
	if t.namespace != "" {
		opts = append(opts, informers.WithNamespace(t.namespace))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(t.client, 0, opts...)
	inf := factory.Core().V1().Pods().Informer()
	handle := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			t.sync(ctx, pod)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, obj any) { handle(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				t.deleted(pod.UID)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		factory.Shutdown()
		t.wg.Wait()
		return ctx.Err()
	}
	<-ctx.Done()
	factory.Shutdown()
	t.wg.Wait()
	t.outMu.Lock()
	defer t.outMu.Unlock()
	return t.out.Flush()
}

// sync starts a tail for each matching container instance of pod that has
// started and is not tailed yet.
func (t *clusterTail) sync(ctx context.Context, pod *corev1.Pod) {
	if t.podRE != nil && !t.podRE.MatchString(pod.Name) {
		return
	}
	for _, st := range podStatuses(pod) {
		if t.containRE != nil && !t.containRE.MatchString(st.Name) {
			continue
		}
		if t.excludeCRE != nil && t.excludeCRE.MatchString(st.Name) {
			continue
		}
		if st.State.Running == nil && st.State.Terminated == nil {
			continue // not started: waiting containers are picked up by a later update
		}
		key := fmt.Sprintf("%s/%s/%d/%s", pod.UID, st.Name, st.RestartCount, st.ContainerID)
		t.mu.Lock()
		_, dup := t.tails[key]
		var cctx context.Context
		if !dup {
			var cancel context.CancelFunc
			cctx, cancel = context.WithCancel(ctx)
			t.tails[key] = cancel
		}
		t.mu.Unlock()
		if dup {
			continue
		}
		t.wg.Go(func() { t.follow(cctx, pod.Namespace, pod.Name, pod.UID, st.Name) })
	}
}

// deletionGrace is how long a deleted pod's tails go on, for its last lines.
const deletionGrace = 2 * time.Second

// deleted stops the tails of a deleted pod after deletionGrace.
func (t *clusterTail) deleted(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, cancel := range t.tails {
		if strings.HasPrefix(key, string(uid)+"/") {
			time.AfterFunc(deletionGrace, cancel)
		}
	}
}

func podStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	out = append(out, pod.Status.InitContainerStatuses...)
	out = append(out, pod.Status.ContainerStatuses...)
	return append(out, pod.Status.EphemeralContainerStatuses...)
}

// Reconnect backoff bounds and the longest line printed whole.
const (
	tailBackoffMin = 200 * time.Millisecond
	tailBackoffMax = 5 * time.Second
	tailMaxLine    = 16 << 20
)

// follow streams one container's log until it ends or ctx does, reopening
// after errors from the last line printed.
func (t *clusterTail) follow(ctx context.Context, ns, pod string, uid types.UID, container string) {
	t.notice("+", ns, pod, container)
	defer t.notice("-", ns, pod, container)
	spec := collector.FollowSpec{
		Source: t.logs, Namespace: ns, Pod: pod,
		Options:      corev1.PodLogOptions{Container: container, Follow: true},
		MaxLineBytes: tailMaxLine,
		BackoffMin:   tailBackoffMin, BackoffMax: tailBackoffMax,
		Gone: func(ctx context.Context) bool {
			cur, err := t.client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
			return err == nil && cur.UID != uid || apierrors.IsNotFound(err)
		},
		Clock: t.clock,
	}
	if t.since > 0 {
		s := int64(t.since.Seconds())
		spec.Options.SinceSeconds = &s
	}
	if t.tail >= 0 {
		spec.Options.TailLines = &t.tail
	}
	_ = collector.Follow(ctx, spec, func(l collector.Line) error {
		// A line ending in CR LF is printed without the CR.
		msg := strings.TrimSuffix(string(l.Text), "\r")
		if !t.keep(msg) {
			return nil
		}
		return t.print(string(l.Stamp), ns, pod, container, msg)
	})
}

// keep applies --include and --exclude to a line.
func (t *clusterTail) keep(msg string) bool {
	for _, re := range t.exclude {
		if re.MatchString(msg) {
			return false
		}
	}
	if len(t.include) == 0 {
		return true
	}
	for _, re := range t.include {
		if re.MatchString(msg) {
			return true
		}
	}
	return false
}

// clusterLine is a line in -o json.
type clusterLine struct {
	Timestamp string `json:"timestamp"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Message   string `json:"message"`
}

// print writes one line in the chosen output.
func (t *clusterTail) print(ts, ns, pod, container, msg string) error {
	t.outMu.Lock()
	defer t.outMu.Unlock()
	var err error
	switch t.output {
	case "json":
		b, _ := json.Marshal(clusterLine{Timestamp: ts, Namespace: ns, Pod: pod, Container: container, Message: msg})
		_, err = fmt.Fprintf(t.out, "%s\n", b)
	case "raw":
		if t.timestamps {
			fmt.Fprintf(t.out, "%s ", ts)
		}
		_, err = fmt.Fprintln(t.out, msg)
	default:
		name := pod
		if t.namespace == "" {
			name = ns + "/" + pod
		}
		if t.color {
			name = colorize(name)
		}
		if t.timestamps {
			fmt.Fprintf(t.out, "%s ", ts)
		}
		_, err = fmt.Fprintf(t.out, "%s %s %s\n", name, container, msg)
	}
	if err != nil {
		return err
	}
	return t.out.Flush()
}

// notice tells on the status writer that a container's tail started (+)
// or ended (-).
func (t *clusterTail) notice(sign, ns, pod, container string) {
	t.outMu.Lock()
	defer t.outMu.Unlock()
	fmt.Fprintf(t.status, "%s %s/%s › %s\n", sign, ns, pod, container)
}

// runCluster is kubelog tail without --server.
func (o *tailOptions) runCluster(ctx context.Context, stdout, stderr io.Writer) error {
	t, err := o.clusterTailSpec()
	if err != nil {
		return err
	}
	if t.client, t.namespace, err = o.kubeClient(); err != nil {
		return err
	}
	t.logs = collector.ClientLogSource{Client: t.client}
	t.out, t.status = bufio.NewWriter(stdout), stderr
	return t.run(ctx)
}
