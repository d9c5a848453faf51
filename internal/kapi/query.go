package kapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxWatchTimeout bounds a watch when timeoutSeconds is not set.
const maxWatchTimeout = 30 * time.Minute

// listOptions are the parsed query parameters of list, watch and
// deletecollection.
type listOptions struct {
	label labels.Selector
	field fields.Selector
	limit int64
	// cont is the continue token; its resourceVersion is the list's.
	cont *continueToken
	// rv is the resourceVersion asked for (0: none), match its match rule.
	rv      uint64
	rvSet   bool
	match   metav1.ResourceVersionMatch
	timeout time.Duration
	watch   bool
	// bookmarks is allowWatchBookmarks; initial is sendInitialEvents.
	bookmarks bool
	initial   *bool
}

// continueToken is the decoded continue parameter.
type continueToken struct {
	RV    uint64 `json:"rv"`
	After string `json:"after"`
}

func (c continueToken) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// fieldSet is what a field selector may test.
func fieldSet(obj *PodLogStream) fields.Set {
	return fields.Set{
		"metadata.name":  obj.Name,
		"spec.pod":       obj.Spec.Pod,
		"spec.namespace": obj.Spec.Namespace,
		"spec.cluster":   obj.Spec.Cluster,
	}
}

// matches reports whether obj passes the selectors.
func (o *listOptions) matches(obj *PodLogStream) bool {
	return o.label.Matches(labels.Set(obj.Labels)) && o.field.Matches(fieldSet(obj))
}

// parseBool reads a boolean query parameter.
func parseBool(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierrors.NewBadRequest(fmt.Sprintf("%s: %q is not a boolean (true or false)", name, v))
	}
	return b, nil
}

// parseListOptions reads the parameters of list, watch and deletecollection.
func parseListOptions(q url.Values) (*listOptions, error) {
	o := &listOptions{label: labels.Everything(), field: fields.Everything()}
	var err error
	if s := q.Get("labelSelector"); s != "" {
		if o.label, err = labels.Parse(s); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector: %v", err))
		}
	}
	if s := q.Get("fieldSelector"); s != "" {
		if o.field, err = fields.ParseSelector(s); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: %v", err))
		}
		known := fieldSet(&PodLogStream{})
		for _, r := range o.field.Requirements() {
			if _, ok := known[r.Field]; !ok {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: field label not supported: %s (use metadata.name, spec.pod, spec.namespace or spec.cluster)", r.Field))
			}
		}
	}
	if s := q.Get("limit"); s != "" {
		if o.limit, err = strconv.ParseInt(s, 10, 64); err != nil || o.limit < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("limit: %q is not a non-negative integer", s))
		}
	}
	if s := q.Get("resourceVersion"); s != "" {
		if o.rv, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("resourceVersion: %q is not a resource version (an unsigned integer)", s))
		}
		o.rvSet = true
	}
	o.match = metav1.ResourceVersionMatch(q.Get("resourceVersionMatch"))
	switch o.match {
	case "", metav1.ResourceVersionMatchExact, metav1.ResourceVersionMatchNotOlderThan:
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch: %q is not one of Exact, NotOlderThan", o.match))
	}
	if o.match != "" && !o.rvSet && q.Get("sendInitialEvents") == "" {
		return nil, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if o.match == metav1.ResourceVersionMatchExact && o.rv == 0 && o.rvSet {
		return nil, apierrors.NewBadRequest("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
	}
	if s := q.Get("continue"); s != "" {
		if o.rvSet {
			return nil, apierrors.NewBadRequest("specifying resourceVersion is not allowed when using continue")
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		var tok continueToken
		if err == nil {
			err = json.Unmarshal(raw, &tok)
		}
		if err != nil || tok.RV == 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("continue: %q is not a continue token returned by this server", s))
		}
		o.cont = &tok
	}
	if s := q.Get("timeoutSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("timeoutSeconds: %q is not a non-negative integer", s))
		}
		o.timeout = time.Duration(n) * time.Second
	}
	if o.watch, err = parseBool(q, "watch"); err != nil {
		return nil, err
	}
	if o.bookmarks, err = parseBool(q, "allowWatchBookmarks"); err != nil {
		return nil, err
	}
	if q.Get("sendInitialEvents") != "" {
		b, err := parseBool(q, "sendInitialEvents")
		if err != nil {
			return nil, err
		}
		if !o.watch {
			return nil, apierrors.NewBadRequest("sendInitialEvents is forbidden for list")
		}
		if b && (o.match != metav1.ResourceVersionMatchNotOlderThan || !o.bookmarks) {
			return nil, apierrors.NewBadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true")
		}
		o.initial = &b
	}
	if o.watch && o.match != "" && o.initial == nil {
		return nil, apierrors.NewBadRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
	}
	if o.watch && o.cont != nil {
		return nil, apierrors.NewBadRequest("continue is forbidden for watch")
	}
	return o, nil
}

// writeOptions are the parameters of create, update and patch.
type writeOptions struct {
	dryRun          bool
	fieldManager    string
	fieldValidation string
	force           bool
}

// parseWriteOptions reads dryRun, fieldManager, fieldValidation and, when
// patch, force.
func parseWriteOptions(q url.Values, patch bool) (*writeOptions, error) {
	o := &writeOptions{fieldManager: q.Get("fieldManager"), fieldValidation: q.Get("fieldValidation")}
	errs := metav1validation.ValidateDryRun(field.NewPath("dryRun"), q["dryRun"])
	errs = append(errs, metav1validation.ValidateFieldManager(o.fieldManager, field.NewPath("fieldManager"))...)
	errs = append(errs, metav1validation.ValidateFieldValidation(field.NewPath("fieldValidation"), o.fieldValidation)...)
	if len(errs) > 0 {
		return nil, apierrors.NewBadRequest(errs.ToAggregate().Error())
	}
	o.dryRun = len(q["dryRun"]) > 0
	if o.fieldValidation == "" {
		o.fieldValidation = metav1.FieldValidationWarn
	}
	if patch {
		var err error
		if o.force, err = parseBool(q, "force"); err != nil {
			return nil, err
		}
	} else if q.Has("force") {
		return nil, apierrors.NewBadRequest("force: only patch takes it")
	}
	return o, nil
}

// deleteOptions reads the parameters and body of delete and
// deletecollection.
func deleteOptions(q url.Values, body []byte) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, opts); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not DeleteOptions: %v", err))
		}
	}
	if s := q.Get("gracePeriodSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("gracePeriodSeconds: %q is not an integer", s))
		}
		opts.GracePeriodSeconds = &n
	}
	if s := q.Get("propagationPolicy"); s != "" {
		p := metav1.DeletionPropagation(s)
		opts.PropagationPolicy = &p
	}
	if v, ok := q["dryRun"]; ok {
		opts.DryRun = v
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("gracePeriodSeconds: %d is negative", *opts.GracePeriodSeconds))
	}
	if errs := metav1validation.ValidateDeleteOptions(opts); len(errs) > 0 {
		return nil, apierrors.NewBadRequest(errs.ToAggregate().Error())
	}
	return opts, nil
}
