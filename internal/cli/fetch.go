package cli

import (
	"context"
	"io"
	"net/http"
)

// fetch sends a request to url with token as its bearer token and returns
// the answer's status and whole body; a non-nil body is sent as JSON. The
// caller turns statuses it does not expect into errors.
func fetch(ctx context.Context, method, url, token string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}
