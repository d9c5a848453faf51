package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/util/retry"
)

// KwokNodeAnnotation marks a node as played by kwok; CreateNode sets it.
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// waitTimeout bounds each wait for kwok or a controller to act, whatever ctx allows.
const waitTimeout = 2 * time.Minute

var (
	crdResource  = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	logsResource = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}
)

// ContainerSpec describes one container of a pod made by CreatePod.
type ContainerSpec struct {
	// Name is the container name, which SetLogs maps to log files.
	Name string
	// Image is only recorded: kwok pulls and runs nothing. Empty means
	// "kubelog.test/app:latest".
	Image string
}

// PodOptions are the optional parts of CreatePod.
type PodOptions struct {
	// NodeName binds the pod to this node. Empty leaves binding to the scheduler
	// when the cluster runs controllers, and otherwise picks the first node by
	// name (create one with CreateNode first).
	NodeName string
	// Labels and Annotations are set on the pod.
	Labels, Annotations map[string]string
	// NoWait returns as soon as the pod is created instead of waiting until kwok
	// reports it Running.
	NoWait bool
}

// LogFiles are the CRI-format log files that kwok serves for one container.
// Relative paths are taken from the working directory.
type LogFiles struct {
	// Current is read by GetLogs; it need not exist until then.
	Current string
	// Previous is read by GetLogs with Previous set; empty means none.
	Previous string
	// Follow is kwok's follow flag for this container.
	Follow bool
}

// applyCRDs creates the CustomResourceDefinitions in file (kwok-crds.yaml) and
// waits until they are established.
func (c *Cluster) applyCRDs(ctx context.Context, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("kwok CRDs: %w", err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var names []string
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("kwok CRDs: decode %s: %w", file, err)
		}
		if obj.Object == nil {
			continue // empty document
		}
		if _, err := c.dyn.Resource(crdResource).Create(ctx, &obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("kwok CRDs: create %s: %w", obj.GetName(), err)
		}
		names = append(names, obj.GetName())
	}
	for _, name := range names {
		err := poll(ctx, func(ctx context.Context) (bool, error) {
			crd, err := c.dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conds {
				if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("kwok CRDs: wait for %s: %w", name, err)
		}
	}
	return nil
}

// CreateNode creates a node that kwok plays and waits until kwok reports it Ready.
func (c *Cluster) CreateNode(ctx context.Context, name string) (*corev1.Node, error) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Annotations: map[string]string{KwokNodeAnnotation: "fake"},
		Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
	}}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create node %s: %w", name, err)
	}
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		var err error
		node, err = c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for node %s to be Ready: %w", name, err)
	}
	return node, nil
}

// CreatePod creates a pod with the given containers in namespace ns, creating the
// namespace and its "default" service account if missing, and (unless
// opts.NoWait) waits until kwok reports it Running. Map its containers to log
// files with SetLogs.
func (c *Cluster) CreatePod(ctx context.Context, ns, name string, containers []ContainerSpec, opts PodOptions) (*corev1.Pod, error) {
	if len(containers) == 0 {
		return nil, fmt.Errorf("create pod %s/%s: no containers", ns, name)
	}
	if err := c.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	nodeName := opts.NodeName
	if nodeName == "" && !c.controllers {
		var err error
		if nodeName, err = c.firstNode(ctx); err != nil {
			return nil, fmt.Errorf("create pod %s/%s: %w", ns, name, err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: opts.Labels, Annotations: opts.Annotations},
		Spec:       corev1.PodSpec{NodeName: nodeName},
	}
	for _, ct := range containers {
		image := ct.Image
		if image == "" {
			image = "kubelog.test/app:latest"
		}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: ct.Name, Image: image})
	}
	pod, err := c.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", ns, name, err)
	}
	if opts.NoWait {
		return pod, nil
	}
	err = poll(ctx, func(ctx context.Context) (bool, error) {
		var err error
		pod, err = c.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning, err
	})
	if err != nil {
		return nil, fmt.Errorf("wait for pod %s/%s to be Running: %w", ns, name, err)
	}
	return pod, nil
}

// CreateLoggingPod creates pod ns/name (see CreatePod) with one container
// per name, each logging to a new CRI file dir/NAME.log that kwok follows
// (see SetLogs), and returns the writers in the order of names. The caller
// closes them; on error they are closed.
func (c *Cluster) CreateLoggingPod(ctx context.Context, dir, ns, name string, names []string, opts PodOptions) ([]*CRIWriter, error) {
	specs := make([]ContainerSpec, len(names))
	files := make(map[string]LogFiles, len(names))
	ws := make([]*CRIWriter, 0, len(names))
	fail := func(err error) ([]*CRIWriter, error) {
		for _, w := range ws {
			w.Close()
		}
		return nil, err
	}
	for i, n := range names {
		specs[i] = ContainerSpec{Name: n}
		w, err := NewCRIWriter(filepath.Join(dir, n+".log"))
		if err != nil {
			return fail(err)
		}
		ws = append(ws, w)
		files[n] = LogFiles{Current: w.Path(), Follow: true}
	}
	if _, err := c.CreatePod(ctx, ns, name, specs, opts); err != nil {
		return fail(err)
	}
	if err := c.SetLogs(ctx, ns, name, files); err != nil {
		return fail(err)
	}
	return ws, nil
}

// ensureNamespace creates namespace ns and its "default" service account, which
// pods need, unless they exist.
func (c *Cluster) ensureNamespace(ctx context.Context, ns string) error {
	_, err := c.client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	_, err = c.client.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account %s/default: %w", ns, err)
	}
	return nil
}

// firstNode returns the name of the first node by name.
func (c *Cluster) firstNode(ctx context.Context) (string, error) {
	nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return "", errors.New("no node to bind the pod to: call CreateNode first or set PodOptions.NodeName")
	}
	names := make([]string, 0, len(nodes.Items))
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	return slices.Min(names), nil
}

// SetLogs creates or replaces the kwok Logs object that maps the containers of pod
// ns/pod to their log files. When the pod already exists and is bound to a node,
// it waits until kwok serves every container named in logs, so GetLogs works
// as soon as it returns; otherwise kwok picks the mapping up shortly after.
func (c *Cluster) SetLogs(ctx context.Context, ns, pod string, logs map[string]LogFiles) error {
	names := make([]string, 0, len(logs))
	for name := range logs {
		names = append(names, name)
	}
	slices.Sort(names)
	entries := make([]any, 0, len(names))
	for _, name := range names {
		files := logs[name]
		current, err := filepath.Abs(files.Current)
		if err != nil {
			return fmt.Errorf("set logs of %s/%s: %w", ns, pod, err)
		}
		entry := map[string]any{"containers": []any{name}, "logsFile": current, "follow": files.Follow}
		if files.Previous != "" {
			previous, err := filepath.Abs(files.Previous)
			if err != nil {
				return fmt.Errorf("set logs of %s/%s: %w", ns, pod, err)
			}
			entry["previousLogsFile"] = previous
		}
		entries = append(entries, entry)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "Logs",
		"metadata":   map[string]any{"name": pod, "namespace": ns},
		"spec":       map[string]any{"logs": entries},
	}}
	client := c.dyn.Resource(logsResource).Namespace(ns)
	_, err := client.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := client.Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Object["spec"] = obj.Object["spec"]
			_, err = client.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("set logs of %s/%s: %w", ns, pod, err)
	}
	p, err := c.client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil || p.Spec.NodeName == "" {
		return nil // nothing to ask kwok yet
	}
	for _, name := range names {
		if err := c.waitLogsServed(ctx, ns, pod, name); err != nil {
			return fmt.Errorf("set logs of %s/%s: %w", ns, pod, err)
		}
	}
	return nil
}

// waitLogsServed waits until kwok knows the log files of one container: until a
// one-byte log request stops failing with kwok's "no logs found" or "log target
// not found". Other outcomes, such as a log file not written yet, mean kwok has
// the mapping.
func (c *Cluster) waitLogsServed(ctx context.Context, ns, pod, container string) error {
	limit := int64(1)
	return poll(ctx, func(ctx context.Context) (bool, error) {
		// client-go cannot decode the status of a failed log request, so its error
		// only says "unknown reason"; the body has kwok's words.
		body, err := c.client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, LimitBytes: &limit}).DoRaw(ctx)
		if err != nil && (bytes.Contains(body, []byte("no logs found")) || bytes.Contains(body, []byte("log target not found"))) {
			return false, nil
		}
		return true, nil
	})
}

// poll calls cond every 100ms until it returns true or an error, or waitTimeout
// or ctx ends.
func poll(ctx context.Context, cond wait.ConditionWithContextFunc) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, waitTimeout, true, cond)
}
