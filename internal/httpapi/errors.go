package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/meta"
)

// Error is an API error with its HTTP status and error id. Handlers return it
// (or any error, which becomes a 500) to the one writer of their surface.
type Error struct {
	Status  int
	ID      string
	Message string
	// RetryAfter sets the Retry-After header of a 429.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.ID + ": " + e.Message }

func errorf(status int, id, format string, args ...any) *Error {
	return &Error{Status: status, ID: id, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "bad_request", format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, "not_found", format, args...)
}

func forbidden(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, "forbidden", format, args...)
}

func unauthorized(format string, args ...any) *Error {
	return errorf(http.StatusUnauthorized, "unauthorized", format, args...)
}

// upstream maps a failed call to a cluster's API server to what a tenant
// may see: the API server's own status, or endpoint_unreachable without
// the dial's details, which only the server log keeps.
func (a *API) upstream(r *http.Request, call string, err error) error {
	if r.Context().Err() != nil {
		return err
	}
	a.log.Warn("call to a cluster failed", "request_id", requestID(r), "call", call, "err", err)
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		return errorf(http.StatusBadGateway, "unavailable", "%s: the cluster's API server answered %d %s", call, s.Code, s.Reason)
	}
	return errorf(http.StatusBadGateway, "endpoint_unreachable", "%s: the cluster's API server could not be reached; GET /api/v1/logs/clusters/status shows each cluster's condition", call)
}

// probedMethods are the methods a 405's Allow header may name.
var probedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers what only the catch-all pattern matched: a 405 with
// Allow when another method has a route for the path, else a 404.
func (a *API) unmatched(catchAll, message string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var allow []string
		for _, m := range probedMethods {
			probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, p := a.mux.Handler(probe); p != "" && p != catchAll {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			return notFound("%s", message)
		}
		list := strings.Join(allow, ", ")
		w.Header().Set("Allow", list)
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s; it takes %s", r.Method, r.URL.Path, list)
	}
}

func conflict(format string, args ...any) *Error {
	return errorf(http.StatusConflict, "conflict", format, args...)
}

func tooLarge(format string, args ...any) *Error {
	return errorf(http.StatusRequestEntityTooLarge, "payload_too_large", format, args...)
}

// asError maps any error to an *Error; unknown errors become 500s.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge("request body is over the limit of %d bytes", mbe.Limit)
	case errors.Is(err, auth.ErrUnauthenticated):
		return unauthorized("%v", err)
	case errors.Is(err, auth.ErrForbidden):
		return forbidden("%v", err)
	case errors.Is(err, meta.ErrNotFound):
		return notFound("%v", err)
	case errors.Is(err, meta.ErrConflict):
		return conflict("%v", err)
	}
	return &Error{Status: http.StatusInternalServerError, ID: "server_error", Message: err.Error()}
}

// errorBody is the error body of /api/v1/logs and its sub-paths.
type errorBody struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// writeJSONError writes err in the logs API's format and logs server errors.
func (a *API) writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	e := a.mapError(r, err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	writeJSON(w, e.Status, errorBody{ID: e.ID, Message: e.Message, RequestID: requestID(r)})
}

// writeTextError writes err as a plain-text body, as Loki's push endpoint does.
func (a *API) writeTextError(w http.ResponseWriter, r *http.Request, err error) {
	e := a.mapError(r, err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(e.Status)
	_, _ = fmt.Fprintln(w, e.Message) // #nosec G705 -- a text/plain body, never rendered as HTML
}

// statusClientClosed is the status recorded for a request whose client went
// away before the answer (nginx's 499); the client never sees it.
const statusClientClosed = 499

// mapError turns err into an *Error, logging 5xx errors with the request id.
// A request that failed because its client went away is no server error.
func (a *API) mapError(r *http.Request, err error) *Error {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		a.log.Debug("client went away", "request_id", requestID(r), "err", err)
		return &Error{Status: statusClientClosed, ID: "client_closed_request", Message: "the client closed the request"}
	}
	e := asError(err)
	if e.Status >= 500 {
		if e.ID == "server_error" {
			e = &Error{Status: e.Status, ID: e.ID, Message: "internal error; the server log has the details under request id " + requestID(r)}
		}
		a.log.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "err", err)
	} else if a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.Debug("request refused", "request_id", requestID(r), "status", e.Status, "err", err)
	}
	return e
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
