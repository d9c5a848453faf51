package kapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"
)

// ResourcePath is the path of the resource's collection.
const ResourcePath = "/apis/" + Group + "/" + Version + "/" + Resource

// bookmarkInterval is how often a watch that allows bookmarks gets one.
const bookmarkInterval = 5 * time.Second

// Handler serves the API group over HTTP. Authentication happens before it:
// the caller passes the tenant a request acts in.
type Handler struct {
	objs  *Objects
	log   *slog.Logger
	clock clock.PassiveClock
	// version is what /version reports.
	version string
}

// NewHandler returns a Handler serving objs; version is the server's
// version for /version.
func NewHandler(objs *Objects, log *slog.Logger, version string) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{objs: objs, log: log, clock: clock.RealClock{}, version: version}
}

// ServeResource serves the resource's routes: ResourcePath, ResourcePath/{name}
// and ResourcePath/{name}/status, acting in tenant.
func (h *Handler) ServeResource(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := h.serveResource(w, r, tenant); err != nil {
		h.WriteError(w, r, err)
	}
}

func (h *Handler) serveResource(w http.ResponseWriter, r *http.Request, tenant string) error {
	rest, ok := strings.CutPrefix(r.URL.Path, ResourcePath)
	if !ok || (rest != "" && rest[0] != '/') {
		return notFoundPath(r)
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	if rest == "" || rest == "/" {
		parts = nil
	}
	if len(parts) > 2 || (len(parts) == 2 && parts[1] != "status") {
		return notFoundPath(r)
	}
	if len(parts) == 0 {
		switch r.Method {
		case http.MethodGet:
			return h.list(w, r, tenant)
		case http.MethodPost:
			return h.create(w, r, tenant)
		case http.MethodDelete:
			return h.deleteCollection(w, r, tenant)
		}
		return methodNotAllowed(r, "GET, POST, DELETE")
	}
	name, status := parts[0], len(parts) == 2
	switch r.Method {
	case http.MethodGet:
		obj, err := h.objs.Get(tenant, name)
		if err != nil {
			return err
		}
		if table, include, err := tableRequest(r); err != nil {
			return err
		} else if table {
			writeObject(w, r, http.StatusOK, toTable([]PodLogStream{*obj}, metav1.ListMeta{ResourceVersion: obj.ResourceVersion}, include, h.clock.Now()))
			return nil
		}
		writeObject(w, r, http.StatusOK, obj)
		return nil
	case http.MethodPut:
		return h.update(w, r, tenant, name, status)
	case http.MethodPatch:
		return h.patch(w, r, tenant, name, status)
	case http.MethodDelete:
		if !status {
			return h.delete(w, r, tenant, name)
		}
	}
	if status {
		return methodNotAllowed(r, "GET, PUT, PATCH")
	}
	return methodNotAllowed(r, "GET, PUT, PATCH, DELETE")
}

// notFoundPath is the 404 of a path the API does not serve.
func notFoundPath(r *http.Request) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotFound,
		Reason: metav1.StatusReasonNotFound, Message: fmt.Sprintf("the server could not find the requested resource (%s %s)", r.Method, r.URL.Path)}}
}

// methodNotAllowed is the 405 of a method a path does not take.
func methodNotAllowed(r *http.Request, allowed string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed,
		Reason: metav1.StatusReasonMethodNotAllowed, Message: fmt.Sprintf("%s is not supported on %s; allowed: %s", r.Method, r.URL.Path, allowed)}}
}

// readBody reads a request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the body is over the limit of %d bytes", mbe.Limit))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the body: %v", err))
	}
	return b, nil
}

// decodeRequest reads, converts and decodes a request's object.
func decodeRequest(r *http.Request, wo *writeOptions) (*PodLogStream, []string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	if len(body) == 0 {
		return nil, nil, apierrors.NewBadRequest("the body is empty: send a PodLogStream")
	}
	data, err := bodyJSON(body, r.Header.Get("Content-Type"))
	if err != nil {
		return nil, nil, err
	}
	return decodeObject(data, wo.fieldValidation)
}

// create serves POST ResourcePath.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, tenant string) error {
	wo, err := parseWriteOptions(r.URL.Query(), false)
	if err != nil {
		return err
	}
	obj, warns, err := decodeRequest(r, wo)
	if err != nil {
		return err
	}
	if obj.ResourceVersion != "" {
		return apierrors.NewInvalid(groupKind, obj.Name, field.ErrorList{field.Invalid(field.NewPath("metadata", "resourceVersion"), obj.ResourceVersion, "must be empty on create")})
	}
	obj.Status = PodLogStreamStatus{}
	if obj.Name == "" && obj.GenerateName != "" {
		obj.Name = generateName(obj.GenerateName)
	}
	defaultObject(obj)
	if err := validateObject(obj); err != nil {
		return err
	}
	obj.ManagedFields = nil
	h.track(obj, r, wo, "")
	created, err := h.objs.Create(tenant, obj, wo.dryRun)
	if err != nil {
		return err
	}
	writeWarnings(w, warns)
	writeObject(w, r, http.StatusCreated, created)
	return nil
}

// checkPreconditions fails with Conflict when obj names another
// resourceVersion or uid than cur.
func checkPreconditions(obj, cur *PodLogStream) error {
	if obj.ResourceVersion != "" && obj.ResourceVersion != cur.ResourceVersion {
		return apierrors.NewConflict(groupResource, cur.Name, errors.New(registryOptimisticLockMsg))
	}
	if obj.UID != "" && obj.UID != cur.UID {
		//lint:ignore ST1005 kube-apiserver's own wording, which clients match
		return apierrors.NewConflict(groupResource, cur.Name, fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", obj.UID, cur.UID))
	}
	return nil
}

// registryOptimisticLockMsg is Kubernetes' message for a stale update.
const registryOptimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"

// update serves PUT ResourcePath/{name} and PUT ResourcePath/{name}/status.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, tenant, name string, status bool) error {
	wo, err := parseWriteOptions(r.URL.Query(), false)
	if err != nil {
		return err
	}
	obj, warns, err := decodeRequest(r, wo)
	if err != nil {
		return err
	}
	if obj.Name != "" && obj.Name != name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", obj.Name, name))
	}
	obj.Name = name
	res, created, err := h.objs.Update(tenant, name, !status, wo.dryRun, func(cur *PodLogStream) (*PodLogStream, error) {
		return h.merge(r, wo, obj, cur, status)
	})
	if err != nil {
		return err
	}
	writeWarnings(w, warns)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeObject(w, r, code, res)
	return nil
}

// merge returns the object an update or patch stores: obj's spec and
// metadata with cur's status, or, for status, cur with obj's status. cur is
// nil when the update creates the object.
func (h *Handler) merge(r *http.Request, wo *writeOptions, obj, cur *PodLogStream, status bool) (*PodLogStream, error) {
	if cur == nil {
		if obj.ResourceVersion != "" {
			return nil, apierrors.NewNotFound(groupResource, obj.Name)
		}
		obj.Status = PodLogStreamStatus{}
		defaultObject(obj)
		if err := validateObject(obj); err != nil {
			return nil, err
		}
		obj.ManagedFields = nil
		h.track(obj, r, wo, "")
		return obj, nil
	}
	if err := checkPreconditions(obj, cur); err != nil {
		return nil, err
	}
	next := obj
	if status {
		next = cur.deepCopy()
		next.Status = obj.Status
	} else {
		next.Status = cur.Status
		if next.ManagedFields == nil {
			next.ManagedFields = cur.ManagedFields
		}
		defaultObject(next)
	}
	if err := validateObject(next); err != nil {
		return nil, err
	}
	sub := ""
	if status {
		sub = "status"
	}
	h.track(next, r, wo, sub)
	return next, nil
}

// The patch content types.
const (
	jsonPatchType      = string(types.JSONPatchType)
	mergePatchType     = string(types.MergePatchType)
	strategicPatchType = string(types.StrategicMergePatchType)
	applyPatchType     = string(types.ApplyYAMLPatchType)
	applyCBORPatchType = "application/apply-patch+cbor"
)

// patch serves PATCH ResourcePath/{name} and PATCH ResourcePath/{name}/status.
// A strategic merge patch is applied as a JSON merge patch: the schema has
// no list merged by key.
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, tenant, name string, status bool) error {
	wo, err := parseWriteOptions(r.URL.Query(), true)
	if err != nil {
		return err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case jsonPatchType, mergePatchType, strategicPatchType:
	case applyPatchType, applyCBORPatchType:
		return unsupportedMediaType("server-side apply is not supported for " + Resource + "." + Group + ": use client-side apply (kubectl apply without --server-side), a merge patch or an update")
	default:
		return unsupportedMediaType(fmt.Sprintf("the patch content type %q is not supported: use %s, %s or %s", r.Header.Get("Content-Type"), jsonPatchType, mergePatchType, strategicPatchType))
	}
	if wo.force {
		return apierrors.NewBadRequest("force: only server-side apply takes it, and this resource does not support server-side apply")
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var jp jsonpatch.Patch
	if ct == jsonPatchType {
		if jp, err = jsonpatch.DecodePatch(body); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("the body is not a JSON patch: %v", err))
		}
	} else if !json.Valid(body) || len(body) == 0 || body[0] != '{' {
		return apierrors.NewBadRequest("the body is not a merge patch: want a JSON object")
	}
	var warns []string
	res, _, err := h.objs.Update(tenant, name, false, wo.dryRun, func(cur *PodLogStream) (*PodLogStream, error) {
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return nil, err
		}
		var patched []byte
		if jp != nil {
			patched, err = jp.Apply(curJSON)
		} else {
			patched, err = jsonpatch.MergePatch(curJSON, body)
		}
		if err != nil {
			return nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity,
				Reason: metav1.StatusReasonInvalid, Message: fmt.Sprintf("the patch does not apply: %v", err)}}
		}
		obj, ws, err := decodeObject(patched, wo.fieldValidation)
		if err != nil {
			return nil, err
		}
		warns = ws
		if obj.Name != cur.Name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("metadata.name: the patch may not change the name (%s)", cur.Name))
		}
		return h.merge(r, wo, obj, cur, status)
	})
	if err != nil {
		return err
	}
	writeWarnings(w, warns)
	writeObject(w, r, http.StatusOK, res)
	return nil
}

// delete serves DELETE ResourcePath/{name}: 200 when the object is gone,
// 202 when it is deleted after gracePeriodSeconds.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, tenant, name string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	opts, err := deleteOptions(r.URL.Query(), body)
	if err != nil {
		return err
	}
	var pre Preconditions
	if p := opts.Preconditions; p != nil {
		if p.UID != nil {
			pre.UID = string(*p.UID)
		}
		if p.ResourceVersion != nil {
			pre.ResourceVersion = *p.ResourceVersion
		}
	}
	obj, pending, err := h.objs.Delete(tenant, name, pre, opts.GracePeriodSeconds, len(opts.DryRun) > 0)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if pending {
		code = http.StatusAccepted
	}
	writeObject(w, r, code, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: obj.Name, Group: Group, Kind: Resource, UID: obj.UID},
	})
	return nil
}

// deleteCollection serves DELETE ResourcePath: it deletes the objects a list
// with the same parameters returns.
func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, tenant string) error {
	lo, err := parseListOptions(r.URL.Query())
	if err != nil {
		return err
	}
	if lo.watch {
		return apierrors.NewBadRequest("watch: deletecollection does not watch")
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	opts, err := deleteOptions(r.URL.Query(), body)
	if err != nil {
		return err
	}
	if opts.Preconditions != nil {
		return apierrors.NewBadRequest("preconditions: deletecollection does not take them")
	}
	var deadline time.Time
	if lo.timeout > 0 {
		deadline = h.clock.Now().Add(lo.timeout)
	}
	list, err := h.listObjects(tenant, lo)
	if err != nil {
		return err
	}
	for _, obj := range list.Items {
		if !deadline.IsZero() && h.clock.Now().After(deadline) {
			return apierrors.NewTimeoutError(fmt.Sprintf("deletecollection ran past timeoutSeconds after deleting some objects; %s was not deleted", obj.Name), 0)
		}
		if _, _, err := h.objs.Delete(tenant, obj.Name, Preconditions{UID: string(obj.UID)}, opts.GracePeriodSeconds, len(opts.DryRun) > 0); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	writeObject(w, r, http.StatusOK, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: list.ResourceVersion, Continue: list.Continue, RemainingItemCount: list.RemainingItemCount},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Group: Group, Kind: Resource},
	})
	return nil
}

// list serves GET ResourcePath, and hands watches to watch.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, tenant string) error {
	lo, err := parseListOptions(r.URL.Query())
	if err != nil {
		return err
	}
	if lo.watch {
		return h.watch(w, r, tenant, lo)
	}
	table, include, err := tableRequest(r)
	if err != nil {
		return err
	}
	list, err := h.listObjects(tenant, lo)
	if err != nil {
		return err
	}
	if table {
		writeObject(w, r, http.StatusOK, toTable(list.Items, list.ListMeta, include, h.clock.Now()))
		return nil
	}
	writeObject(w, r, http.StatusOK, list)
	return nil
}

// listObjects returns the list that list options select.
func (h *Handler) listObjects(tenant string, lo *listOptions) (*PodLogStreamList, error) {
	var at uint64
	switch {
	case lo.cont != nil:
		at = lo.cont.RV
	case lo.rvSet && lo.rv > 0 && (lo.match == metav1.ResourceVersionMatchExact || (lo.match == "" && lo.limit > 0)):
		at = lo.rv
	case lo.rvSet && lo.rv > 0:
		if err := h.waitForRV(lo.rv, lo.timeout); err != nil {
			return nil, err
		}
	}
	objs, rv, err := h.objs.snapshot(tenant, at)
	if err != nil {
		if lo.cont != nil && apierrors.IsResourceExpired(err) {
			return nil, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
		}
		return nil, err
	}
	list := &PodLogStreamList{TypeMeta: metav1.TypeMeta{Kind: ListKind, APIVersion: APIVersion},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)}, Items: []PodLogStream{}}
	rest := 0
	for _, obj := range objs {
		if lo.cont != nil && obj.Name <= lo.cont.After {
			continue
		}
		if !lo.matches(obj) {
			continue
		}
		if lo.limit > 0 && int64(len(list.Items)) == lo.limit {
			rest++
			continue
		}
		list.Items = append(list.Items, *obj.deepCopy())
	}
	if rest > 0 {
		list.Continue = continueToken{RV: rv, After: list.Items[len(list.Items)-1].Name}.encode()
		n := int64(rest)
		list.RemainingItemCount = &n
	}
	return list, nil
}

// maxRVWait bounds how long a list waits for a resourceVersion the store
// has not reached.
const maxRVWait = 3 * time.Second

// waitForRV waits until the store reached resourceVersion rv, for up to
// timeout (timeoutSeconds) or maxRVWait, whichever is shorter, and then
// fails with a Timeout Status naming ResourceVersionTooLarge.
func (h *Handler) waitForRV(rv uint64, timeout time.Duration) error {
	wait := maxRVWait
	if timeout > 0 {
		wait = min(wait, timeout)
	}
	deadline := h.clock.Now().Add(wait)
	for {
		cur := h.objs.ResourceVersion()
		if rv <= cur {
			return nil
		}
		if h.clock.Now().After(deadline) {
			return tooLargeRV(rv, cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchEvent is one event of a watch response.
type watchEvent struct {
	Type   watch.EventType `json:"type"`
	Object any             `json:"object"`
}

// watch serves GET ResourcePath?watch=true: a stream of JSON events, one a
// line, until timeoutSeconds, the client leaves, or the server stops.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, tenant string, lo *listOptions) error {
	initial := lo.initial != nil && *lo.initial || (lo.initial == nil && lo.rv == 0)
	table, include, err := tableRequest(r)
	if err != nil {
		return err
	}
	wt, err := h.objs.startWatch(tenant, lo.rv, initial, lo.bookmarks && lo.initial != nil && *lo.initial)
	if err != nil {
		return err
	}
	defer h.objs.stopWatch(wt)
	timeout := lo.timeout
	if timeout <= 0 {
		timeout = maxWatchTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var bookmarks <-chan time.Time
	if lo.bookmarks {
		t := time.NewTicker(bookmarkInterval)
		defer t.Stop()
		bookmarks = t.C
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	if pretty(r) {
		enc.SetIndent("", "  ")
	}
	for {
		select {
		case ev := <-wt.ch:
			if !initial && ev.typ != watch.Bookmark && ev.rv <= lo.rv {
				continue // at or before the resourceVersion asked for
			}
			out, ok := lo.filter(ev)
			if !ok {
				continue
			}
			if obj, isObj := out.Object.(*PodLogStream); isObj && table {
				out.Object = toTable([]PodLogStream{*obj}, metav1.ListMeta{ResourceVersion: obj.ResourceVersion}, include, h.clock.Now())
			}
			if err := enc.Encode(out); err != nil {
				return nil // the client left
			}
			if len(wt.ch) == 0 {
				_ = rc.Flush()
			}
		case <-bookmarks:
			h.objs.sendBookmark(wt)
		case <-wt.dropped:
			return nil
		case <-timer.C:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// filter turns a change into the event a watch with these selectors sees:
// an object that starts or stops matching is added or deleted.
func (lo *listOptions) filter(ev event) (watchEvent, bool) {
	if ev.typ == watch.Bookmark {
		md := map[string]any{"resourceVersion": strconv.FormatUint(ev.rv, 10)}
		if ev.initialEnd {
			md["annotations"] = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
		}
		return watchEvent{Type: watch.Bookmark, Object: map[string]any{"kind": Kind, "apiVersion": APIVersion, "metadata": md}}, true
	}
	cur := lo.matches(ev.obj)
	prev := ev.prev != nil && lo.matches(ev.prev)
	typ := ev.typ
	switch {
	case ev.typ == watch.Deleted:
		if !prev {
			return watchEvent{}, false
		}
	case cur && prev:
		typ = watch.Modified
	case cur:
		typ = watch.Added
	case prev:
		typ = watch.Deleted
	default:
		return watchEvent{}, false
	}
	return watchEvent{Type: typ, Object: ev.obj}, true
}

// track records in obj's managedFields that the request's field manager
// wrote the fields obj holds (of the status subresource, or of the rest).
func (h *Handler) track(obj *PodLogStream, r *http.Request, wo *writeOptions, subresource string) {
	manager := wo.fieldManager
	if manager == "" {
		manager, _, _ = strings.Cut(r.UserAgent(), "/")
		if len(manager) > 128 {
			manager = manager[:128]
		}
	}
	fields := managedFieldSet(obj, subresource == "status")
	now := metav1.NewTime(h.clock.Now().Truncate(time.Second))
	entry := metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: APIVersion, Time: &now, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(string(fields)), Subresource: subresource}
	out := obj.ManagedFields[:0:0]
	for _, e := range obj.ManagedFields {
		if e.Manager != manager || e.Operation != entry.Operation || e.Subresource != subresource {
			out = append(out, e)
		}
	}
	obj.ManagedFields = append(out, entry)
}

// managedFieldSet returns, in the FieldsV1 format, the fields obj sets:
// its status, or its labels, annotations and spec.
func managedFieldSet(obj *PodLogStream, status bool) []byte {
	var v map[string]any
	if status {
		b, _ := json.Marshal(struct {
			Status PodLogStreamStatus `json:"status"`
		}{obj.Status})
		_ = json.Unmarshal(b, &v)
	} else {
		b, _ := json.Marshal(struct {
			Metadata struct {
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"metadata"`
			Spec PodLogStreamSpec `json:"spec"`
		}{struct {
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		}{obj.Labels, obj.Annotations}, obj.Spec})
		_ = json.Unmarshal(b, &v)
	}
	out, _ := json.Marshal(fieldTree(v))
	return out
}

// fieldTree maps a decoded JSON object to its FieldsV1 tree.
func fieldTree(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, val := range v {
		if m, ok := val.(map[string]any); ok && len(m) > 0 {
			sub := fieldTree(m)
			sub["."] = map[string]any{}
			out["f:"+k] = sub
		} else {
			out["f:"+k] = map[string]any{}
		}
	}
	return out
}

// pretty reports whether the request asks for indented JSON.
func pretty(r *http.Request) bool {
	b, err := strconv.ParseBool(r.URL.Query().Get("pretty"))
	return err == nil && b
}

// writeObject writes v as JSON with status, indented when asked.
func writeObject(w http.ResponseWriter, r *http.Request, status int, v any) {
	var b []byte
	if pretty(r) {
		b, _ = json.MarshalIndent(v, "", "  ")
	} else {
		b, _ = json.Marshal(v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeWarnings adds a Warning header per warning.
func writeWarnings(w http.ResponseWriter, warns []string) {
	for _, msg := range warns {
		w.Header().Add("Warning", `299 - `+strconv.Quote(msg))
	}
}

// WriteError writes err as a Kubernetes Status; errors that are not
// StatusErrors are 500s, logged.
func (h *Handler) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		se = apierrors.NewInternalError(errors.New("internal error; the server log has the details"))
	}
	st := se.Status()
	WriteStatus(w, r, st)
}

// WriteStatus writes a failure Status.
func WriteStatus(w http.ResponseWriter, r *http.Request, st metav1.Status) {
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	writeObject(w, r, int(st.Code), &st)
}
