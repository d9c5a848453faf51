package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestJSONBodyBounds(t *testing.T) {
	e := newEnv(t, noLimits())
	deep := `{"query":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`
	for _, c := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"deep", deep, http.StatusBadRequest, "nested deeper than 32 levels"},
		{"long string", `{"query":"` + strings.Repeat("a", maxJSONString+1) + `"}`, http.StatusBadRequest, "over the limit of 1048576"},
		{"huge", `{"query":"` + strings.Repeat("a ", maxJSONBody/2) + `"}`, http.StatusRequestEntityTooLarge, "for a JSON document"},
		{"escaped quotes do not end a string", `{"query":"\"` + strings.Repeat("[", 40) + `"}`, http.StatusBadRequest, "query"},
	} {
		code, body, _ := e.do("admin", http.MethodPost, "/api/v1/logs/search", c.body)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: got %d %.200s, want %d with %q", c.name, code, body, c.code, c.want)
		}
	}
}

// jsonDepth is the nesting depth of a valid JSON document, by the
// standard decoder.
func jsonDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, most := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return most
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			most = max(most, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func FuzzCheckJSONShape(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"]]]"}]}`, `"\\"`, `"\"["`, strings.Repeat("[", 33) + strings.Repeat("]", 33), `{"a":"\u005b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSONShape(b)
		if !json.Valid(b) {
			return
		}
		if deep := jsonDepth(b) > maxJSONDepth; deep != (err != nil) {
			t.Fatalf("depth %d, checkJSONShape: %v", jsonDepth(b), err)
		}
	})
}

// TestCancelledRequestIsNoServerError checks that a request whose client
// went away is recorded as 499, not logged as a 500.
func TestCancelledRequestIsNoServerError(t *testing.T) {
	e := newEnv(t, noLimits())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/logs", nil)
	if got := e.api.mapError(r, fmt.Errorf("query: %w", context.Canceled)); got.Status != statusClientClosed {
		t.Fatalf("got %+v", got)
	}
	live := httptest.NewRequest(http.MethodGet, "/api/v1/logs", nil)
	if got := e.api.mapError(live, context.Canceled); got.Status != http.StatusInternalServerError {
		t.Fatalf("a cancellation not of the request: %+v", got)
	}
}
