package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDocument describes kubelog's own routes: every route of the logs
// management API, tail sessions, /v2/apps and the operations endpoints. It
// is generated from the wire types of package apiclient (see
// internal/apiclient/openapi_test.go); a test here checks that it lists
// exactly the routes the server registers.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.0 document of kubelog's own routes, as
// served at GET /api/v1/openapi.json.
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

// getOpenAPI serves GET /api/v1/openapi.json, with no token.
func (a *API) getOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDocument)
	return err
}
