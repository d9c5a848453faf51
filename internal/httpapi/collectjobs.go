package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// toJobJSON is a collection job as the API shows it.
func toJobJSON(j clusters.Job) apiclient.CollectJob {
	out := apiclient.CollectJob{ID: j.ID, Type: j.Kind, ClusterID: j.ClusterID, Namespace: j.Request.Namespace, Pods: j.Request.Pods,
		LabelSelector: j.Request.LabelSelector, Containers: j.Request.Containers, SinceTime: timeOrEmpty(j.Request.SinceTime),
		TailLines: j.Request.TailLines, Previous: j.Request.Previous, Status: j.Status, Lines: j.Lines, Bytes: j.Bytes,
		Errors: j.Errors, Progress: j.Progress, CreatedAt: timeOrEmpty(j.CreatedAt), StartedAt: timeOrEmpty(j.StartedAt), EndedAt: timeOrEmpty(j.EndedAt)}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	if out.Progress == nil {
		out.Progress = []clusters.PodProgress{}
	}
	return out
}

// jobRequest is the body of POST /collect, /collect/continuous and
// /collect/bulk.
type jobRequest struct {
	ClusterID     string   `json:"cluster_id"`
	Namespace     string   `json:"namespace"`
	Pod           string   `json:"pod"`
	Pods          []string `json:"pods"`
	LabelSelector string   `json:"label_selector"`
	Containers    []string `json:"containers"`
	Container     string   `json:"container"`
	SinceTime     string   `json:"since_time"`
	Since         string   `json:"since"`
	TailLines     *int64   `json:"tail_lines"`
	Previous      bool     `json:"previous"`
}

// input checks the request's times and builds the job input.
func (a *API) jobInput(kind string, req jobRequest) (clusters.JobInput, error) {
	in := clusters.JobInput{Kind: kind, ClusterID: req.ClusterID, Request: clusters.JobRequest{
		Namespace: req.Namespace, Pods: req.Pods, LabelSelector: req.LabelSelector, Containers: req.Containers, Previous: req.Previous}}
	if req.Pod != "" {
		in.Request.Pods = append(in.Request.Pods, req.Pod)
	}
	if req.Container != "" {
		in.Request.Containers = append(in.Request.Containers, req.Container)
	}
	if req.TailLines != nil {
		if *req.TailLines < 0 {
			return in, badRequest("tail_lines: must not be negative")
		}
		in.Request.TailLines = *req.TailLines
	}
	switch {
	case req.SinceTime != "" && req.Since != "":
		return in, badRequest("since: give since or since_time, not both")
	case req.SinceTime != "":
		t, err := timeparse.ParseTime(req.SinceTime)
		if err != nil {
			return in, badRequest("since_time: %v", err)
		}
		in.Request.SinceTime = t.UTC()
	case req.Since != "":
		d, err := timeparse.ParsePositive(req.Since)
		if err != nil {
			return in, badRequest("since: %v", err)
		}
		in.Request.SinceTime = a.clock.Now().Add(-d).UTC()
	}
	return in, nil
}

// startJob starts a job of kind from the request body.
func (a *API) startJob(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := a.clusterService()
		if err != nil {
			return err
		}
		var req jobRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		in, err := a.jobInput(kind, req)
		if err != nil {
			return err
		}
		j, err := svc.CreateJob(r.Context(), tenantOf(r), in)
		if err != nil {
			return clusterErr(err)
		}
		writeJSON(w, http.StatusCreated, toJobJSON(j))
		return nil
	}
}

// listJobs serves GET /api/v1/logs/collect/jobs?cluster_id=&status=&limit=.
func (a *API) listCollectJobs(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	v := queryOf(r)
	status := v.Get("status")
	switch status {
	case "", clusters.StatusPending, clusters.StatusRunning, clusters.StatusSucceeded, clusters.StatusFailed, clusters.StatusCancelled:
	default:
		return badRequest("status: %q is not one of pending, running, succeeded, failed, cancelled", status)
	}
	limit := 100
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 1000 {
			return badRequest("limit: %q is not a number from 1 to 1000", s)
		}
		limit = n
	}
	jobs, err := svc.ListJobs(r.Context(), clusters.JobFilter{Tenant: tenantOf(r), ClusterID: v.Get("cluster_id"), Status: status})
	if err != nil {
		return err
	}
	total := len(jobs)
	jobs = jobs[:min(limit, len(jobs))]
	out := make([]apiclient.CollectJob, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, toJobJSON(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out, "total": total, "has_more": total > len(out)})
	return nil
}

// getCollectJob serves GET /api/v1/logs/collect/jobs/{id}.
func (a *API) getCollectJob(w http.ResponseWriter, r *http.Request) error {
	return a.answerCollectJob(w, r, (*clusters.Service).GetJob)
}

// cancelCollectJob serves DELETE /api/v1/logs/collect/jobs/{id}: it cancels
// the job and answers it.
func (a *API) cancelCollectJob(w http.ResponseWriter, r *http.Request) error {
	return a.answerCollectJob(w, r, (*clusters.Service).CancelJob)
}

// answerCollectJob applies op to the job r addresses and answers the job op
// returns.
func (a *API) answerCollectJob(w http.ResponseWriter, r *http.Request, op func(*clusters.Service, context.Context, string, string) (clusters.Job, error)) error {
	svc, id, err := a.clusterServiceAndID(r, "job")
	if err != nil {
		return err
	}
	j, err := op(svc, r.Context(), tenantOf(r), id)
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, toJobJSON(j))
	return nil
}
