package clusters

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubelog/kubelog/internal/egress"
)

// Reasons a connection check fails, the Reason of a *ConnectError.
const (
	ReasonInvalidKubeconfig = "invalid_kubeconfig"
	ReasonUnreachable       = "endpoint_unreachable"
	ReasonRefused           = "endpoint_refused_by_policy"
	ReasonBadCredentials    = "bad_credentials"
	ReasonForbidden         = "forbidden_credentials"
)

// ConnectError says why a cluster config cannot be used. Its Error text
// may be shown to the tenant: it never carries how a dial failed, which
// only Detail (for the server log) tells.
type ConnectError struct {
	Reason string
	Err    error
}

func (e *ConnectError) Error() string {
	switch e.Reason {
	case ReasonInvalidKubeconfig:
		return e.Err.Error()
	case ReasonRefused, ReasonUnreachable:
		var ee *egress.Error
		if errors.As(e.Err, &ee) && e.Reason == ReasonRefused {
			return "cluster " + ee.Error()
		}
		return "cluster unreachable: no Kubernetes API server answered at the kubeconfig's server (a connection, TLS or HTTP failure; the server log has the details)"
	case ReasonBadCredentials:
		return "bad credentials: the API server refused them (401)"
	default:
		return "credentials lack permission to list and watch pods (403)"
	}
}

func (e *ConnectError) Unwrap() error { return e.Err }

// connectDetail returns err with its cause, for the server log only.
func connectDetail(err error) string {
	var ee *egress.Error
	var ce *ConnectError
	switch {
	case errors.As(err, &ee):
		return ee.Detail()
	case errors.As(err, &ce) && ce.Err != nil:
		return ce.Error() + ": " + ce.Err.Error()
	}
	return err.Error()
}

// publicReason is what a tenant may read of why a cluster is not
// collected.
func publicReason(err error) string {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return "the cluster config cannot be used (the server log has the details)"
}

// restConfig builds the REST config of a cluster config. The operator's
// kubeconfig keeps client-go's full behaviour; a tenant's gets inline
// credentials only, and its connections go through the egress policy.
func (s *Service) restConfig(c ClusterConfig) (*rest.Config, error) {
	switch {
	case c.InCluster:
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("in_cluster: %w", err)}
		}
		return rc, nil
	case c.Origin == OriginOperator:
		return operatorRESTConfig(c)
	}
	rc, err := ValidateKubeconfig(c.Kubeconfig, c.Context)
	if err != nil {
		return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: err}
	}
	rc.Dial = s.cfg.Egress.DialContext
	rc.Proxy = egress.NoProxy
	return rc, nil
}

// operatorRESTConfig builds the REST config of the operator's kubeconfig
// with client-go.
func operatorRESTConfig(c ClusterConfig) (*rest.Config, error) {
	raw, err := clientcmd.Load([]byte(c.Kubeconfig))
	if err != nil {
		return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("kubeconfig: not a valid kubeconfig: %w", err)}
	}
	if c.Context != "" {
		if _, ok := raw.Contexts[c.Context]; !ok {
			return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("context: %q is not in the kubeconfig", c.Context)}
		}
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*raw, c.Context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("kubeconfig: %w", err)}
	}
	return rc, nil
}

// check connects to the cluster: it lists one pod, which the collector
// needs to be allowed.
func check(ctx context.Context, rc *rest.Config, timeout time.Duration) error {
	rc = rest.CopyConfig(rc)
	rc.Timeout = timeout
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return &ConnectError{Reason: ReasonInvalidKubeconfig, Err: fmt.Errorf("kubeconfig: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = client.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1})
	switch {
	case err == nil:
		return nil
	case apierrors.IsUnauthorized(err):
		return &ConnectError{Reason: ReasonBadCredentials, Err: err}
	case apierrors.IsForbidden(err):
		return &ConnectError{Reason: ReasonForbidden, Err: err}
	}
	if ee := egress.Classify(err); ee != nil && ee.Kind == egress.Refused {
		return &ConnectError{Reason: ReasonRefused, Err: ee}
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
