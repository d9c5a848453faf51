package apiclient

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// Policies calls GET /api/v1/logs/archive/policies.
func (c *Client) Policies(ctx context.Context) (*PolicyList, error) {
	return get[PolicyList](ctx, c, LogsPath+"/archive/policies")
}

// Policy calls GET /api/v1/logs/archive/policies/{id}.
func (c *Client) Policy(ctx context.Context, id string) (*Policy, error) {
	return get[Policy](ctx, c, LogsPath+"/archive/policies/"+escape(id))
}

// CreatePolicy calls POST /api/v1/logs/archive/policies.
func (c *Client) CreatePolicy(ctx context.Context, req PolicyRequest) (*Policy, error) {
	return send[Policy](ctx, c, http.MethodPost, LogsPath+"/archive/policies", req)
}

// UpdatePolicy calls PUT /api/v1/logs/archive/policies/{id}.
func (c *Client) UpdatePolicy(ctx context.Context, id string, req PolicyRequest) (*Policy, error) {
	return send[Policy](ctx, c, http.MethodPut, LogsPath+"/archive/policies/"+escape(id), req)
}

// DeletePolicy calls DELETE /api/v1/logs/archive/policies/{id}.
func (c *Client) DeletePolicy(ctx context.Context, id string) (*Deleted, error) {
	return send[Deleted](ctx, c, http.MethodDelete, LogsPath+"/archive/policies/"+escape(id), nil)
}

// StartArchive calls POST /api/v1/logs/archive/start.
func (c *Client) StartArchive(ctx context.Context, req ArchiveStart) (*ArchiveJob, error) {
	return send[ArchiveJob](ctx, c, http.MethodPost, LogsPath+"/archive/start", req)
}

// ArchiveJobs calls GET /api/v1/logs/archive/jobs with q (policy_id,
// status, limit).
func (c *Client) ArchiveJobs(ctx context.Context, q url.Values) (*ArchiveJobList, error) {
	return get[ArchiveJobList](ctx, c, withQuery(LogsPath+"/archive/jobs", q))
}

// ArchiveJob calls GET /api/v1/logs/archive/jobs/{id}.
func (c *Client) ArchiveJob(ctx context.Context, id string) (*ArchiveJob, error) {
	return get[ArchiveJob](ctx, c, LogsPath+"/archive/jobs/"+escape(id))
}

// CancelArchiveJob calls DELETE /api/v1/logs/archive/jobs/{id}.
func (c *Client) CancelArchiveJob(ctx context.Context, id string) (*ArchiveJob, error) {
	return send[ArchiveJob](ctx, c, http.MethodDelete, LogsPath+"/archive/jobs/"+escape(id), nil)
}

// Objects calls GET /api/v1/logs/s3/metadata with q; a page continues
// with its NextCursor as cursor.
func (c *Client) Objects(ctx context.Context, q url.Values) (*ObjectList, error) {
	return get[ObjectList](ctx, c, withQuery(LogsPath+"/s3/metadata", q))
}

// ObjectContent calls GET /api/v1/logs/s3/content with q (key, limit,
// cursor, search).
func (c *Client) ObjectContent(ctx context.Context, q url.Values) (*ObjectContent, error) {
	return get[ObjectContent](ctx, c, withQuery(LogsPath+"/s3/content", q))
}

// ObjectRaw calls GET /api/v1/logs/s3/content?format=raw: the archived
// object's NDJSON lines as stored. The caller closes the reader.
func (c *Client) ObjectRaw(ctx context.Context, key string) (io.ReadCloser, error) {
	req, err := c.request(ctx, http.MethodGet, withQuery(LogsPath+"/s3/content", url.Values{"format": {"raw"}, "key": {key}}), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.open(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ArchiveStats calls GET /api/v1/logs/s3/stats.
func (c *Client) ArchiveStats(ctx context.Context) (*ArchiveStats, error) {
	return get[ArchiveStats](ctx, c, LogsPath+"/s3/stats")
}
