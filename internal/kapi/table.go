package kapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// tableColumns are the columns kubectl get shows.
var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the PodLogStream."},
	{Name: "Namespace", Type: "string", Description: "The namespace of the pod."},
	{Name: "Pod", Type: "string", Description: "The pod whose logs are streamed."},
	{Name: "Active", Type: "string", Description: "Containers streaming, of those selected."},
	{Name: "Error", Type: "string", Priority: 1, Description: "The first container error."},
	{Name: "Age", Type: "string", Description: "Time since creation."},
}

// tableRequest tells whether a request asks for a Table (as kubectl get
// does) and what each row carries: includeObject None, Metadata (default) or
// Object.
func tableRequest(r *http.Request) (bool, metav1.IncludeObjectPolicy, error) {
	accept := r.Header.Get("Accept")
	if !strings.Contains(accept, "as=Table") || !strings.Contains(accept, "g=meta.k8s.io") {
		return false, "", nil
	}
	p := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))
	switch p {
	case "":
		p = metav1.IncludeMetadata
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
	default:
		return false, "", apierrors.NewBadRequest(fmt.Sprintf("includeObject: %q is not one of None, Metadata, Object", p))
	}
	return true, p, nil
}

// toTable renders objects as a Table.
func toTable(objs []PodLogStream, lm metav1.ListMeta, include metav1.IncludeObjectPolicy, now time.Time) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: lm, ColumnDefinitions: tableColumns, Rows: []metav1.TableRow{}}
	for i := range objs {
		o := &objs[i]
		active, firstErr := 0, ""
		for _, cs := range o.Status.ContainerStatuses {
			if cs.Active {
				active++
			}
			if firstErr == "" && cs.Error != "" {
				firstErr = cs.Name + ": " + cs.Error
			}
		}
		row := metav1.TableRow{Cells: []any{o.Name, o.Spec.Namespace, o.Spec.Pod,
			fmt.Sprintf("%d/%d", active, len(o.Status.ContainerStatuses)), firstErr,
			duration.HumanDuration(now.Sub(o.CreationTimestamp.Time))}}
		var raw []byte
		switch include {
		case metav1.IncludeMetadata:
			raw, _ = json.Marshal(&metav1.PartialObjectMetadata{
				TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}, ObjectMeta: o.ObjectMeta})
		case metav1.IncludeObject:
			raw, _ = json.Marshal(o)
		}
		row.Object = runtime.RawExtension{Raw: raw}
		t.Rows = append(t.Rows, row)
	}
	return t
}
