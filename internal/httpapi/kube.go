package httpapi

import (
	"context"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KubeAPI serves the Kubernetes-style API group under /apis (package kapi).
// Its methods are called concurrently, after the route's authentication.
type KubeAPI interface {
	// ServeDiscovery answers the discovery and OpenAPI paths.
	ServeDiscovery(w http.ResponseWriter, r *http.Request)
	// ServeResource answers the resource paths, acting in tenant.
	ServeResource(w http.ResponseWriter, r *http.Request, tenant string)
}

// kubeDiscovery serves GET /api, /apis, /apis/tilt.dev,
// /apis/tilt.dev/v1alpha1, /version and /openapi/v3[...].
func (a *API) kubeDiscovery(w http.ResponseWriter, r *http.Request) error {
	a.kube.ServeDiscovery(w, r)
	return nil
}

// kubeResource serves /apis/tilt.dev/v1alpha1/podlogstreams[/{name}[/status]]
// in the request's tenant. Long requests (watches) end when the server
// begins to stop.
func (a *API) kubeResource(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(a.shutdown, cancel)
	defer stop()
	a.kube.ServeResource(w, r.WithContext(ctx), tenantOf(r))
	return nil
}

// kubeStatusReasons maps the status codes of the shared middleware's errors
// to Kubernetes Status reasons.
var kubeStatusReasons = map[int]metav1.StatusReason{
	http.StatusBadRequest:            metav1.StatusReasonBadRequest,
	http.StatusUnauthorized:          metav1.StatusReasonUnauthorized,
	http.StatusForbidden:             metav1.StatusReasonForbidden,
	http.StatusNotFound:              metav1.StatusReasonNotFound,
	http.StatusConflict:              metav1.StatusReasonConflict,
	http.StatusRequestEntityTooLarge: metav1.StatusReasonRequestEntityTooLarge,
	http.StatusTooManyRequests:       metav1.StatusReasonTooManyRequests,
	http.StatusServiceUnavailable:    metav1.StatusReasonServiceUnavailable,
}

// writeKubeError writes err as a Kubernetes Status, for errors met before
// the request reaches the KubeAPI (token, scope, rate limit).
func (a *API) writeKubeError(w http.ResponseWriter, r *http.Request, err error) {
	e := a.mapError(r, err)
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: e.Message, Code: int32(e.Status), Reason: kubeStatusReasons[e.Status]}
	if st.Reason == "" {
		st.Reason = metav1.StatusReasonInternalError
	}
	if e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		st.Details = &metav1.StatusDetails{RetryAfterSeconds: int32(secs)}
	}
	writeJSON(w, e.Status, &st)
}
