package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubelog/kubelog/internal/apps"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// maxPodConnectionTimeout bounds pod_connection_timeout.
const maxPodConnectionTimeout = 10 * time.Minute

// appsError maps the apps package's errors to the surface's ids; a failed
// call to the cluster is a 502 without its details.
func (a *API) appsError(r *http.Request, err error) error {
	switch {
	case errors.Is(err, apps.ErrBadType):
		return badRequest("%v", err)
	case errors.Is(err, apps.ErrNotFound), errors.Is(err, apps.ErrNoInstance):
		return notFound("%v", err)
	case errors.Is(err, apps.ErrBadLink), errors.Is(err, apps.ErrExpiredLink):
		return unauthorized("%v", err)
	}
	var ue *url.Error
	var st apierrors.APIStatus
	if errors.As(err, &ue) || errors.As(err, &st) {
		return a.upstream(r, "list the app's workloads", err)
	}
	return err
}

// appsService returns the apps service, or a 404 when the server has none.
func (a *API) appsService() (*apps.Service, error) {
	if a.apps == nil {
		return nil, notFound("the apps API is not enabled on this server")
	}
	return a.apps, nil
}

// listApps serves GET /v2/apps.
func (a *API) listApps(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.appsService()
	if err != nil {
		return err
	}
	as, err := svc.Apps(r.Context(), tenantOf(r))
	if err != nil {
		return a.appsError(r, err)
	}
	if as == nil {
		as = []*apps.App{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": as, "meta": map[string]int{"total": len(as)}})
	return nil
}

// app resolves the {app_id} of the path in the request's tenant.
func (a *API) app(r *http.Request) (*apps.Service, *apps.App, error) {
	svc, err := a.appsService()
	if err != nil {
		return nil, nil, err
	}
	app, err := svc.App(r.Context(), tenantOf(r), r.PathValue("app_id"))
	if err != nil {
		return nil, nil, a.appsError(r, err)
	}
	return svc, app, nil
}

// getApp serves GET /v2/apps/{app_id}.
func (a *API) getApp(w http.ResponseWriter, r *http.Request) error {
	_, app, err := a.app(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"app": app})
	return nil
}

// listAppDeployments serves GET /v2/apps/{app_id}/deployments.
func (a *API) listAppDeployments(w http.ResponseWriter, r *http.Request) error {
	svc, app, err := a.app(r)
	if err != nil {
		return err
	}
	ds, err := svc.Deployments(r.Context(), app)
	if err != nil {
		return a.appsError(r, err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deployments": ds, "meta": map[string]int{"total": len(ds)}})
	return nil
}

// getAppDeployment serves GET /v2/apps/{app_id}/deployments/{deployment_id}.
func (a *API) getAppDeployment(w http.ResponseWriter, r *http.Request) error {
	svc, app, err := a.app(r)
	if err != nil {
		return err
	}
	d, err := svc.Deployment(r.Context(), app, r.PathValue("deployment_id"))
	if err != nil {
		return a.appsError(r, err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deployment": d})
	return nil
}

// getAppLogs serves the three logs endpoints: of a component, of a
// deployment, and of the app's active deployment.
func (a *API) getAppLogs(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	typ, err := apps.ParseType(q.Get("type"))
	if err != nil {
		return badRequest("%v", err)
	}
	follow := false
	if s := q.Get("follow"); s != "" {
		if follow, err = strconv.ParseBool(s); err != nil {
			return badRequest("follow: must be true or false, not %q", s)
		}
	}
	timeout := 3 * time.Minute
	if s := q.Get("pod_connection_timeout"); s != "" {
		if timeout, err = timeparse.ParseDuration(s); err != nil {
			return badRequest("pod_connection_timeout: %v", err)
		}
		if timeout < 0 || timeout > maxPodConnectionTimeout {
			return badRequest("pod_connection_timeout: must be between 0s and %s, not %s", maxPodConnectionTimeout, s)
		}
	}
	svc, app, err := a.app(r)
	if err != nil {
		return err
	}
	req := apps.Request{Tenant: tenantOf(r), AppID: app.ID, DeploymentID: r.PathValue("deployment_id"), Component: r.PathValue("component_name"), Type: typ}
	if req.DeploymentID == "" {
		d, err := app.Active()
		if err != nil {
			return a.appsError(r, err)
		}
		req.DeploymentID = d.ID
	}
	// Waiting for an instance ends when the server begins to stop.
	ctx, cancel := a.streamContext(r.Context())
	defer cancel()
	resp, err := svc.Logs(ctx, req, follow, timeout, baseURL(r))
	if err != nil {
		return a.appsError(r, err)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// baseURL is the scheme and host the client reached the server at.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// linkSelection verifies the token of a signed link and resolves it.
func (a *API) linkSelection(r *http.Request, live bool) (*apps.Service, *apps.Selection, error) {
	svc, err := a.appsService()
	if err != nil {
		return nil, nil, err
	}
	token := queryOf(r).Get("token")
	if token == "" {
		return nil, nil, unauthorized("token: the signed link's token is missing")
	}
	l, err := svc.Verify(token)
	if err != nil {
		return nil, nil, a.appsError(r, err)
	}
	if l.Live != live {
		return nil, nil, unauthorized("%v", apps.ErrBadLink)
	}
	sel, err := svc.Resolve(r.Context(), l.Request)
	if err != nil {
		return nil, nil, a.appsError(r, err)
	}
	return svc, sel, nil
}

// downloadAppLogs serves a signed url: the lines so far as text.
func (a *API) downloadAppLogs(w http.ResponseWriter, r *http.Request) error {
	svc, sel, err := a.linkSelection(r, false)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := svc.Download(r.Context(), sel, bw); err != nil {
		// The status is sent with the first bytes; before them, an error
		// can still be answered.
		if sw, ok := w.(*statusWriter); ok && sw.status == 0 {
			return err
		}
		a.log.Warn("app logs download ended early", "request_id", requestID(r), "err", err)
		return nil
	}
	return bw.Flush()
}

// liveAppLogs serves a signed live_url: new lines as WebSocket messages
// {"data":"<line>"}, or as Server-Sent Events with the same data.
func (a *API) liveAppLogs(w http.ResponseWriter, r *http.Request) error {
	svc, sel, err := a.linkSelection(r, true)
	if err != nil {
		return err
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return badRequest("live_url is a WebSocket (Upgrade: websocket) or Server-Sent Events (Accept: text/event-stream) endpoint")
	}
	sink, err := openSink(w, r)
	if err != nil {
		return nil // the upgrade answered
	}
	defer sink.close()
	ctx, cancel := a.streamContext(r.Context())
	defer cancel()
	if ws, ok := sink.(*wsSink); ok {
		// The client went away: stop following.
		defer context.AfterFunc(ws.ctx, cancel)()
	}
	lastWrite := time.Now()
	_ = svc.Follow(ctx, sel, func(line []byte) error {
		b, _ := json.Marshal(struct {
			Data string `json:"data"`
		}{strings.TrimSuffix(string(line), "\n")})
		lastWrite = time.Now()
		if err := sink.send("", "", b); err != nil {
			return err
		}
		return sink.flush()
	}, func() error {
		if time.Since(lastWrite) >= heartbeatEvery {
			lastWrite = time.Now()
			return sink.heartbeat()
		}
		return nil
	})
	return nil
}
