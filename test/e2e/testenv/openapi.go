package testenv

import (
	"net/http"
	"sync"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/apispec"
	"github.com/kubelog/kubelog/internal/httpapi"
)

// openAPI is the server's OpenAPI document, loaded once.
var openAPI = sync.OnceValue(func() *apispec.Document {
	d, err := apispec.Load(httpapi.OpenAPI())
	if err != nil {
		panic("BUG: the embedded OpenAPI document does not load: " + err.Error())
	}
	return d
})

// Checked wraps base (nil: http.DefaultTransport) so that every answer of
// kubelog's own API is checked against the server's OpenAPI document: an
// answer the document does not describe fails the request with an error
// that says why.
func Checked(base http.RoundTripper) http.RoundTripper {
	return &apispec.Transport{Doc: openAPI(), Base: base}
}

// HTTP is the client the end-to-end tests send their requests with; its
// answers are Checked.
var HTTP = &http.Client{Transport: Checked(nil)}

// API returns a client of the server at url acting with token, whose
// answers are Checked.
func API(url, token string) *apiclient.Client { return apiclient.New(url, token, HTTP) }
