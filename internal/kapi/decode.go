package kapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// defaultNamespace is spec.namespace when it is not set.
const defaultNamespace = "default"

// clusterNameRE is the form of a cluster name.
var clusterNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// bodyJSON returns a request body as JSON: YAML bodies are converted.
func bodyJSON(body []byte, contentType string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType != "" && err != nil {
		return nil, unsupportedMediaType(fmt.Sprintf("the content type %q does not parse: %v", contentType, err))
	}
	switch mt {
	case "", "application/json", "*/*":
		return body, nil
	case "application/yaml", "application/x-yaml", "text/yaml":
		out, err := yaml.YAMLToJSON(body)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not valid YAML: %v", err))
		}
		return out, nil
	}
	return nil, unsupportedMediaType(fmt.Sprintf("the body's content type %q is not supported: send application/json or application/yaml", contentType))
}

// unsupportedMediaType is a 415 StatusError with a message.
func unsupportedMediaType(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 415, Reason: metav1.StatusReasonUnsupportedMediaType, Message: msg,
	}}
}

// decodeObject decodes a PodLogStream from JSON. fieldValidation is Strict,
// Warn or Ignore: unknown and duplicate fields fail the request, become
// warnings, or are dropped. Type errors are 400 BadRequest; a sinceTime that
// is not RFC3339 is 422 Invalid on spec.sinceTime.
func decodeObject(data []byte, fieldValidation string) (*PodLogStream, []string, error) {
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not a JSON object: %v", err))
	}
	name := ""
	if md, ok := generic["metadata"].(map[string]any); ok {
		name, _ = md["name"].(string)
	}
	if spec, ok := generic["spec"].(map[string]any); ok {
		if v, set := spec["sinceTime"]; set && v != nil {
			s, isString := v.(string)
			if _, err := time.Parse(time.RFC3339, s); !isString || err != nil {
				return nil, nil, apierrors.NewInvalid(groupKind, name, field.ErrorList{
					field.Invalid(field.NewPath("spec", "sinceTime"), v, "must be an RFC3339 time, such as 2026-11-21T12:00:00Z")})
			}
		}
	}
	obj := &PodLogStream{}
	strictErrs, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not a valid PodLogStream: %v", err))
	}
	var warnings []string
	if len(strictErrs) > 0 {
		switch fieldValidation {
		case metav1.FieldValidationStrict:
			msgs := make([]string, len(strictErrs))
			for i, e := range strictErrs {
				msgs[i] = e.Error()
			}
			return nil, nil, apierrors.NewBadRequest("strict decoding error: " + strings.Join(msgs, ", "))
		case metav1.FieldValidationWarn:
			for _, e := range strictErrs {
				warnings = append(warnings, e.Error())
			}
		}
	}
	if obj.APIVersion != "" && obj.APIVersion != APIVersion {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("apiVersion %q does not match the expected %q", obj.APIVersion, APIVersion))
	}
	if obj.Kind != "" && obj.Kind != Kind {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("kind %q does not match the expected %q", obj.Kind, Kind))
	}
	obj.APIVersion, obj.Kind = APIVersion, Kind
	return obj, warnings, nil
}

// defaultObject fills the spec's defaults.
func defaultObject(obj *PodLogStream) {
	if obj.Spec.Namespace == "" {
		obj.Spec.Namespace = defaultNamespace
	}
}

// validateObject checks an object's metadata and spec.
func validateObject(obj *PodLogStream) error {
	errs := apivalidation.ValidateObjectMeta(&obj.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	s := &obj.Spec
	if s.Pod == "" {
		errs = append(errs, field.Required(spec.Child("pod"), "the name of the pod to stream"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(s.Pod) {
			errs = append(errs, field.Invalid(spec.Child("pod"), s.Pod, msg))
		}
	}
	for _, msg := range validation.IsDNS1123Label(s.Namespace) {
		errs = append(errs, field.Invalid(spec.Child("namespace"), s.Namespace, msg))
	}
	for _, list := range []struct {
		name  string
		names []string
	}{{"onlyContainers", s.OnlyContainers}, {"ignoreContainers", s.IgnoreContainers}} {
		for i, c := range list.names {
			for _, msg := range validation.IsDNS1123Label(c) {
				errs = append(errs, field.Invalid(spec.Child(list.name).Index(i), c, msg))
			}
		}
	}
	if s.Cluster != "" && !clusterNameRE.MatchString(s.Cluster) {
		errs = append(errs, field.Invalid(spec.Child("cluster"), s.Cluster, "must match [a-z0-9][a-z0-9._-]{0,62}"))
	}
	for i, cs := range obj.Status.ContainerStatuses {
		if cs.Name == "" {
			errs = append(errs, field.Required(field.NewPath("status", "containerStatuses").Index(i).Child("name"), ""))
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(groupKind, obj.Name, errs)
	}
	return nil
}
