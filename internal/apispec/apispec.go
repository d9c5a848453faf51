// Package apispec checks HTTP answers against kubelog's OpenAPI document
// (internal/httpapi/openapi.json). It reads the part of OpenAPI 3.0 that
// the generated document uses: paths with path and query parameters,
// responses by status with "default", content types, and JSON schemas made
// of $ref, type, nullable, properties, required, additionalProperties,
// items, allOf, oneOf, minimum and the formats date-time and int32/int64.
// Tests use it, through Transport, to fail on any answer the document does
// not describe.
package apispec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strings"
)

// Document is a loaded OpenAPI document. It is read-only once loaded and
// safe for concurrent use.
type Document struct {
	paths   []*pathItem
	schemas map[string]*Schema
}

type pathItem struct {
	template string
	segs     []string
	ops      map[string]*Operation // upper-case method -> operation
}

// Operation is one method of one path.
type Operation struct {
	// Method and Path are the operation's method and path template.
	Method, Path string
	// Query lists the names of its query parameters.
	Query []string
	// Public: the operation needs no token.
	Public    bool
	responses map[string]map[string]*Schema // status or "default" -> media type -> schema (nil: any)
}

// Schema is a JSON schema of the document.
type Schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Nullable             bool               `json:"nullable"`
	Properties           map[string]*Schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *Schema            `json:"items"`
	AllOf                []*Schema          `json:"allOf"`
	OneOf                []*Schema          `json:"oneOf"`
	Minimum              *float64           `json:"minimum"`

	// additional is AdditionalProperties read: nil allows any property;
	// noAdditional allows none.
	additional   *Schema
	noAdditional bool
}

type rawDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]*Schema `json:"schemas"`
	} `json:"components"`
}

type rawOperation struct {
	Parameters []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Security  *[]map[string][]string `json:"security"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema *Schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// Load reads an OpenAPI 3.0 document and checks that every $ref resolves
// and every path parameter is declared.
func Load(b []byte) (*Document, error) {
	var raw rawDoc
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if !strings.HasPrefix(raw.OpenAPI, "3.0.") {
		return nil, fmt.Errorf("openapi: version %q, want 3.0.x", raw.OpenAPI)
	}
	d := &Document{schemas: raw.Components.Schemas}
	var errs []error
	for name, s := range d.schemas {
		errs = append(errs, d.prepare(s, "#/components/schemas/"+name))
	}
	templates := make([]string, 0, len(raw.Paths))
	for t := range raw.Paths {
		templates = append(templates, t)
	}
	slices.Sort(templates)
	for _, t := range templates {
		p := &pathItem{template: t, segs: strings.Split(t, "/"), ops: map[string]*Operation{}}
		for method, rb := range raw.Paths[t] {
			var ro rawOperation
			if err := json.Unmarshal(rb, &ro); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", method, t, err))
				continue
			}
			o := &Operation{Method: strings.ToUpper(method), Path: t, responses: map[string]map[string]*Schema{}}
			o.Public = ro.Security != nil && len(*ro.Security) == 0
			var inPath []string
			for _, prm := range ro.Parameters {
				switch prm.In {
				case "query":
					o.Query = append(o.Query, prm.Name)
				case "path":
					inPath = append(inPath, prm.Name)
				}
			}
			for _, seg := range p.segs {
				if name, ok := param(seg); ok && !slices.Contains(inPath, name) {
					errs = append(errs, fmt.Errorf("%s %s: path parameter %s is not declared", o.Method, t, name))
				}
			}
			for status, resp := range ro.Responses {
				media := map[string]*Schema{}
				for ct, c := range resp.Content {
					media[ct] = c.Schema
					if c.Schema != nil {
						errs = append(errs, d.prepare(c.Schema, o.Method+" "+t+" "+status))
					}
				}
				o.responses[status] = media
			}
			p.ops[o.Method] = o
		}
		d.paths = append(d.paths, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return d, nil
}

// prepare reads additionalProperties and checks the references of s and
// the schemas it holds.
func (d *Document) prepare(s *Schema, where string) error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.Ref != "" {
		if _, ok := d.schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]; !ok || !strings.HasPrefix(s.Ref, "#/components/schemas/") {
			errs = append(errs, fmt.Errorf("%s: $ref %s does not resolve", where, s.Ref))
		}
	}
	switch a := bytes.TrimSpace(s.AdditionalProperties); {
	case len(a) == 0, string(a) == "true":
	case string(a) == "false":
		s.noAdditional = true
	default:
		s.additional = new(Schema)
		if err := json.Unmarshal(a, s.additional); err != nil {
			errs = append(errs, fmt.Errorf("%s: additionalProperties: %w", where, err))
		}
		errs = append(errs, d.prepare(s.additional, where+"/additionalProperties"))
	}
	for name, p := range s.Properties {
		errs = append(errs, d.prepare(p, where+"/"+name))
	}
	errs = append(errs, d.prepare(s.Items, where+"/items"))
	for _, x := range append(slices.Clip(s.AllOf), s.OneOf...) {
		errs = append(errs, d.prepare(x, where))
	}
	return errors.Join(errs...)
}

func param(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// Operations returns every operation, by path and method.
func (d *Document) Operations() []*Operation {
	var out []*Operation
	for _, p := range d.paths {
		methods := make([]string, 0, len(p.ops))
		for m := range p.ops {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, m := range methods {
			out = append(out, p.ops[m])
		}
	}
	return out
}

// Find returns the operation of method on the concrete path urlPath: of
// the templates that match it, the one with the most literal segments.
func (d *Document) Find(method, urlPath string) (*Operation, bool) {
	segs := strings.Split(urlPath, "/")
	var best *Operation
	bestLiterals := -1
	for _, p := range d.paths {
		o := p.ops[method]
		if o == nil || len(p.segs) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, s := range p.segs {
			if _, isParam := param(s); isParam {
				ok = segs[i] != ""
			} else {
				ok = s == segs[i]
				literals++
			}
			if !ok {
				break
			}
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = o, literals
		}
	}
	return best, best != nil
}

// CheckAnswer checks an answer of o: its status must be documented (or
// "default" be), its content type one of that answer's, and a JSON body
// valid against its schema. body is read only for JSON content types.
func (d *Document) CheckAnswer(o *Operation, status int, contentType string, body []byte) error {
	media, ok := o.responses[fmt.Sprint(status)]
	if !ok {
		if media, ok = o.responses["default"]; !ok {
			return fmt.Errorf("status %d is not documented", status)
		}
	}
	if len(media) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	s, ok := media[mt]
	if !ok {
		return fmt.Errorf("content type %s is not documented for status %d", mt, status)
	}
	if !IsJSON(mt) || s == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return d.Validate(s, v)
}

// IsJSON reports whether the media type mt is JSON.
func IsJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// ErrorSchema returns the schema of the error body, the default answer of
// every operation.
func (d *Document) ErrorSchema() *Schema { return d.schemas["ErrorBody"] }
