package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// AppsPath is the prefix of the app deployment logs API.
const AppsPath = "/v2/apps"

// Apps calls GET /v2/apps.
func (c *Client) Apps(ctx context.Context) (*AppList, error) {
	return get[AppList](ctx, c, AppsPath)
}

// App calls GET /v2/apps/{app_id}.
func (c *Client) App(ctx context.Context, id string) (*AppAnswer, error) {
	return get[AppAnswer](ctx, c, AppsPath+"/"+escape(id))
}

// Deployments calls GET /v2/apps/{app_id}/deployments.
func (c *Client) Deployments(ctx context.Context, appID string) (*DeploymentList, error) {
	return get[DeploymentList](ctx, c, AppsPath+"/"+escape(appID)+"/deployments")
}

// Deployment calls GET /v2/apps/{app_id}/deployments/{deployment_id}.
func (c *Client) Deployment(ctx context.Context, appID, deploymentID string) (*DeploymentAnswer, error) {
	return get[DeploymentAnswer](ctx, c, AppsPath+"/"+escape(appID)+"/deployments/"+escape(deploymentID))
}

// AppLogsRequest selects the logs of an app: of its active deployment
// unless Deployment is set, of every component unless Component is.
type AppLogsRequest struct {
	App, Deployment, Component string
	// Type is RUN, RUN_RESTARTED, DEPLOY or BUILD.
	Type   string
	Follow bool
	// PodConnectionTimeout is sent unless zero.
	PodConnectionTimeout time.Duration
}

// Path returns the logs endpoint of r with its query string.
func (r AppLogsRequest) Path() string {
	p := AppsPath + "/" + escape(r.App)
	if r.Deployment != "" {
		p += "/deployments/" + escape(r.Deployment)
		if r.Component != "" {
			p += "/components/" + escape(r.Component)
		}
	}
	q := url.Values{}
	if r.Type != "" {
		q.Set("type", r.Type)
	}
	if r.PodConnectionTimeout != 0 {
		q.Set("pod_connection_timeout", r.PodConnectionTimeout.String())
	}
	if r.Follow {
		q.Set("follow", "true")
	}
	return withQuery(p+"/logs", q)
}

// AppLogs calls GET /v2/apps/.../logs: the signed links to the logs.
func (c *Client) AppLogs(ctx context.Context, r AppLogsRequest) (*AppLogs, error) {
	return get[AppLogs](ctx, c, r.Path())
}

// Download reads a signed url of AppLogs (its own token authenticates):
// the lines so far, as text. The caller closes the reader.
func (c *Client) Download(ctx context.Context, signedURL string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, signedURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.open(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// LiveStream is the WebSocket of a live_url. Next may not be called
// concurrently; Close must be called.
type LiveStream struct {
	conn *websocket.Conn
}

// Live opens a signed live_url of AppLogs as a WebSocket.
func (c *Client) Live(ctx context.Context, liveURL string) (*LiveStream, error) {
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(liveURL, "http"), &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(16 << 20)
	return &LiveStream{conn: conn}, nil
}

// Next returns the next line; it fails when ctx ends or the server closes
// the stream.
func (s *LiveStream) Next(ctx context.Context) (string, error) {
	_, msg, err := s.conn.Read(ctx)
	if err != nil {
		return "", err
	}
	var l LiveLine
	if err := json.Unmarshal(msg, &l); err != nil {
		return "", fmt.Errorf("live_url message: %w", err)
	}
	return l.Data, nil
}

// Close closes the stream.
func (s *LiveStream) Close() error { return s.conn.Close(websocket.StatusNormalClosure, "") }
