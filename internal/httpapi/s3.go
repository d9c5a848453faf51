package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// The S3 browsing API (seed: "S3 Storage"): archived objects listed from the
// index, read back decompressed, and counted.

// getS3Metadata serves GET /api/v1/logs/s3/metadata: archived objects with
// their key, size, time range, line count and labels, filtered by cluster,
// namespace, pod, container, policy_id and time range, paged with has_more
// and next_cursor.
func (a *API) getS3Metadata(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	v := queryOf(r)
	start, end, err := a.parseRange(v.Get("start_time"), v.Get("end_time"), v.Get("since"))
	if err != nil {
		return err
	}
	if end == math.MaxInt64 {
		end = 0
	}
	limit := 100
	if s := v.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			return badRequest("limit: must be a whole number from 1 to 1000")
		}
	}
	objs, next, err := m.Index().List(r.Context(), archive.Filter{
		Tenant: tenantOf(r), PolicyID: v.Get("policy_id"), Cluster: v.Get("cluster"), Namespace: v.Get("namespace"),
		Pod: v.Get("pod"), Container: v.Get("container"), Start: start, End: end, After: v.Get("cursor"), Limit: limit,
	})
	if errors.Is(err, archive.ErrBadCursor) {
		return badRequest("cursor: %v", err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"objects": objs, "total": len(objs), "has_more": next != "", "next_cursor": next})
	return nil
}

// contentCursor is the page token of /s3/content: the number of lines
// already read.
func contentCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(n)))
}

func parseContentCursor(s string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 2 || raw[0] != 'o' {
		return 0, badRequest("cursor: not a next_cursor returned by this endpoint")
	}
	n, err := strconv.Atoi(string(raw[1:]))
	if err != nil || n < 0 {
		return 0, badRequest("cursor: not a next_cursor returned by this endpoint")
	}
	return n, nil
}

// getS3Content serves GET /api/v1/logs/s3/content?key=: an object's entries
// decompressed, as JSON with limit, cursor and search (a case-insensitive
// substring of the message), or as the raw NDJSON with format=raw. A key
// outside the caller's tenant is 404.
func (a *API) getS3Content(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	v := queryOf(r)
	key := v.Get("key")
	if key == "" {
		return badRequest("key: required")
	}
	k, err := archive.ParseObjectKey(key)
	if err != nil {
		return badRequest("key: %v", err)
	}
	format := v.Get("format")
	if format != "" && format != "json" && format != "raw" {
		return badRequest("format: %q is not json or raw", format)
	}
	limit := 100
	if s := v.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > a.cfg.MaxLimit {
			return badRequest("limit: must be a whole number from 1 to %d", a.cfg.MaxLimit)
		}
	}
	skip := 0
	if s := v.Get("cursor"); s != "" {
		if skip, err = parseContentCursor(s); err != nil {
			return err
		}
	}
	search := strings.ToLower(v.Get("search"))
	obj, rc, err := m.Open(r.Context(), tenantOf(r), key)
	if err != nil {
		return err
	}
	defer rc.Close()
	d, err := archive.NewDecoder(rc, k.Compression)
	if err != nil {
		return err
	}
	defer d.Close()
	if format == "raw" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		for {
			line, err := d.NextRaw()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				a.log.Warn("archive object read failed mid-answer", "key", key, "err", err)
				return nil
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				return nil
			}
		}
	}
	out := []logmodel.EntryJSON{}
	n, more := 0, false
	for {
		e, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
		if n <= skip {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(string(e.Line)), search) {
			continue
		}
		if len(out) == limit {
			more = true
			n--
			break
		}
		out = append(out, e.ToJSON())
	}
	next := ""
	if more {
		next = contentCursor(n)
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "object": obj, "logs": out, "has_more": more, "next_cursor": next})
	return nil
}

// getS3Stats serves GET /api/v1/logs/s3/stats: objects, bytes, lines and
// compression ratio in total, per policy and per namespace.
func (a *API) getS3Stats(w http.ResponseWriter, r *http.Request) error {
	m, err := a.archiveManager()
	if err != nil {
		return err
	}
	out := map[string]any{}
	for _, g := range []struct{ name, col string }{{"total", ""}, {"by_policy", "policy_id"}, {"by_namespace", "namespace"}} {
		t, err := m.Index().Stats(r.Context(), tenantOf(r), g.col)
		if err != nil {
			return err
		}
		if g.col == "" {
			out[g.name] = t[""]
		} else {
			out[g.name] = t
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// archiveStorageInfo is the archive part of GET /storage/info: each
// destination of the tenant's policies with its reachability and usage.
func (a *API) archiveStorageInfo(r *http.Request) ([]map[string]any, error) {
	m := a.archive
	pols, err := m.Policies().List(r.Context(), tenantOf(r))
	if err != nil {
		return nil, err
	}
	usage, err := m.Index().Stats(r.Context(), tenantOf(r), "policy_id")
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, p := range pols {
		d := p.Redact().Destination
		out = append(out, map[string]any{
			"policy_id": p.ID, "policy_name": p.Name,
			"endpoint": d.Endpoint, "bucket": d.Bucket, "prefix": d.Prefix, "region": d.Region,
			"reachability": m.Probe(r.Context(), p.Destination),
			"usage":        usage[p.ID],
		})
	}
	return out, nil
}
