package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// The archive API (seed: "Archive Management"): policies, jobs. Handlers
// for the S3 browsing endpoints are in s3.go.

// destinationRequest is a policy's destination in a request; absent fields
// keep their value on update, and a secret of "<redacted>" keeps the stored
// one.
type destinationRequest struct {
	Endpoint        *string `json:"endpoint"`
	Region          *string `json:"region"`
	Bucket          *string `json:"bucket"`
	Prefix          *string `json:"prefix"`
	AccessKeyID     *string `json:"access_key_id"`
	SecretAccessKey *string `json:"secret_access_key"`
	PathStyle       *bool   `json:"path_style"`
	TLS             *bool   `json:"tls"`
}

// policyRequest is the body of POST and PUT /archive/policies.
type policyRequest struct {
	ID                 string              `json:"id"`
	Name               *string             `json:"name"`
	Tenant             string              `json:"tenant"`
	Selector           *string             `json:"selector"`
	OlderThan          *string             `json:"older_than"`
	Schedule           *string             `json:"schedule"`
	Compression        *string             `json:"compression"`
	Destination        *destinationRequest `json:"destination"`
	DeleteAfterArchive *bool               `json:"delete_after_archive"`
	Enabled            *bool               `json:"enabled"`
}

func setString(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func setBool(dst *bool, src *bool) {
	if src != nil {
		*dst = *src
	}
}

// apply overlays the request on p.
func (req *policyRequest) apply(p *archive.Policy) {
	setString(&p.Name, req.Name)
	setString(&p.Selector, req.Selector)
	setString(&p.OlderThan, req.OlderThan)
	setString(&p.Schedule, req.Schedule)
	setString(&p.Compression, req.Compression)
	setBool(&p.DeleteAfterArchive, req.DeleteAfterArchive)
	setBool(&p.Enabled, req.Enabled)
	if d := req.Destination; d != nil {
		dst := &p.Destination
		setString(&dst.Endpoint, d.Endpoint)
		setString(&dst.Region, d.Region)
		setString(&dst.Bucket, d.Bucket)
		setString(&dst.Prefix, d.Prefix)
		setString(&dst.AccessKeyID, d.AccessKeyID)
		if d.SecretAccessKey != nil && *d.SecretAccessKey != archive.Redacted {
			dst.SecretAccessKey = *d.SecretAccessKey
		}
		setBool(&dst.PathStyle, d.PathStyle)
		setBool(&dst.TLS, d.TLS)
	}
}

// archiveError maps the archive package's errors to API errors; what went
// wrong underneath an unreachable or refused endpoint goes to the server log
// only.
func (a *API) archiveError(r *http.Request, err error) error {
	var fe *archive.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Cause != nil {
		a.log.Warn("archive destination failed", "request_id", requestID(r), "field", fe.Field, "err", fe.Cause)
	}
	if fe.ID != "" {
		return errorf(http.StatusBadRequest, fe.ID, "%s", fe.Error())
	}
	return badRequest("%s", fe.Error())
}

func (a *API) archiveManager() (*archive.Manager, error) {
	if a.archive == nil {
		return nil, errorf(http.StatusServiceUnavailable, "unavailable", "archiving is not configured on this server")
	}
	return a.archive, nil
}

// checkTenant refuses a body naming another tenant than the acting one.
func checkTenant(r *http.Request, named string) error {
	if named != "" && named != tenantOf(r) {
		return forbidden("tenant: %q is not the tenant this request acts in (%q)", named, tenantOf(r))
	}
	return nil
}

// validatePolicy normalises p and checks its bucket.
func (a *API) validatePolicy(r *http.Request, m *archive.Manager, p *archive.Policy) error {
	if err := p.Normalize(); err != nil {
		return a.archiveError(r, err)
	}
	return a.archiveError(r, m.CheckDestination(r.Context(), p.Destination))
}

// readPolicyRequest decodes a policy body and checks its tenant.
func readPolicyRequest(r *http.Request) (policyRequest, error) {
	var req policyRequest
	if err := decodeBody(r, &req); err != nil {
		return req, err
	}
	return req, checkTenant(r, req.Tenant)
}

// savePolicy applies req to p, validates p, stores it with save and answers
// it with status.
func (a *API) savePolicy(w http.ResponseWriter, r *http.Request, m *archive.Manager, req policyRequest, p *archive.Policy, status int, save func(context.Context, *archive.Policy, time.Time) error) error {
	req.apply(p)
	if err := a.validatePolicy(r, m, p); err != nil {
		return err
	}
	if err := save(r.Context(), p, a.clock.Now()); err != nil {
		return err
	}
	writeJSON(w, status, p.Redact())
	return nil
}

// createArchivePolicy serves POST /api/v1/logs/archive/policies.
func (a *API) createArchivePolicy(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	req, err := readPolicyRequest(r)
	if err != nil {
		return err
	}
	p := archive.Policy{Tenant: tenantOf(r), Enabled: true}
	return a.savePolicy(w, r, m, req, &p, http.StatusCreated, m.Policies().Create)
}

// policyID reads an id from the path ({id}), the query (?id=) or a body.
func policyID(r *http.Request, body string) string {
	if id := requestObjectID(r); id != "" {
		return id
	}
	return body
}

// listArchivePolicies serves GET /api/v1/logs/archive/policies and
// GET /api/v1/logs/archive/policies/{id} (also ?id=).
func (a *API) listArchivePolicies(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	if id := policyID(r, ""); id != "" {
		p, err := m.Policies().Get(r.Context(), tenantOf(r), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, p.Redact())
		return nil
	}
	ps, err := m.Policies().List(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	for i := range ps {
		ps[i] = ps[i].Redact()
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": ps, "total": len(ps)})
	return nil
}

// updateArchivePolicy serves PUT /api/v1/logs/archive/policies (?id= or
// the body's id) and PUT /api/v1/logs/archive/policies/{id}.
func (a *API) updateArchivePolicy(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	req, err := readPolicyRequest(r)
	if err != nil {
		return err
	}
	id := policyID(r, req.ID)
	if id == "" {
		return badRequest("id: required, in the path, as ?id= or in the body")
	}
	p, err := m.Policies().Get(r.Context(), tenantOf(r), id)
	if err != nil {
		return err
	}
	return a.savePolicy(w, r, m, req, &p, http.StatusOK, m.Policies().Update)
}

// deleteArchivePolicy serves DELETE /api/v1/logs/archive/policies?id= and
// DELETE /api/v1/logs/archive/policies/{id}.
func (a *API) deleteArchivePolicy(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	id := policyID(r, "")
	if id == "" {
		return badRequest("id: required, in the path or as ?id=")
	}
	if err := m.Policies().Delete(r.Context(), tenantOf(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
	return nil
}

// startArchiveRequest is the body of POST /archive/start.
type startArchiveRequest struct {
	PolicyID  string `json:"policy_id"`
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
}

// startArchive serves POST /api/v1/logs/archive/start.
func (a *API) startArchive(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	var req startArchiveRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.PolicyID == "" {
		return badRequest("policy_id: required")
	}
	var start, end int64
	for _, f := range []struct {
		name, v string
		dst     *int64
	}{{"start_time", req.StartTime, &start}, {"end_time", req.EndTime, &end}} {
		if f.v == "" {
			continue
		}
		t, err := timeparse.ParseTime(f.v)
		if err != nil {
			return badRequest("%s: %v", f.name, err)
		}
		*f.dst = t.UnixNano()
	}
	if start != 0 && end != 0 && start >= end {
		return badRequest("start_time: must be before end_time")
	}
	j, err := m.StartJob(r.Context(), tenantOf(r), req.PolicyID, start, end)
	if errors.Is(err, archive.ErrNothingToArchive) {
		return badRequest("start_time: %v (give start_time and end_time, or wait until data is older than the policy's older_than)", err)
	}
	if err != nil {
		return a.archiveError(r, err)
	}
	writeJSON(w, http.StatusCreated, j)
	return nil
}

// listArchiveJobs serves GET /api/v1/logs/archive/jobs?policy_id=&status=&limit=.
func (a *API) listArchiveJobs(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	v := queryOf(r)
	f := archive.JobFilter{Tenant: tenantOf(r), PolicyID: v.Get("policy_id"), Limit: 100}
	if s := v.Get("status"); s != "" {
		for _, st := range strings.Split(s, ",") {
			st = strings.TrimSpace(st)
			if !archive.ValidStatus(st) {
				return badRequest("status: %q is not one of pending, running, succeeded, failed, cancelled", st)
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit: must be a whole number from 1 to 1000")
		}
		f.Limit = n
	}
	jobs, err := m.Jobs().List(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs, "total": len(jobs)})
	return nil
}

// getArchiveJob serves GET /api/v1/logs/archive/jobs/{id}.
func (a *API) getArchiveJob(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	j, err := m.Jobs().Get(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// cancelArchiveJob serves DELETE /api/v1/logs/archive/jobs/{id}.
func (a *API) cancelArchiveJob(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	j, err := m.CancelJob(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}
