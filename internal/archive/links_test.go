package archive

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
)

// TestFindAndLinks checks the selection of objects for /v2/apps historic
// links (tenant, time overlap, every matcher) and the pre-signed URLs.
func TestFindAndLinks(t *testing.T) {
	ctx := t.Context()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := DefaultConfig()
	if cfg.Keys, err = secrets.NewKeyring(make([]byte, secrets.KeySize)); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(cfg, nil, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	dest := Destination{Endpoint: "127.0.0.1:1", Region: "us-east-1", Bucket: "arch", AccessKeyID: "ak", SecretAccessKey: "sk", PathStyle: true}
	pa := Policy{Name: "a", Tenant: "t1", Destination: dest}
	if err := m.Policies().Create(ctx, &pa, now); err != nil {
		t.Fatal(err)
	}
	hour := int64(time.Hour)
	h0 := now.UnixNano()
	obj := func(tenant, policy, ns, pod, container string, first, last int64) *Object {
		k := ObjectKey{Tenant: tenant, Cluster: "c1", Namespace: ns, Pod: pod, Container: container, Hour: first / hour * hour, FirstTs: first, LastTs: last, Compression: CompressionZstd}
		return &Object{Key: k.String(), PolicyID: policy, JobID: "aj_1", Bucket: "arch", StartTime: time.Unix(0, first).UTC(), EndTime: time.Unix(0, last).UTC(),
			Cluster: "c1", Namespace: ns, Pod: pod, Container: container, CreatedAt: now,
			Labels: map[string]string{"cluster": "c1", "namespace": ns, "pod": pod, "container": container},
			tenant: tenant, streamHash: pod + "/" + container, hour: first / hour * hour}
	}
	objs := []*Object{
		obj("t1", pa.ID, "shop", "web-1", "app", h0+10, h0+20),                   // 0: in range
		obj("t1", pa.ID, "shop", "web-1", "app", h0-2*hour, h0-hour),             // 1: before
		obj("t1", pa.ID, "shop", "web-1", "app", h0+hour+5, h0+hour+50),          // 2: second hour
		obj("t1", pa.ID, "shop", "web-1", "sidecar", h0+30, h0+40),               // 3: other container
		obj("t1", pa.ID, "shop", "db-0", "app", h0+10, h0+20),                    // 4: other pod
		obj("t1", pa.ID, "blog", "web-1", "app", h0+10, h0+20),                   // 5: other namespace
		obj("t2", pa.ID, "shop", "web-1", "app", h0+10, h0+20),                   // 6: other tenant
		obj("t1", "ap_gone", "shop", "web-2", "app", h0+11, h0+21),               // 7: deleted policy
		obj("t1", pa.ID, "shop", "web-1", "app", h0+3*hour, h0+3*hour+1),         // 8: at the end, excluded
		obj("t1", pa.ID, "shop", "web-1", "app", h0-hour+1, h0-hour+int64(59e9)), // 9: before from
	}
	if err := m.index.putAll(ctx, objs); err != nil {
		t.Fatal(err)
	}
	keys := func(os []Object) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.Key)
		}
		return out
	}
	want := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, objs[i].Key)
		}
		return out
	}
	find := func(tenant string, ms []logmodel.Matcher, from, to int64, w []string) {
		t.Helper()
		got, err := m.Find(ctx, tenant, ms, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys(got), w) {
			t.Fatalf("Find(%s, %v, %d, %d):\n got %q\nwant %q", tenant, ms, from, to, keys(got), w)
		}
	}
	eq := func(n, v string) logmodel.Matcher {
		return logmodel.Matcher{Type: logmodel.MatchEqual, Name: n, Value: v}
	}
	re := func(n, v string) logmodel.Matcher {
		return logmodel.Matcher{Type: logmodel.MatchRegexp, Name: n, Value: v}
	}
	shop := []logmodel.Matcher{eq("cluster", "c1"), eq("namespace", "shop"), re("pod", "web-.*"), eq("container", "app")}
	find("t1", shop, h0, h0+3*hour, want(0, 7, 2))
	find("t1", shop, 0, 0, want(1, 9, 0, 7, 2, 8))
	find("t1", shop, h0+21, h0+hour+5, want(7))
	find("t1", []logmodel.Matcher{eq("namespace", "shop"), re("pod", "web-1|db-0")}, h0, h0+hour, want(4, 0, 3))
	find("t1", []logmodel.Matcher{eq("namespace", "shop"), {Type: logmodel.MatchNotEqual, Name: "container", Value: "app"}}, h0, h0+hour, want(3))
	find("t2", shop, h0, h0+3*hour, want(6))
	find("t3", nil, 0, 0, nil)

	l := m.Links(15 * time.Minute)
	links, err := l.Objects(ctx, "t1", shop, h0, h0+3*hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 {
		t.Fatalf("links: got %d %q; want 2 (the deleted policy's object left out)", len(links), links)
	}
	for i, s := range links {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		key := want(0, 2)[i]
		q := u.Query()
		if u.Host != dest.Endpoint || u.Path != "/arch/"+key || q.Get("X-Amz-Expires") != "900" || q.Get("X-Amz-Signature") == "" ||
			!strings.HasPrefix(q.Get("X-Amz-Credential"), "ak/") || !strings.Contains(q.Get("response-content-disposition"), filepath.Base(key)) {
			t.Fatalf("link %d: %s", i, s)
		}
	}
	if got := m.Links(30 * 24 * time.Hour).ttl; got != maxPresign {
		t.Fatalf("ttl: got %s; want S3's limit %s", got, maxPresign)
	}
}
