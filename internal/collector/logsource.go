package collector

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// LogSource opens container log streams: it is all the collector needs of
// the logs API, so that tests can stand in for it.
type LogSource interface {
	// OpenLog opens the log of container opts.Container of pod namespace/pod
	// with opts. The caller owns the returned stream and must Close it; ending
	// ctx also ends the stream, and a read then fails. OpenLog may be called
	// concurrently, and streams read concurrently.
	OpenLog(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

var _ LogSource = ClientLogSource{}

// ClientLogSource opens log streams through a cluster's API client.
type ClientLogSource struct {
	Client kubernetes.Interface
}

// OpenLog implements LogSource.
func (s ClientLogSource) OpenLog(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return s.Client.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}
