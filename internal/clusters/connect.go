package clusters

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Reasons a connection check fails, the Reason of a *ConnectError.
const (
	ReasonInvalidKubeconfig = "invalid_kubeconfig"
	ReasonUnreachable       = "cluster_unreachable"
	ReasonBadCredentials    = "bad_credentials"
	ReasonForbidden         = "forbidden_credentials"
)

// ConnectError says why a cluster config cannot be used.
type ConnectError struct {
	Reason string
	Err    error
}

func (e *ConnectError) Error() string {
	switch e.Reason {
	case ReasonInvalidKubeconfig:
		return "kubeconfig: " + e.Err.Error()
	case ReasonUnreachable:
		return "cluster unreachable: " + e.Err.Error()
	case ReasonBadCredentials:
		return "bad credentials: the API server refused them: " + e.Err.Error()
	default:
		return "credentials lack permission to list and watch pods: " + e.Err.Error()
	}
}

func (e *ConnectError) Unwrap() error { return e.Err }

// restConfig builds the REST config of a cluster config.
func restConfig(c ClusterConfig) (*rest.Config, error) {
	if c.InCluster {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("in_cluster: %w", err)}
		}
		return rc, nil
	}
	raw, err := clientcmd.Load([]byte(c.Kubeconfig))
	if err != nil {
		return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("not a valid kubeconfig: %w", err)}
	}
	if c.Context != "" {
		if _, ok := raw.Contexts[c.Context]; !ok {
			return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("context %q is not in the kubeconfig", c.Context)}
		}
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*raw, c.Context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: err}
	}
	return rc, nil
}

// check connects to the cluster: it asks for the server version and lists
// one pod, which the collector needs to be allowed.
func check(ctx context.Context, rc *rest.Config, timeout time.Duration) error {
	rc = rest.CopyConfig(rc)
	rc.Timeout = timeout
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return &ConnectError{Reason: ReasonInvalidKubeconfig, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = client.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1})
	if err == nil {
		return nil
	}
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case apierrors.IsUnauthorized(err):
		return &ConnectError{Reason: ReasonBadCredentials, Err: err}
	case apierrors.IsForbidden(err):
		return &ConnectError{Reason: ReasonForbidden, Err: err}
	case errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &ci):
		return &ConnectError{Reason: ReasonUnreachable, Err: fmt.Errorf("the server's certificate cannot be verified: %w", err)}
	}
	return &ConnectError{Reason: ReasonUnreachable, Err: err}
}

// FlattenKubeconfig reads a kubeconfig file and returns the inline YAML of
// one context (empty: its current one), with the files it names embedded.
func FlattenKubeconfig(path, contextName string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if contextName != "" {
		if _, ok := cfg.Contexts[contextName]; !ok {
			return "", fmt.Errorf("kubeconfig %s: no context %q", path, contextName)
		}
		cfg.CurrentContext = contextName
	}
	if err := clientcmdapi.MinifyConfig(cfg); err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return string(out), nil
}
