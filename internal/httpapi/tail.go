package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/tail"
)

// toSessionJSON is a tail session in the seed's camelCase shape.
func toSessionJSON(s tail.Session) apiclient.Session {
	return apiclient.Session{ID: s.ID, TenantID: s.Tenant, UserUUID: s.UserUUID, Filter: s.Filter, Service: s.Service,
		LastCursor: s.LastCursor, CreatedAt: s.CreatedAt.Format(time.RFC3339), Active: s.Active}
}

// createSessionRequest is the body of POST /api/v1/logs/tail/sessions.
type createSessionRequest struct {
	TenantID   string `json:"tenantId"`
	UserUUID   string `json:"userUuid"`
	Filter     string `json:"filter"`
	Service    string `json:"service"`
	LastCursor string `json:"lastCursor"`
}

func filterError(err error) error {
	return &Error{Status: http.StatusBadRequest, ID: "invalid_filter", Message: "filter: " + err.Error()}
}

// sessionTenant resolves the tenant a session request names: the acting
// tenant, or another one for an admin token.
func (a *API) sessionTenant(r *http.Request, tenantID string) (string, error) {
	acting := tenantOf(r)
	if tenantID == "" {
		return "", badRequest("tenantId: required")
	}
	if tenantID == acting {
		return acting, nil
	}
	if err := auth.ValidateTenant(tenantID); err != nil {
		return "", badRequest("tenantId: %v", err)
	}
	if !info(r).principal.Scopes.Has(auth.ScopeAdmin) {
		return "", forbidden("tenantId %q is not the token's tenant %q", tenantID, acting)
	}
	if _, err := a.meta.EnsureTenant(r.Context(), tenantID); err != nil {
		return "", err
	}
	return tenantID, nil
}

// parseResumeCursor checks a cursor given by a client.
func (a *API) parseResumeCursor(tenant, field, s string) (logmodel.Cursor, error) {
	c, err := logmodel.ParseCursor(s)
	if err != nil {
		return c, badRequest("%s: %q is not a cursor returned by this API", field, s)
	}
	if last := a.query.LastCursor(tenant); c.Seq > last.Seq {
		return c, badRequest("%s: the cursor is ahead of the newest entry of tenant %q", field, tenant)
	}
	return c, nil
}

// createSession serves POST /api/v1/logs/tail/sessions.
func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	var req createSessionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	tenant, err := a.sessionTenant(r, req.TenantID)
	if err != nil {
		return err
	}
	switch {
	case req.UserUUID == "":
		return badRequest("userUuid: required")
	case len(req.UserUUID) > 128 || !utf8.ValidString(req.UserUUID):
		return badRequest("userUuid: at most 128 characters of UTF-8")
	case req.Service == "":
		return badRequest(`service: required; "*" means every service`)
	}
	if err := checkSessionFields(&req.Filter, &req.Service); err != nil {
		return err
	}
	cursor := a.query.LastCursor(tenant)
	if req.LastCursor != "" {
		if cursor, err = a.parseResumeCursor(tenant, "lastCursor", req.LastCursor); err != nil {
			return err
		}
	}
	lim := a.limits.For(tenant)
	s, err := a.sessions.Create(r.Context(), tail.Session{Tenant: tenant, UserUUID: req.UserUUID, Filter: req.Filter,
		Service: req.Service, LastCursor: cursor.String()}, lim.MaxTailSessions, lim.MaxTailSessionsPerUser)
	if err != nil {
		var qe *tail.QuotaError
		if errors.As(err, &qe) {
			return &Error{Status: http.StatusTooManyRequests, ID: "quota_exceeded", Message: qe.Error()}
		}
		return err
	}
	writeJSON(w, http.StatusOK, toSessionJSON(s))
	return nil
}

// listSessions serves GET /api/v1/logs/tail/sessions?userUuid=&active=.
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	v := queryOf(r)
	var active *bool
	if s := v.Get("active"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return badRequest("active: %q is not true or false", s)
		}
		active = &b
	}
	ss, err := a.sessions.List(r.Context(), tenantOf(r), v.Get("userUuid"), active)
	if err != nil {
		return err
	}
	out := make([]apiclient.Session, len(ss))
	for i, s := range ss {
		out[i] = toSessionJSON(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out, "total": len(out)})
	return nil
}

func (a *API) session(r *http.Request) (tail.Session, error) {
	s, err := a.sessions.Get(r.Context(), tenantOf(r), r.PathValue("id"))
	if errors.Is(err, meta.ErrNotFound) {
		return s, notFound("no tail session %q", r.PathValue("id"))
	}
	return s, err
}

// getSession serves GET /api/v1/logs/tail/sessions/{id}.
func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	s, err := a.session(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSessionJSON(s))
	return nil
}

// Bounds on a tail session's fields.
const (
	maxFilterBytes  = 8 << 10
	maxServiceBytes = 253
)

// checkSessionFields checks a session's filter and service, each when
// given.
func checkSessionFields(filter, service *string) error {
	if service != nil && len(*service) > maxServiceBytes {
		return badRequest("service: %d bytes, over the limit of %d", len(*service), maxServiceBytes)
	}
	if filter == nil {
		return nil
	}
	if len(*filter) > maxFilterBytes {
		return badRequest("filter: %d bytes, over the limit of %d", len(*filter), maxFilterBytes)
	}
	if _, err := tail.ParseFilter(*filter); err != nil {
		return filterError(err)
	}
	return nil
}

// patchSession serves PATCH /api/v1/logs/tail/sessions/{id}: a new filter
// and/or service. Streams already open keep their old ones.
func (a *API) patchSession(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Filter  *string `json:"filter"`
		Service *string `json:"service"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Service != nil && *req.Service == "" {
		return badRequest(`service: must not be empty; "*" means every service`)
	}
	if err := checkSessionFields(req.Filter, req.Service); err != nil {
		return err
	}
	if _, err := a.session(r); err != nil {
		return err
	}
	s, err := a.sessions.Update(r.Context(), tenantOf(r), r.PathValue("id"), req.Filter, req.Service)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSessionJSON(s))
	return nil
}

// deleteSession serves DELETE /api/v1/logs/tail/sessions/{id}: the session
// ends (active false) and stops counting against the quotas.
func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.session(r); err != nil {
		return err
	}
	s, err := a.sessions.End(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSessionJSON(s))
	return nil
}

// heartbeatEvery is how often an idle stream gets a heartbeat.
const heartbeatEvery = 15 * time.Second

// streamSession serves GET /api/v1/logs/tail/sessions/{id}/stream as
// Server-Sent Events, or as a WebSocket when the request upgrades. Each entry
// event's id is its cursor; Last-Event-ID (or ?cursor=) resumes after it.
func (a *API) streamSession(w http.ResponseWriter, r *http.Request) error {
	s, err := a.session(r)
	if err != nil {
		return err
	}
	if s.Ended {
		return conflict("tail session %q has ended", s.ID)
	}
	flt, err := tail.ParseFilter(s.Filter)
	if err != nil {
		return filterError(err)
	}
	cursor, err := logmodel.ParseCursor(s.LastCursor)
	if s.LastCursor == "" {
		cursor, err = logmodel.Cursor{}, nil
	}
	if err != nil {
		return err
	}
	for _, from := range []struct{ field, value string }{{"Last-Event-ID", r.Header.Get("Last-Event-ID")}, {"cursor", queryOf(r).Get("cursor")}} {
		if from.value != "" {
			if cursor, err = a.parseResumeCursor(s.Tenant, from.field, from.value); err != nil {
				return err
			}
		}
	}
	defer a.sessions.Attach(s.ID)()
	sink, err := openSink(w, r)
	if err != nil {
		return err
	}
	defer sink.close()
	ctx, cancel := a.streamContext(r.Context())
	defer cancel()
	saved := cursor
	lastSave, lastWrite := time.Now(), time.Now()
	save := func() {
		if cursor != saved {
			// The request context may be gone already: save with a fresh one.
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := a.sessions.SaveCursor(sctx, s.Tenant, s.ID, cursor.String()); err != nil {
				a.log.Warn("saving a tail session cursor failed", "session", s.ID, "err", err)
			} else {
				saved = cursor
			}
			scancel()
		}
		lastSave = time.Now()
	}
	defer save()
	spec := tail.FollowSpec{
		Tenant: s.Tenant,
		Query:  tail.QueryFor(s.Tenant, flt, s.Service),
		Cursor: cursor,
		Flush:  sink.flush,
		Idle: func() error {
			if time.Since(lastSave) >= time.Second {
				save()
			}
			if time.Since(lastWrite) >= heartbeatEvery {
				lastWrite = time.Now()
				return sink.heartbeat()
			}
			return nil
		},
	}
	err = a.query.Follow(ctx, spec, func(ev tail.Event) error {
		lastWrite = time.Now()
		if ev.Gap != nil {
			b, _ := json.Marshal(map[string]any{"after": ev.Gap.After.String(), "next": ev.Gap.Next.String(), "missing": ev.Gap.Missing,
				"message": "entries after the cursor were deleted by retention"})
			if err := sink.send("gap", "", b); err != nil {
				return err
			}
			return sink.flush()
		}
		b, err := json.Marshal(ev.Entry.ToJSON())
		if err != nil {
			return err
		}
		if err := sink.send("", ev.Entry.Cursor.String(), b); err != nil {
			return err
		}
		cursor = ev.Entry.Cursor
		if time.Since(lastSave) >= time.Second {
			save()
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		a.log.Debug("tail stream ended", "session", s.ID, "err", err)
	}
	return nil
}

// streamContext ends with the request or when the server begins to shut
// down, so that long-lived streams do not hold the shutdown up.
func (a *API) streamContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(a.shutdown, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
