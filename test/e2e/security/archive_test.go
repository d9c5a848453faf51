package security_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/archive"
)

// TestArchiveKeyOfAnotherTenant is attack 6: victim's lines are archived to
// a real bucket; evil, with a policy of its own on the same bucket and
// prefix, asks for victim's object by its key (and for well-formed keys of
// victim that do not exist) and gets 404 every time, the same answer as for
// a key that does not exist; evil's listings and archive queries show none
// of victim's objects.
func TestArchiveKeyOfAnotherTenant(t *testing.T) {
	w := shared(t)
	s := w.srv
	hour := time.Now().UTC().Truncate(time.Hour)
	var j apiclient.ArchiveJob
	s.must(t, w.victim, 201, "POST", "/api/v1/logs/archive/start", map[string]string{"policy_id": w.victimPolicy,
		"start_time": hour.Add(-5 * time.Hour).Format(time.RFC3339), "end_time": hour.Add(-time.Hour).Format(time.RFC3339)}, &j)
	waitFor(t, time.Minute, "victim's archive job done", func() (bool, string) {
		r := s.must(t, w.victim, 200, "GET", "/api/v1/logs/archive/jobs/"+j.ID, nil, &j)
		return j.Status != "pending" && j.Status != "running", r.String()
	})
	if j.Status != "succeeded" {
		t.Fatalf("victim's archive job: %s %s", j.Status, j.Error)
	}
	var meta apiclient.ObjectList
	s.must(t, w.victim, 200, "GET", "/api/v1/logs/s3/metadata?namespace="+victimNS, nil, &meta)
	if len(meta.Objects) == 0 {
		t.Fatal("victim's archive lists no object")
	}
	key := meta.Objects[0].Key
	if k, err := archive.ParseObjectKey(key); err != nil || k.Tenant != "victim" {
		t.Fatalf("victim's object key %q: %+v, %v", key, k, err)
	}
	content := "/api/v1/logs/s3/content?key=" + url.QueryEscape(key)
	if r := s.must(t, w.victim, 200, "GET", content, nil, nil); !r.has(victimOldLine) {
		t.Fatalf("victim reading its own object: got %s; want its line", r)
	}

	// Evil gets a policy on the same bucket and prefix: the S3 credentials
	// would read the object, the index must not let evil ask.
	evilPolicy := policyBody("evil-same-bucket", victimBucket, `{namespace="evil-ns"}`)
	s.must(t, w.evil, 201, "POST", "/api/v1/logs/archive/policies", evilPolicy, nil)

	notThere := archive.ObjectKey{Prefix: "kubelog", Tenant: "victim", Cluster: "victim-c", Namespace: victimNS, Pod: "db-0", Container: "db",
		Hour: hour.Add(-10 * time.Hour).UnixNano(), FirstTs: hour.Add(-10 * time.Hour).UnixNano(), LastTs: hour.Add(-10*time.Hour).UnixNano() + 1, Compression: archive.CompressionZstd}
	evilsOwn := notThere
	evilsOwn.Tenant = "evil"
	var first reply
	for i, tc := range []struct{ name, path string }{
		{"victim's object", content},
		{"victim's object, raw", content + "&format=raw"},
		{"victim's object, searched", content + "&search=VICTIM"},
		{"a well-formed key of victim that does not exist", "/api/v1/logs/s3/content?key=" + url.QueryEscape(notThere.String())},
		{"a well-formed key of evil that does not exist", "/api/v1/logs/s3/content?key=" + url.QueryEscape(evilsOwn.String())},
	} {
		r := s.do(t, w.evil, "GET", tc.path, nil)
		if r.code != 404 || r.has(victimOldLine) {
			t.Errorf("evil GET %s: got %s; want 404", tc.name, r)
		}
		if i == 0 {
			first = r
		} else if r.code != first.code || r.id != first.id {
			t.Errorf("evil GET %s: got %d %s, but %d %s for victim's existing object: the answer tells which keys exist", tc.name, r.code, r.id, first.code, first.id)
		}
	}

	for _, p := range []string{
		"/api/v1/logs/s3/metadata",
		"/api/v1/logs/s3/metadata?namespace=" + victimNS,
		"/api/v1/logs/s3/stats",
		"/api/v1/logs?namespace=" + victimNS + "&include_archive=true&start_time=" + url.QueryEscape(hour.Add(-6*time.Hour).Format(time.RFC3339)),
	} {
		r := s.must(t, w.evil, 200, "GET", p, nil, nil)
		if r.has(victimOldLine) || r.has(key) || strings.Contains(string(r.body), `"victim`) {
			t.Errorf("evil GET %s shows victim's archive: %s", p, r)
		}
	}
}
