package apispec

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Transport checks every answer of kubelog's own routes that passes
// through it against the document and fails the round trip, with an error
// naming what is wrong, on any the document does not describe. An answer
// to a path the document lacks under kubelog's own prefixes (/api/v1/logs,
// /v2/) must be a 4xx with the error body, or the mux's redirect to the
// cleaned path. Only JSON bodies are read, so streams pass through.
type Transport struct {
	Doc *Document
	// Base sends the requests; nil is http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	if err := t.check(req, resp); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("openapi: %s %s answered %d, which the document does not describe: %w", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return resp, nil
}

func (t *Transport) check(req *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if o, ok := t.Doc.Find(req.Method, req.URL.Path); ok {
			return t.Doc.CheckAnswer(o, resp.StatusCode, "", nil)
		}
		return nil
	}
	o, found := t.Doc.Find(req.Method, req.URL.Path)
	if !clean(req.URL.Path) {
		// The mux redirects to the cleaned path, whatever it names.
		o, found = nil, false
	}
	if !found && !ours(req.URL.Path) {
		return nil
	}
	ct := resp.Header.Get("Content-Type")
	var body []byte
	if mt, _, err := mime.ParseMediaType(ct); err == nil && IsJSON(mt) {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	if found {
		return t.Doc.CheckAnswer(o, resp.StatusCode, ct, body)
	}
	if resp.StatusCode/100 == 3 {
		return nil
	}
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		return fmt.Errorf("the path has no operation %s, yet the answer is no 4xx", req.Method)
	}
	if body == nil {
		return fmt.Errorf("an error of content type %q, not the JSON error body", ct)
	}
	return t.Doc.CheckAnswer(&Operation{responses: map[string]map[string]*Schema{"default": {"application/json": t.Doc.ErrorSchema()}}}, resp.StatusCode, ct, body)
}

// clean reports whether p is as the mux cleans it: no "." or ".."
// element, no doubled slash.
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// ours reports whether path is under the prefixes of kubelog's own
// surfaces.
func ours(path string) bool {
	return path == "/api/v1/logs" || strings.HasPrefix(path, "/api/v1/logs/") || strings.HasPrefix(path, "/v2/")
}
