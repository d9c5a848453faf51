package apps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/kubelog/kubelog/internal/tail"
)

// Paths of the signed links, under the server's base URL.
const (
	DownloadPath = "/v2/links/apps/logs"
	LivePath     = "/v2/links/apps/live"
)

// LogsResponse is the answer of the logs endpoints.
type LogsResponse struct {
	LiveURL      string   `json:"live_url"`
	URL          string   `json:"url"`
	HistoricLogs []string `json:"historic_logs"`
}

// ErrNoInstance is returned, wrapped, when no instance appeared within the
// pod connection timeout.
var ErrNoInstance = errors.New("no instance")

// Logs resolves req, waiting up to timeout for an instance when none exists
// yet, and returns signed links under base (scheme://host).
func (s *Service) Logs(ctx context.Context, req Request, follow bool, timeout time.Duration, base string) (*LogsResponse, error) {
	sel, err := s.Wait(ctx, req, timeout)
	if err != nil {
		return nil, err
	}
	exp := s.clock.Now().Add(s.cfg.LinkTTL)
	resp := &LogsResponse{URL: base + DownloadPath + "?token=" + url.QueryEscape(s.signer.Sign(Link{Request: req, Expires: exp})), HistoricLogs: []string{}}
	if follow {
		resp.LiveURL = base + LivePath + "?token=" + url.QueryEscape(s.signer.Sign(Link{Request: req, Live: true, Expires: exp}))
	}
	if s.archive != nil {
		from, to := sel.Range()
		objs, err := s.archive.Objects(ctx, req.Tenant, sel.Matchers(), from, to)
		if err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
		resp.HistoricLogs = append(resp.HistoricLogs, objs...)
	}
	return resp, nil
}

// Wait resolves req until an instance exists or timeout passes.
func (s *Service) Wait(ctx context.Context, req Request, timeout time.Duration) (*Selection, error) {
	deadline := s.clock.Now().Add(timeout)
	for {
		sel, err := s.Resolve(ctx, req)
		if err != nil {
			return nil, err
		}
		ok, err := sel.HasInstance(ctx, s.query)
		if err != nil {
			return nil, err
		}
		if ok {
			return sel, nil
		}
		if !s.clock.Now().Before(deadline) {
			what := "component " + req.Component
			if req.Component == "" {
				what = "any component"
			}
			return nil, fmt.Errorf("waited %s for an instance of %s of deployment %s (%s logs) of app %s; none started: %w",
				timeout, what, req.DeploymentID, req.Type, sel.App.Name, ErrNoInstance)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(s.cfg.PollInterval, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// Verify checks a signed link's token.
func (s *Service) Verify(token string) (Link, error) { return s.signer.Verify(token, s.clock.Now()) }

// Download writes the selection's lines so far, oldest first, as
// "<component> <timestamp> <message>" lines.
func (s *Service) Download(ctx context.Context, sel *Selection, w io.Writer) error {
	q := sel.Query()
	q.Limit = 1000
	for {
		res, err := s.query.Logs(ctx, q, false)
		if err != nil {
			return err
		}
		for i := range res.Entries {
			e := &res.Entries[i]
			if _, err := w.Write(sel.Format(e.Labels, e.Metadata, e.Line, e.Timestamp)); err != nil {
				return err
			}
		}
		if !res.HasMore {
			return nil
		}
		next := res.Next
		q.After = &next
	}
}

// Follow calls deliver with each line of the selection stored from now on,
// in ingest order, until ctx ends or deliver or idle fails. idle, when set,
// runs at least once a second while nothing arrives.
func (s *Service) Follow(ctx context.Context, sel *Selection, deliver func(line []byte) error, idle func() error) error {
	tenant := sel.Request.Tenant
	q := sel.Query()
	spec := tail.FollowSpec{
		Tenant: tenant, Query: q, Cursor: s.query.LastCursor(tenant), Idle: idle,
	}
	return s.query.Follow(ctx, spec, func(ev tail.Event) error {
		if ev.Entry == nil {
			return nil
		}
		e := ev.Entry
		return deliver(sel.Format(e.Labels, e.Metadata, e.Line, e.Timestamp))
	})
}
