package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAppsParameters: the logs endpoints check their parameters before
// anything else and name the field; without an apps service the surface
// answers 404 in its {"id","message"} shape.
func TestAppsParameters(t *testing.T) {
	e := newEnv(t, noLimits())
	const logs = "/v2/apps/a1/deployments/d1/components/web/logs"
	f := func(token, path string, code int, id, say string) {
		t.Helper()
		got, b, _ := e.do(token, "GET", path, nil)
		var body struct{ ID, Message string }
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("GET %s: %s is not JSON: %v", path, b, err)
		}
		if got != code || body.ID != id || !strings.Contains(body.Message, say) {
			t.Fatalf("GET %s: got %d %s; want %d %s saying %q", path, got, b, code, id, say)
		}
	}
	f("", logs+"?type=RUN", 401, "unauthorized", "bearer token")
	f("a-read", logs, 400, "bad_request", "type is required")
	f("a-read", logs+"?type=UNSPECIFIED", 400, "bad_request", "BUILD, DEPLOY, RUN, RUN_RESTARTED")
	f("a-read", logs+"?type=RUN&follow=maybe", 400, "bad_request", "follow")
	f("a-read", logs+"?type=RUN&pod_connection_timeout=soon", 400, "bad_request", "pod_connection_timeout")
	f("a-read", logs+"?type=RUN&pod_connection_timeout=-1s", 400, "bad_request", "pod_connection_timeout")
	f("a-read", logs+"?type=RUN&pod_connection_timeout=1h", 400, "bad_request", "pod_connection_timeout")
	f("a-read", "/v2/apps/a1/logs?type=deploy", 404, "not_found", "not enabled")
	f("a-read", "/v2/apps", 404, "not_found", "not enabled")
	f("", "/v2/links/apps/logs?token=x.y", 404, "not_found", "not enabled")
	f("a-read", "/v2/nothing", 404, "not_found", "could not be found")
}
