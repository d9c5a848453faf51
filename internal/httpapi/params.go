package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds on what a request may carry, besides Config.MaxBodyBytes (bodies)
// and the server's header limit.
const (
	// maxParamBytes bounds one query parameter's value on kubelog's own
	// surfaces.
	maxParamBytes = 8 << 10
	// maxParams bounds the number of query parameters of any request.
	maxParams = 256
)

// params is a request's query string, parsed once by the middleware. On
// kubelog's own surfaces it holds only the parameters its route declares,
// and reading an undeclared one is a bug in the route table, caught by the
// first test that calls the handler.
type params struct {
	vals    url.Values
	pattern string
	// declared lists the parameters of a strict route; nil on lenient ones
	// (Loki, Kubernetes), which ignore unknown parameters as the originals
	// do.
	declared []string
}

// Get returns the first value of the named parameter, or "".
func (p params) Get(name string) string {
	p.check(name)
	return p.vals.Get(name)
}

// Has reports whether the parameter is present, even with an empty value.
func (p params) Has(name string) bool {
	p.check(name)
	return p.vals.Has(name)
}

func (p params) check(name string) {
	if p.declared != nil && !slices.Contains(p.declared, name) {
		panic("BUG: the handler of " + p.pattern + " reads the query parameter " + name + ", which its route does not declare")
	}
}

// queryOf returns the parsed query string of r.
func queryOf(r *http.Request) params {
	i := info(r)
	if i.query.vals == nil {
		return params{vals: url.Values{}, pattern: i.query.pattern, declared: i.query.declared}
	}
	return i.query
}

// parseParams parses r's query string for rt: a malformed query string is
// a 400 on every surface; on strict surfaces, so is an undeclared
// parameter, a repeated one or an over-long value, each named.
func parseParams(r *http.Request, rt route) (params, error) {
	p := params{pattern: rt.pattern}
	if rt.strict {
		p.declared = rt.params
		if p.declared == nil {
			p.declared = []string{}
		}
	}
	if strings.Count(r.URL.RawQuery, "&")+strings.Count(r.URL.RawQuery, ";") >= maxParams {
		return p, badRequest("query string: more than %d parameters", maxParams)
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return p, badRequest("query string: %v", err)
	}
	p.vals = vals
	if !rt.strict {
		return p, nil
	}
	var unknown []string
	for name, vs := range vals {
		if !slices.Contains(rt.params, name) {
			unknown = append(unknown, name)
			continue
		}
		if len(vs) > 1 {
			return p, badRequest("%s: given %d times; give it once", name, len(vs))
		}
		if len(vs[0]) > maxParamBytes {
			return p, badRequest("%s: %d bytes, over the limit of %d", name, len(vs[0]), maxParamBytes)
		}
		if !utf8.ValidString(vs[0]) {
			return p, badRequest("%s: not valid UTF-8", name)
		}
	}
	if len(unknown) == 0 {
		return p, nil
	}
	slices.Sort(unknown)
	takes := "takes no query parameters"
	if len(rt.params) > 0 {
		takes = "takes " + strings.Join(rt.params, ", ")
	}
	noun := "parameter"
	if len(unknown) > 1 {
		noun = "parameters"
	}
	for i, u := range unknown {
		unknown[i] = `"` + u + `"`
	}
	return p, badRequest("unknown query %s %s: %s %s", noun, strings.Join(unknown, ", "), rt.pattern, takes)
}
