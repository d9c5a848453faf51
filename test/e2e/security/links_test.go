package security_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/apps"
)

// linksNS and linksJob are the namespace and Job of the signed links' app.
const (
	linksNS    = "sec-links"
	linksJob   = "links-job"
	linkLine   = "VICTIM-LINK-LINE-55e1"
	evilAppLog = "EVIL-OWN-APP-LINE"
)

// createLinksJob creates the Job that is the app of TestSignedLinks, in both
// tenants' registration of the test cluster, and returns its UID (the app's
// id, and its only deployment's).
func createLinksJob(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	c := cluster.Client()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: linksNS}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: linksJob, Namespace: linksNS}, Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}}}
	j, err := c.BatchV1().Jobs(linksNS).Create(ctx, job, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		j, err = c.BatchV1().Jobs(linksNS).Get(ctx, linksJob, metav1.GetOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(j.UID)
}

// listApps lists the tenant's apps and fails the test unless the links' app
// is among them.
func listApps(t *testing.T, s *server, token, appID string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the Job listed as an app", func() (bool, string) {
		var as apiclient.AppList
		r := s.must(t, token, 200, "GET", "/v2/apps", nil, &as)
		for _, a := range as.Apps {
			if a.ID == appID && a.Name == linksJob {
				return true, ""
			}
		}
		return false, r.String()
	})
}

// getLink sends GET to a signed link without a bearer token, as a live link
// (Accept: text/event-stream) when live; a stream that opens is closed
// after its status.
func getLink(t *testing.T, s *server, pathAndToken string, live bool) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	u := pathAndToken
	if strings.HasPrefix(u, "/") {
		u = s.URL + u
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if live {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{code: resp.StatusCode, header: resp.Header}
	if live && resp.StatusCode == 200 {
		return r // the stream stays open: not read
	}
	r.body, _ = io.ReadAll(resp.Body)
	var e apiclient.ErrorBody
	if json.Unmarshal(r.body, &e) == nil {
		r.id, r.msg = e.ID, e.Message
	}
	return r
}

// retenant returns a signed link's token with its payload's tenant changed
// and its signature kept.
func retenant(t *testing.T, token, tenant string) string {
	t.Helper()
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		t.Fatalf("link token %q has no signature", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if _, ok := p["t"].(string); !ok {
		t.Fatalf("link payload %s has no tenant field \"t\"", raw)
	}
	p["t"] = tenant
	raw, _ = json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + sig
}

// TestSignedLinks is attack 7: the signed links of /v2/apps are checked for
// their signature and expiry. Links signed here with the server's key (the
// way the server signs them) work; an expired one, one whose payload was
// edited to another tenant without a new signature, one signed with another
// key and a download link used as a live one are 401, without the tenant's
// lines.
func TestSignedLinks(t *testing.T) {
	w := shared(t)
	s := w.srv
	appID := createLinksJob(t)
	key, err := os.ReadFile(filepath.Join(s.DataDir, "apps-link.key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := apps.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := make([]byte, 32)
	_, _ = rand.Read(otherKey)
	otherSigner, err := apps.NewSigner(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	pod := map[string]string{"namespace": linksNS, "pod": linksJob + "-x7k2p", "container": "app"}
	victimPod, evilPod := map[string]string{"cluster": "victim-c"}, map[string]string{"cluster": "evil-c"}
	for k, v := range pod {
		victimPod[k], evilPod[k] = v, v
	}
	if err := s.pushLine(w.victim, victimPod, time.Now(), linkLine); err != nil {
		t.Fatal(err)
	}
	if err := s.pushLine(w.evil, evilPod, time.Now(), evilAppLog); err != nil {
		t.Fatal(err)
	}

	// Evil gets a link of its own from the server: its registration of the
	// cluster has the same Job, under the same id.
	listApps(t, s, w.evil, appID)
	var minted apiclient.AppLogs
	s.must(t, w.evil, 200, "GET", "/v2/apps/"+appID+"/deployments/"+appID+"/logs?type=RUN&follow=true&pod_connection_timeout=0s", nil, &minted)
	evilLink, err := url.Parse(minted.URL)
	if err != nil {
		t.Fatal(err)
	}
	evilLive, err := url.Parse(minted.LiveURL)
	if err != nil {
		t.Fatal(err)
	}
	if r := getLink(t, s, minted.URL, false); r.code != 200 || !r.has(evilAppLog) || r.has(linkLine) {
		t.Fatalf("evil's own link: got %s; want 200 with evil's line only", r)
	}

	listApps(t, s, w.victim, appID)
	req := apps.Request{Tenant: "victim", AppID: appID, DeploymentID: appID, Type: apps.TypeRun}
	sign := func(sg *apps.Signer, live bool, expires time.Time) string {
		return url.QueryEscape(sg.Sign(apps.Link{Request: req, Live: live, Expires: expires}))
	}
	soon, past := time.Now().Add(5*time.Minute), time.Now().Add(-time.Minute)

	// The server takes links signed here: the checks below are about the
	// signature and the expiry, not the signing.
	if r := getLink(t, s, apps.DownloadPath+"?token="+sign(signer, false, soon), false); r.code != 200 || !r.has(linkLine) {
		t.Fatalf("a link signed with the server's key: got %s; want 200 with victim's line", r)
	}
	if r := getLink(t, s, apps.LivePath+"?token="+sign(signer, true, soon), true); r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("a live link signed with the server's key: got %s %v; want 200 text/event-stream", r, r.header)
	}

	for _, tc := range []struct {
		name, path string
		live       bool
	}{
		{"expired", apps.DownloadPath + "?token=" + sign(signer, false, past), false},
		{"expired-live", apps.LivePath + "?token=" + sign(signer, true, past), true},
		{"evil's link edited to victim", apps.DownloadPath + "?token=" + url.QueryEscape(retenant(t, evilLink.Query().Get("token"), "victim")), false},
		{"evil's live link edited to victim", apps.LivePath + "?token=" + url.QueryEscape(retenant(t, evilLive.Query().Get("token"), "victim")), true},
		{"signed with another key", apps.DownloadPath + "?token=" + sign(otherSigner, false, soon), false},
		{"live, signed with another key", apps.LivePath + "?token=" + sign(otherSigner, true, soon), true},
		{"download link used as live", apps.LivePath + "?token=" + sign(signer, false, soon), true},
		{"live link used as download", apps.DownloadPath + "?token=" + sign(signer, true, soon), false},
		{"signature cut off", apps.DownloadPath + "?token=" + strings.Split(sign(signer, false, soon), ".")[0], false},
		{"no token", apps.DownloadPath, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := getLink(t, s, tc.path, tc.live)
			if r.code != 401 || r.has(linkLine) {
				t.Fatalf("got %s; want 401", r)
			}
		})
	}
	// And a bearer token does not stand in for the signature.
	if r := s.do(t, w.victim, "GET", apps.DownloadPath+"?token="+sign(otherSigner, false, soon), nil); r.code != 401 || bytes.Contains(r.body, []byte(linkLine)) {
		t.Errorf("a forged link with victim's bearer token: got %s; want 401", r)
	}
}

// TestAppsOfSharedCluster: two tenants that registered the same cluster
// each see its workloads as their apps, under the same ids; one tenant's
// listing must not make the app vanish for the other (a tenant must not be
// able to deny another its own apps).
func TestAppsOfSharedCluster(t *testing.T) {
	w := shared(t)
	s := w.srv
	appID := createLinksJob(t)
	listApps(t, s, w.victim, appID)
	listApps(t, s, w.evil, appID)
	if r := s.do(t, w.victim, "GET", "/v2/apps/"+appID, nil); r.code != 200 {
		t.Errorf("victim GET /v2/apps/{id} of its own app after evil listed its apps: got %s; want 200 "+
			"(internal/apps/apps.go Service.App trusts s.where[id], which the last tenant to list set, "+
			"and answers ErrNotFound instead of looking in the asking tenant's clusters)", r)
	}
	listApps(t, s, w.victim, appID)
	if r := s.do(t, w.evil, "GET", "/v2/apps/"+appID, nil); r.code != 200 {
		t.Errorf("evil GET /v2/apps/{id} of its own registration's app after victim listed its apps: got %s; want 200", r)
	}
}
