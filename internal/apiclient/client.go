// Package apiclient is the client of kubelog's own REST API: the logs
// management API under /api/v1/logs (tail sessions included), the
// operations endpoints and /v2/apps. It holds the wire types, shared by the
// CLI, the benchmark and the end-to-end tests, so that a response shape that
// changes on one side fails to compile on the other; the server's OpenAPI
// document (GET /api/v1/openapi.json) is generated from the same types.
//
// The Loki-compatible and Kubernetes-style surfaces have clients of their
// own (logcli, client-go) and are not covered.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls one kubelog server. Its methods may be called concurrently.
type Client struct {
	base   string
	token  string
	tenant string
	http   *http.Client
}

// New returns a client of the server at baseURL (scheme and host, with an
// optional path prefix) that sends token as its bearer token. A nil hc is
// http.DefaultClient.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: hc}
}

// WithTenant returns a copy of c that acts in tenant through X-Scope-OrgID,
// which takes an admin token.
func (c *Client) WithTenant(tenant string) *Client {
	cc := *c
	cc.tenant = tenant
	return &cc
}

// BaseURL returns the server's URL as given to New, without a trailing
// slash.
func (c *Client) BaseURL() string { return c.base }

// Error is an answer of the server other than 2xx.
type Error struct {
	Method, Path string
	Status       int
	// Body is the error JSON; it is empty when the answer was not one.
	Body ErrorBody
	// Raw is the start of the answer's body.
	Raw []byte
}

func (e *Error) Error() string {
	if e.Body.ID != "" {
		return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Body.ID, e.Body.Message)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, bytes.TrimSpace(e.Raw))
}

// IsStatus reports whether err is an *Error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// request builds a request of path (with its query string) and a JSON body
// for in, unless in is nil.
func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.tenant != "" {
		req.Header.Set("X-Scope-OrgID", c.tenant)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// open sends req and returns the answer when it is 2xx; otherwise it reads
// the answer into an *Error. The caller closes the body.
func (c *Client) open(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Raw: b}
	if json.Unmarshal(b, &e.Body) != nil {
		e.Body = ErrorBody{}
	}
	return nil, e
}

// Do sends a request of method to path (with its query string), with in
// as its JSON body unless nil, and decodes a 2xx answer into out unless
// nil. Any other answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.open(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// get is Do of a GET that returns a new T.
func get[T any](ctx context.Context, c *Client, path string) (*T, error) {
	v := new(T)
	if err := c.Do(ctx, http.MethodGet, path, nil, v); err != nil {
		return nil, err
	}
	return v, nil
}

// send is Do with a body that returns a new T.
func send[T any](ctx context.Context, c *Client, method, path string, in any) (*T, error) {
	v := new(T)
	if err := c.Do(ctx, method, path, in, v); err != nil {
		return nil, err
	}
	return v, nil
}

// withQuery appends q to path when it has values.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// LogsPath is the prefix of the logs management API.
const LogsPath = "/api/v1/logs"

// OpenAPIPath is where the server serves its OpenAPI document.
const OpenAPIPath = "/api/v1/openapi.json"

// escape escapes one path segment.
func escape(s string) string { return url.PathEscape(s) }
