package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// Bounds on the JSON bodies of kubelog's own endpoints (pushes have their
// own decoders, bounded by Config.MaxBodyBytes).
const (
	// maxJSONBody caps a JSON request body.
	maxJSONBody = 4 << 20
	// maxJSONDepth caps the nesting of objects and arrays.
	maxJSONDepth = 32
	// maxJSONString caps one string value or key (a kubeconfig is the
	// largest field any endpoint takes).
	maxJSONString = 1 << 20
)

// readJSONBody reads a JSON request body within the bounds above.
func readJSONBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJSONBody {
		return nil, tooLarge("request body is over the limit of %d bytes for a JSON document", maxJSONBody)
	}
	if err := checkJSONShape(b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkJSONShape refuses documents nested deeper than maxJSONDepth or
// with a string longer than maxJSONString. It does not validate the
// syntax, which the decoder does next.
func checkJSONShape(b []byte) error {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if depth++; depth > maxJSONDepth {
				return badRequest("request body is nested deeper than %d levels at byte %d", maxJSONDepth, i)
			}
		case '}', ']':
			depth--
		case '"':
			start := i
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i-start-1 > maxJSONString {
				return badRequest("request body has a string of %d bytes at byte %d, over the limit of %d", i-start-1, start, maxJSONString)
			}
		}
	}
	return nil
}

// decodeBody decodes a JSON request body strictly, naming what is wrong.
func decodeBody(r *http.Request, v any) error {
	b, err := readJSONBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return badRequest("request body is empty; a JSON object is required")
		case errors.As(err, &se):
			return badRequest("request body is not valid JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return badRequest("%s: must be %s, not %s", te.Field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequest("%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return badRequest("request body: %v", err)
	}
	if dec.More() {
		return badRequest("request body has data after the JSON object")
	}
	return nil
}
