package clusters

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzValidateKubeconfig checks that no document panics, that every refusal
// is a *KubeconfigError that never speaks of the server's files, and that an
// accepted document gives a REST config that only holds inline values.
func FuzzValidateKubeconfig(f *testing.F) {
	// Seeds larger than this slow every mutation down; the oversized case is
	// refused on its length alone.
	const maxSeed = 64 << 10
	for _, c := range acceptedKubeconfigs() {
		if len(c.doc) <= maxSeed {
			f.Add(c.doc, c.context)
		}
	}
	for _, c := range refusedKubeconfigs() {
		if len(c.doc) <= maxSeed {
			f.Add(c.doc, c.context)
		}
	}
	f.Fuzz(func(t *testing.T, doc, contextName string) {
		rc, err := ValidateKubeconfig(doc, contextName)
		if err != nil {
			if rc != nil {
				t.Fatalf("got a REST config and error %v; want only the error", err)
			}
			var ke *KubeconfigError
			if !errors.As(err, &ke) {
				t.Fatalf("got error %v of type %T; want a *KubeconfigError", err, err)
			}
			for _, leak := range []string{"no such file", "permission denied", "is a directory"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("got message %q; want it not to speak of the server's files", err)
				}
			}
			return
		}
		if err := onlyInline(rc); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(rc.Host)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("got Host %q; want an http(s) URL with a host and no user", rc.Host)
		}
	})
}
