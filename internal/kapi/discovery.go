package kapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"runtime"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
)

// The discovery and OpenAPI paths.
const (
	groupPath     = "/apis/" + Group
	versionPath   = groupPath + "/" + Version
	openAPIV3Path = "/openapi/v3"
	openAPIGVPath = openAPIV3Path + "/apis/" + Group + "/" + Version
)

// DiscoveryPaths are the paths ServeDiscovery answers (GET only).
var DiscoveryPaths = []string{"/api", "/apis", groupPath, versionPath, "/version", openAPIV3Path, openAPIGVPath}

// ServeDiscovery serves the discovery documents: /api (no legacy core
// group), /apis, /apis/tilt.dev, /apis/tilt.dev/v1alpha1, /version, and the
// OpenAPI v3 index and group-version document.
func (h *Handler) ServeDiscovery(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	gv := metav1.GroupVersionForDiscovery{GroupVersion: APIVersion, Version: Version}
	group := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name: Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv}
	switch path {
	case "/api":
		writeObject(w, r, http.StatusOK, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{}})
	case "/apis":
		writeObject(w, r, http.StatusOK, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{group}})
	case groupPath:
		writeObject(w, r, http.StatusOK, &group)
	case versionPath:
		writeObject(w, r, http.StatusOK, resourceList())
	case "/version":
		writeObject(w, r, http.StatusOK, &version.Info{Major: "1", Minor: "36", GitVersion: "v1.36.0-kubelog-" + h.version,
			GoVersion: runtime.Version(), Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH})
	case openAPIV3Path:
		sum := sha256.Sum256(openAPIDocument)
		hash := strings.ToUpper(hex.EncodeToString(sum[:]))
		writeObject(w, r, http.StatusOK, map[string]any{"paths": map[string]any{
			"apis/" + Group + "/" + Version: map[string]string{"serverRelativeURL": openAPIGVPath + "?hash=" + hash},
		}})
	case openAPIGVPath:
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("hash") != "" {
			w.Header().Set("Cache-Control", "public, immutable")
		}
		_, _ = w.Write(openAPIDocument)
	default:
		WriteStatus(w, r, metav1.Status{Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
			Message: "the server could not find the requested resource"})
	}
}

// resourceList is the APIResourceList of the group version.
func resourceList() *metav1.APIResourceList {
	return &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: APIVersion,
		APIResources: []metav1.APIResource{{
			Name: Resource, SingularName: Singular, Namespaced: false, Kind: Kind,
			Verbs:      metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
			ShortNames: []string{ShortName},
		}, {
			Name: Resource + "/status", SingularName: "", Namespaced: false, Kind: Kind,
			Verbs: metav1.Verbs{"get", "patch", "update"},
		}},
	}
}
