// Package kapi serves PodLogStream objects (tilt.dev/v1alpha1) as a
// Kubernetes-style API group, so that kubectl, client-go and controllers use
// it unchanged: discovery (/api, /apis, /version, OpenAPI v3), get, list,
// watch, create, update, patch, delete and deletecollection, with
// resourceVersion, optimistic concurrency and Status errors. Objects live in
// the metadata database, belong to the caller's tenant, and drive collection
// through the collector's pins (see Controller).
package kapi

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The group, version and names of the resource.
const (
	Group      = "tilt.dev"
	Version    = "v1alpha1"
	Kind       = "PodLogStream"
	ListKind   = "PodLogStreamList"
	Resource   = "podlogstreams"
	Singular   = "podlogstream"
	ShortName  = "pls"
	APIVersion = Group + "/" + Version
)

var (
	groupResource = schema.GroupResource{Group: Group, Resource: Resource}
	groupKind     = schema.GroupKind{Group: Group, Kind: Kind}
)

// PodLogStream streams logs from a pod on Kubernetes into kubelog's store.
type PodLogStream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PodLogStreamSpec   `json:"spec,omitempty"`
	Status PodLogStreamStatus `json:"status,omitempty"`
}

// PodLogStreamSpec is the desired state: which pod's containers to stream.
type PodLogStreamSpec struct {
	// Pod is the name of the pod to watch. Required.
	Pod string `json:"pod,omitempty"`
	// Namespace of the pod; defaults to "default".
	Namespace string `json:"namespace,omitempty"`
	// SinceTime: only logs from then on; earlier than the pod's start means
	// from the start.
	SinceTime *metav1.Time `json:"sinceTime,omitempty"`
	// OnlyContainers and IgnoreContainers choose the containers; when both
	// are unset every container is watched.
	OnlyContainers   []string `json:"onlyContainers,omitempty"`
	IgnoreContainers []string `json:"ignoreContainers,omitempty"`
	// Cluster is the name of a registered cluster of the tenant; empty means
	// the tenant's cluster "default", or else its first.
	Cluster string `json:"cluster,omitempty"`
}

// PodLogStreamStatus is the observed state.
type PodLogStreamStatus struct {
	// ContainerStatuses lists the containers being watched.
	ContainerStatuses []ContainerLogStreamStatus `json:"containerStatuses,omitempty"`
}

// ContainerLogStreamStatus is the state of one container's log stream.
type ContainerLogStreamStatus struct {
	Name       string `json:"name"`
	Active     bool   `json:"active"`
	Error      string `json:"error,omitempty"`
	Terminated bool   `json:"terminated"`
}

// PodLogStreamList is a list of PodLogStream.
type PodLogStreamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PodLogStream `json:"items"`
}
