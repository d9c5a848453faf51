package clusters

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// testPEM holds PEM material generated once for the kubeconfig tests.
type testPEM struct {
	ca, cert, key, otherKey []byte
}

var kubeconfigPEM = sync.OnceValue(func() testPEM {
	selfSigned := func(cn string) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic("BUG: generate key: " + err.Error())
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic("BUG: create certificate: " + err.Error())
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			panic("BUG: marshal key: " + err.Error())
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	ca, _ := selfSigned("test-ca")
	cert, key := selfSigned("test-client")
	_, otherKey := selfSigned("other")
	return testPEM{ca: ca, cert: cert, key: key, otherKey: otherKey}
})

// expand replaces $CA, $CERT, $KEY and $OTHERKEY in doc by the base64 of the
// test PEM material.
func expand(doc string) string {
	p := kubeconfigPEM()
	b := base64.StdEncoding.EncodeToString
	return strings.NewReplacer("$CA", b(p.ca), "$CERT", b(p.cert), "$KEY", b(p.key), "$OTHERKEY", b(p.otherKey)).Replace(doc)
}

// kubeconfigWith returns a valid kubeconfig with extra lines added to its
// cluster, user and context maps and to its top level.
func kubeconfigWith(cluster, user, context, top string) string {
	indent := func(s string) string {
		if s == "" {
			return ""
		}
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		return "    " + strings.Join(lines, "\n    ") + "\n"
	}
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://k8s.example:6443\n" + indent(cluster) +
		"users:\n- name: u\n  user:\n    token: tok\n" + indent(user) +
		"contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n" + indent(context) +
		"current-context: ctx\n" + top
}

// kubeconfigEntries returns a kubeconfig with n clusters.
func kubeconfigEntries(n int) string {
	var b strings.Builder
	b.WriteString("clusters:\n")
	for i := range n {
		fmt.Fprintf(&b, "- name: c%d\n  cluster:\n    server: https://k8s.example\n", i)
	}
	b.WriteString("users:\n- name: u\n  user: {}\ncontexts:\n- name: ctx\n  context: {cluster: c0, user: u}\n")
	return b.String()
}

// aliasBomb returns a "billion laughs" document under users[0].user.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(kubeconfigWith("", "", "", ""))
	b.WriteString("x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*x%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// acceptedKubeconfig is a kubeconfig ValidateKubeconfig accepts.
type acceptedKubeconfig struct {
	name, doc, context string
	want               rest.Config
}

func acceptedKubeconfigs() []acceptedKubeconfig {
	p := kubeconfigPEM()
	const host = "https://k8s.example:6443"
	return []acceptedKubeconfig{
		{name: "token", doc: kubeconfigWith("", "", "", ""), want: rest.Config{Host: host, BearerToken: "tok"}},
		{name: "token and ca", doc: expand(kubeconfigWith("certificate-authority-data: $CA", "", "", "")),
			want: rest.Config{Host: host, BearerToken: "tok", TLSClientConfig: rest.TLSClientConfig{CAData: p.ca}}},
		{name: "cert and key", doc: expand(kubeconfigWith("certificate-authority-data: $CA", "client-certificate-data: $CERT\nclient-key-data: $KEY", "", "")),
			want: rest.Config{Host: host, BearerToken: "tok", TLSClientConfig: rest.TLSClientConfig{CAData: p.ca, CertData: p.cert, KeyData: p.key}}},
		{name: "insecure", doc: kubeconfigWith("insecure-skip-tls-verify: true", "", "", ""),
			want: rest.Config{Host: host, BearerToken: "tok", TLSClientConfig: rest.TLSClientConfig{Insecure: true}}},
		{name: "tls-server-name", doc: kubeconfigWith("tls-server-name: api.internal", "", "namespace: team-a", ""),
			want: rest.Config{Host: host, BearerToken: "tok", TLSClientConfig: rest.TLSClientConfig{ServerName: "api.internal"}}},
		{name: "disable-compression", doc: kubeconfigWith("disable-compression: true", "", "", ""),
			want: rest.Config{Host: host, BearerToken: "tok", DisableCompression: true}},
		{name: "empty preferences and extensions", doc: kubeconfigWith("extensions: []", "extensions: null", "extensions: []", "preferences: {}\nextensions: []\n"),
			want: rest.Config{Host: host, BearerToken: "tok"}},
		{name: "no credentials", doc: "clusters:\n- name: c\n  cluster: {server: 'http://10.0.0.1:8080/prefix'}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: ctx\n  context: {cluster: c, user: u}\n",
			want: rest.Config{Host: "http://10.0.0.1:8080/prefix"}},
		{name: "json", doc: `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":"https://k8s.example"}}],"users":[{"name":"u","user":{"token":"tok"}}],"contexts":[{"name":"ctx","context":{"cluster":"c","user":"u"}}],"current-context":"ctx"}`,
			want: rest.Config{Host: "https://k8s.example", BearerToken: "tok"}},
		{name: "context name", context: "b", doc: `
clusters:
- {name: ca, cluster: {server: "https://a.example"}}
- {name: cb, cluster: {server: "https://b.example"}}
users:
- {name: ua, user: {token: ta}}
- {name: ub, user: {token: tb}}
contexts:
- {name: a, context: {cluster: ca, user: ua}}
- {name: b, context: {cluster: cb, user: ub}}
current-context: a
`, want: rest.Config{Host: "https://b.example", BearerToken: "tb"}},
		{name: "current context", doc: `
clusters:
- {name: ca, cluster: {server: "https://a.example"}}
- {name: cb, cluster: {server: "https://b.example"}}
users:
- {name: ua, user: {token: ta}}
contexts:
- {name: a, context: {cluster: ca, user: ua}}
- {name: b, context: {cluster: cb, user: ua}}
current-context: a
`, want: rest.Config{Host: "https://a.example", BearerToken: "ta"}},
		{name: "kubectl flatten minify", doc: expand(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $CA
    server: https://127.0.0.1:39999
  name: kind-kind
contexts:
- context:
    cluster: kind-kind
    user: kind-kind
  name: kind-kind
current-context: kind-kind
kind: Config
preferences: {}
users:
- name: kind-kind
  user:
    client-certificate-data: $CERT
    client-key-data: $KEY
`), want: rest.Config{Host: "https://127.0.0.1:39999", TLSClientConfig: rest.TLSClientConfig{CAData: p.ca, CertData: p.cert, KeyData: p.key}}},
		{name: "entries at the limit", doc: kubeconfigEntries(maxKubeconfigEntries), want: rest.Config{Host: "https://k8s.example"}},
	}
}

// refusedKubeconfig is a kubeconfig ValidateKubeconfig refuses, with the
// field its error names and a part of its reason.
type refusedKubeconfig struct {
	name, doc, context string
	field, reason      string
}

func refusedKubeconfigs() []refusedKubeconfig {
	const file = "names a file on the server; only inline credentials are accepted"
	return []refusedKubeconfig{
		// Fields client-go knows that could reach a file, a program or another host.
		{"exec", kubeconfigWith("", "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: /bin/sh\n  args: [-c, 'id > /tmp/pwned']", "", ""), "",
			"users[0].user.exec", "credential plugins are not accepted from the API; give inline credentials (token, client-certificate-data, client-key-data)"},
		{"tokenFile", kubeconfigWith("", "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token", "", ""), "", "users[0].user.tokenFile", file},
		{"certificate-authority", kubeconfigWith("certificate-authority: /etc/shadow", "", "", ""), "", "clusters[0].cluster.certificate-authority", file},
		{"client-certificate", kubeconfigWith("", "client-certificate: /etc/kubernetes/pki/admin.crt", "", ""), "", "users[0].user.client-certificate", file},
		{"client-key", kubeconfigWith("", "client-key: /etc/kubernetes/pki/admin.key", "", ""), "", "users[0].user.client-key", file},
		{"auth-provider", kubeconfigWith("", "auth-provider:\n  name: gcp\n  config: {cmd-path: /bin/sh}", "", ""), "", "users[0].user.auth-provider", "auth-provider plugins are not accepted"},
		{"username", kubeconfigWith("", "username: admin", "", ""), "", "users[0].user.username", "basic authentication"},
		{"password", kubeconfigWith("", "password: hunter2", "", ""), "", "users[0].user.password", "basic authentication"},
		{"proxy-url", kubeconfigWith("proxy-url: http://attacker.example:3128", "", "", ""), "", "clusters[0].cluster.proxy-url", "proxies are not accepted"},
		{"as", kubeconfigWith("", "as: system:admin", "", ""), "", "users[0].user.as", "impersonation"},
		{"as-uid", kubeconfigWith("", "as-uid: '0'", "", ""), "", "users[0].user.as-uid", "impersonation"},
		{"as-groups", kubeconfigWith("", "as-groups: [system:masters]", "", ""), "", "users[0].user.as-groups", "impersonation"},
		{"as-user-extra", kubeconfigWith("", "as-user-extra: {k: [v]}", "", ""), "", "users[0].user.as-user-extra", "impersonation"},
		{"exec null", kubeconfigWith("", "exec: null", "", ""), "", "users[0].user.exec", "credential plugins"},
		{"user extensions", kubeconfigWith("", "extensions:\n- name: x\n  extension: {a: b}", "", ""), "", "users[0].user.extensions", "extensions are not accepted"},
		{"cluster extensions", kubeconfigWith("extensions:\n- name: x\n  extension: {a: b}", "", "", ""), "", "clusters[0].cluster.extensions", "extensions are not accepted"},
		{"context extensions", kubeconfigWith("", "", "extensions:\n- name: x\n  extension: {a: b}", ""), "", "contexts[0].context.extensions", "extensions are not accepted"},
		{"top extensions", kubeconfigWith("", "", "", "extensions:\n- name: x\n  extension: {a: b}\n"), "", "extensions", "extensions are not accepted"},
		{"preferences", kubeconfigWith("", "", "", "preferences: {colors: true}\n"), "", "preferences", "not accepted"},
		// Unknown keys, wherever they are.
		{"unknown user key", kubeconfigWith("", "foo: bar", "", ""), "", "users[0].user.foo", "not an accepted field"},
		{"unknown key in other case", kubeconfigWith("", "TokenFile: /etc/shadow", "", ""), "", "users[0].user.TokenFile", "not an accepted field"},
		{"unknown cluster key", kubeconfigWith("foo: bar", "", "", ""), "", "clusters[0].cluster.foo", "not an accepted field"},
		{"unknown context key", kubeconfigWith("", "", "foo: bar", ""), "", "contexts[0].context.foo", "not an accepted field"},
		{"unknown top key", kubeconfigWith("", "", "", "foo: bar\n"), "", "foo", "not an accepted field"},
		{"unknown entry key", "users:\n- name: u\n  user: {}\n  foo: bar\n", "", "users[0].foo", "not an accepted field"},
		{"odd key", kubeconfigWith("", "\"a.b\\n\": x", "", ""), "", `users[0].user["a.b\n"]`, "not an accepted field"},
		// Values.
		{"wrong apiVersion", strings.Replace(kubeconfigWith("", "", "", ""), "apiVersion: v1", "apiVersion: v2", 1), "", "apiVersion", `must be "v1"`},
		{"wrong kind", strings.Replace(kubeconfigWith("", "", "", ""), "kind: Config", "kind: Pod", 1), "", "kind", `must be "Config"`},
		{"missing server", "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n", "", "clusters[0].cluster.server", "is missing"},
		{"missing cluster map", "clusters:\n- name: c\n", "", "clusters[0].cluster.server", "is missing"},
		{"missing name", "users:\n- user: {token: t}\n", "", "users[0].name", "is missing"},
		{"duplicate name", "users:\n- {name: u, user: {}}\n- {name: u, user: {}}\n", "", "users[1].name", "also the name of users[0]"},
		{"server userinfo", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example", "https://admin:pw@k8s.example", 1), "", "clusters[0].cluster.server", "user name or password"},
		{"server scheme", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example", "file:///etc/shadow", 1), "", "clusters[0].cluster.server", "https:// or http://"},
		{"server unix", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example:6443", "unix:///var/run/docker.sock", 1), "", "clusters[0].cluster.server", "https:// or http://"},
		{"server no scheme", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example:6443", "k8s.example:6443", 1), "", "clusters[0].cluster.server", "https:// or http://"},
		{"server no host", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example:6443", "https:///path", 1), "", "clusters[0].cluster.server", "must name a host"},
		{"server query", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example:6443", "https://k8s.example/?a=b", 1), "", "clusters[0].cluster.server", "query or fragment"},
		{"server fragment", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example:6443", "'https://k8s.example/#x'", 1), "", "clusters[0].cluster.server", "query or fragment"},
		{"server number", strings.Replace(kubeconfigWith("", "", "", ""), "https://k8s.example:6443", "6443", 1), "", "clusters[0].cluster.server", "must be a string, not a number"},
		{"insecure string", kubeconfigWith("insecure-skip-tls-verify: 'true'", "", "", ""), "", "clusters[0].cluster.insecure-skip-tls-verify", "must be true or false"},
		{"insecure with ca", expand(kubeconfigWith("insecure-skip-tls-verify: true\ncertificate-authority-data: $CA", "", "", "")), "", "clusters[0].cluster.insecure-skip-tls-verify", "certificate-authority-data"},
		{"token number", strings.Replace(kubeconfigWith("", "", "", ""), "token: tok", "token: 12", 1), "", "users[0].user.token", "must be a string"},
		{"token newline", strings.Replace(kubeconfigWith("", "", "", ""), "token: tok", "token: \"a\\r\\nX-Evil: 1\"", 1), "", "users[0].user.token", "control characters"},
		{"clusters map", "clusters: {c: {server: https://k8s.example}}\n", "", "clusters", "must be a list"},
		{"entry string", "users:\n- u\n", "", "users[0]", "must be a map"},
		{"name list", "users:\n- {name: [u], user: {}}\n", "", "users[0].name", "must be a string"},
		{"user string", "users:\n- {name: u, user: token}\n", "", "users[0].user", "must be a map"},
		{"ca bad base64", kubeconfigWith("certificate-authority-data: 'not base64!'", "", "", ""), "", "clusters[0].cluster.certificate-authority-data", "not valid base64"},
		{"ca not pem", kubeconfigWith("certificate-authority-data: aGVsbG8=", "", "", ""), "", "clusters[0].cluster.certificate-authority-data", "no PEM CERTIFICATE block"},
		{"ca key block", expand(kubeconfigWith("certificate-authority-data: $KEY", "", "", "")), "", "clusters[0].cluster.certificate-authority-data", "only CERTIFICATE blocks"},
		{"ca bad der", kubeconfigWith("certificate-authority-data: "+base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})), "", "", ""), "", "clusters[0].cluster.certificate-authority-data", "does not parse"},
		{"cert bad base64", kubeconfigWith("", "client-certificate-data: '%%%'\nclient-key-data: '%%%'", "", ""), "", "users[0].user.client-certificate-data", "not valid base64"},
		{"key not pem", expand(kubeconfigWith("", "client-certificate-data: $CERT\nclient-key-data: $CERT", "", "")), "", "users[0].user.client-key-data", "no PEM private key"},
		{"cert without key", expand(kubeconfigWith("", "client-certificate-data: $CERT", "", "")), "", "users[0].user.client-key-data", "is missing"},
		{"key without cert", expand(kubeconfigWith("", "client-key-data: $KEY", "", "")), "", "users[0].user.client-certificate-data", "is missing"},
		{"key of another cert", expand(kubeconfigWith("", "client-certificate-data: $CERT\nclient-key-data: $OTHERKEY", "", "")), "", "users[0].user.client-key-data", "does not go with client-certificate-data"},
		// Contexts.
		{"context name missing", kubeconfigWith("", "", "", ""), "nope", "contexts", `context "nope" is not in the kubeconfig`},
		{"current context missing", strings.Replace(kubeconfigWith("", "", "", ""), "current-context: ctx", "current-context: gone", 1), "", "current-context", `context "gone"`},
		{"context cluster missing", strings.Replace(kubeconfigWith("", "", "", ""), "cluster: c\n", "cluster: other\n", 1), "", "contexts[0].context.cluster", `cluster "other" is not in the kubeconfig`},
		{"context user missing", strings.Replace(kubeconfigWith("", "", "", ""), "user: u\n", "user: other\n", 1), "", "contexts[0].context.user", `user "other" is not in the kubeconfig`},
		{"context without user", "clusters:\n- {name: c, cluster: {server: 'https://a'}}\ncontexts:\n- {name: x, context: {cluster: c}}\n", "", "contexts[0].context.user", "is missing"},
		{"no contexts", "clusters:\n- {name: c, cluster: {server: 'https://a'}}\n", "", "contexts", "is empty"},
		{"two contexts no current", "contexts:\n- {name: a, context: {}}\n- {name: b, context: {}}\n", "", "current-context", "there are 2 contexts"},
		// The document as a whole.
		{"oversized", kubeconfigWith("", "", "", "# "+strings.Repeat("x", MaxKubeconfigBytes)+"\n"), "", "", "at most 1048576 are accepted"},
		{"too many entries", kubeconfigEntries(maxKubeconfigEntries + 1), "", "clusters", "has 65 entries; at most 64"},
		{"alias bomb", aliasBomb(), "", "x0", "anchors and aliases are not accepted"},
		{"alias", "clusters:\n- name: c\n  cluster: &c {server: 'https://a'}\n- name: d\n  cluster: *c\n", "", "clusters[0].cluster", "anchors and aliases"},
		{"merge key", "clusters:\n- name: c\n  cluster:\n    <<: {server: 'https://a', certificate-authority: /etc/shadow}\n", "", "clusters[0].cluster", "merge keys"},
		{"tag", strings.Replace(kubeconfigWith("", "", "", ""), "token: tok", "token: !!binary aGVsbG8=", 1), "", "users[0].user.token", "tags are not accepted"},
		{"duplicate key", kubeconfigWith("", "token: again", "", ""), "", "users[0].user.token", "more than once"},
		{"complex key", "? [a, b]\n: c\n", "", "", "keys must be strings"},
		{"deep nesting", "foo: " + strings.Repeat("[", maxKubeconfigDepth) + strings.Repeat("]", maxKubeconfigDepth) + "\n", "", "foo" + strings.Repeat("[0]", maxKubeconfigDepth-1), "deeper than 32 levels"},
		{"very deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "", "", "not valid YAML"},
		{"two documents", kubeconfigWith("", "", "", "") + "---\n" + kubeconfigWith("", "", "", ""), "", "", "more than one YAML document"},
		{"empty", "", "", "", "document is empty"},
		{"comment only", "# nothing\n", "", "", "document is empty"},
		{"list", "- a\n- b\n", "", "", "must be a map, not a list"},
		{"scalar", "hello", "", "", "must be a map, not a string"},
		{"syntax", "a: [b\n", "", "", "not valid YAML"},
	}
}

func wantKubeconfigError(t *testing.T, err error, field, reason string) {
	t.Helper()
	var ke *KubeconfigError
	if !errors.As(err, &ke) {
		t.Fatalf("got error %v; want a *KubeconfigError", err)
	}
	if ke.Field != field {
		t.Errorf("got field %q; want %q (error %q)", ke.Field, field, err)
	}
	if !strings.Contains(ke.Reason, reason) {
		t.Errorf("got reason %q; want it to hold %q", ke.Reason, reason)
	}
	if want := "kubeconfig: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got message %q; want the prefix %q", err, want)
	}
}

func TestValidateKubeconfigAccepted(t *testing.T) {
	for _, c := range acceptedKubeconfigs() {
		t.Run(c.name, func(t *testing.T) {
			rc, err := ValidateKubeconfig(c.doc, c.context)
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			checkRESTConfig(t, rc, &c.want)
		})
	}
}

// checkRESTConfig compares the fields ValidateKubeconfig sets, and checks
// that it sets no other.
func checkRESTConfig(t *testing.T, got, want *rest.Config) {
	t.Helper()
	if got.Host != want.Host {
		t.Errorf("got Host %q; want %q", got.Host, want.Host)
	}
	if got.BearerToken != want.BearerToken {
		t.Errorf("got BearerToken %q; want %q", got.BearerToken, want.BearerToken)
	}
	if got.DisableCompression != want.DisableCompression {
		t.Errorf("got DisableCompression %v; want %v", got.DisableCompression, want.DisableCompression)
	}
	g, w := got.TLSClientConfig, want.TLSClientConfig
	if g.Insecure != w.Insecure || g.ServerName != w.ServerName {
		t.Errorf("got Insecure %v, ServerName %q; want %v, %q", g.Insecure, g.ServerName, w.Insecure, w.ServerName)
	}
	if !bytes.Equal(g.CAData, w.CAData) || !bytes.Equal(g.CertData, w.CertData) || !bytes.Equal(g.KeyData, w.KeyData) {
		t.Errorf("got CAData %d bytes, CertData %d, KeyData %d; want %d, %d, %d",
			len(g.CAData), len(g.CertData), len(g.KeyData), len(w.CAData), len(w.CertData), len(w.KeyData))
	}
	if err := onlyInline(got); err != nil {
		t.Error(err)
	}
}

// onlyInline says which field of rc could reach a file, a program, a proxy or
// another identity.
func onlyInline(rc *rest.Config) error {
	switch {
	case rc.Host == "":
		return errors.New("got an empty Host; want the server")
	case rc.ExecProvider != nil:
		return errors.New("got an ExecProvider; want none")
	case rc.AuthProvider != nil:
		return errors.New("got an AuthProvider; want none")
	case rc.BearerTokenFile != "":
		return fmt.Errorf("got BearerTokenFile %q; want none", rc.BearerTokenFile)
	case rc.CAFile != "" || rc.CertFile != "" || rc.KeyFile != "":
		return fmt.Errorf("got CAFile %q, CertFile %q, KeyFile %q; want none", rc.CAFile, rc.CertFile, rc.KeyFile)
	case rc.Username != "" || rc.Password != "":
		return errors.New("got basic authentication; want none")
	case rc.Impersonate.UserName != "" || rc.Impersonate.UID != "" || len(rc.Impersonate.Groups) > 0 || len(rc.Impersonate.Extra) > 0:
		return errors.New("got impersonation; want none")
	case rc.Proxy != nil || rc.Dial != nil || rc.WrapTransport != nil || rc.Transport != nil:
		return errors.New("got a proxy, dialer or transport; want none")
	}
	return nil
}

func TestValidateKubeconfigRefused(t *testing.T) {
	for _, c := range refusedKubeconfigs() {
		t.Run(c.name, func(t *testing.T) {
			rc, err := ValidateKubeconfig(c.doc, c.context)
			if rc != nil {
				t.Errorf("got a REST config for host %q; want none", rc.Host)
			}
			wantKubeconfigError(t, err, c.field, c.reason)
		})
	}
}

// TestValidateKubeconfigExec checks that a credential plugin is refused and
// never run, where clientcmd would have configured it.
func TestValidateKubeconfigExec(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	doc := kubeconfigWith("", fmt.Sprintf("exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: /bin/sh\n  args: [-c, 'echo pwned > %s']\n  interactiveMode: Never", marker), "", "")

	raw, err := clientcmd.Load([]byte(doc))
	if err != nil {
		t.Fatalf("clientcmd.Load: %v", err)
	}
	old, err := clientcmd.NewNonInteractiveClientConfig(*raw, "", &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		t.Fatalf("clientcmd ClientConfig: %v", err)
	}
	if old.ExecProvider == nil || old.ExecProvider.Command != "/bin/sh" {
		t.Fatalf("got clientcmd ExecProvider %+v; want /bin/sh, or the test proves nothing", old.ExecProvider)
	}

	rc, err := ValidateKubeconfig(doc, "")
	if rc != nil {
		t.Errorf("got a REST config; want none")
	}
	wantKubeconfigError(t, err, "users[0].user.exec", "credential plugins are not accepted from the API")
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v for the marker file; want it not to exist: the plugin ran", err)
	}
}

// TestValidateKubeconfigFiles checks that fields naming files are refused
// with the same message whether the file exists or not, and that the file's
// content never shows, where clientcmd would have read it.
func TestValidateKubeconfigFiles(t *testing.T) {
	const secret = "server-admin-token-0123456789"
	for _, field := range []string{"tokenFile", "client-certificate", "client-key", "certificate-authority"} {
		t.Run(field, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			var doc, wantField string
			if field == "certificate-authority" {
				doc, wantField = kubeconfigWith(field+": "+path, "", "", ""), "clusters[0].cluster."+field
			} else {
				doc, wantField = kubeconfigWith("", field+": "+path, "", ""), "users[0].user."+field
			}
			if field == "tokenFile" {
				raw, err := clientcmd.Load([]byte(strings.Replace(doc, "    token: tok\n", "", 1)))
				if err != nil {
					t.Fatalf("clientcmd.Load: %v", err)
				}
				old, err := clientcmd.NewNonInteractiveClientConfig(*raw, "", &clientcmd.ConfigOverrides{}, nil).ClientConfig()
				if err != nil {
					t.Fatalf("clientcmd ClientConfig: %v", err)
				}
				if old.BearerToken != secret {
					t.Fatalf("got clientcmd BearerToken %q; want the file's secret, or the test proves nothing", old.BearerToken)
				}
			}

			_, errExists := ValidateKubeconfig(doc, "")
			wantKubeconfigError(t, errExists, wantField, "names a file on the server; only inline credentials are accepted")
			if strings.Contains(errExists.Error(), secret) {
				t.Errorf("got message %q; want it not to hold the file's content", errExists)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			_, errGone := ValidateKubeconfig(doc, "")
			if errExists.Error() != errGone.Error() {
				t.Errorf("got %q for a file that exists and %q for one that does not; want them the same", errExists, errGone)
			}
		})
	}
}

// TestValidateKubeconfigLikeClientcmd checks that what clientcmd.Write emits
// from inline data is accepted and gives the REST config clientcmd gives.
func TestValidateKubeconfigLikeClientcmd(t *testing.T) {
	p := kubeconfigPEM()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://prod.example:6443", CertificateAuthorityData: p.ca, TLSServerName: "api.prod"}
	cfg.Clusters["dev"] = &clientcmdapi.Cluster{Server: "https://dev.example", InsecureSkipTLSVerify: true}
	cfg.AuthInfos["cert"] = &clientcmdapi.AuthInfo{ClientCertificateData: p.cert, ClientKeyData: p.key}
	cfg.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: "sa-token"}
	cfg.AuthInfos["both"] = &clientcmdapi.AuthInfo{Token: "t2", ClientCertificateData: p.cert, ClientKeyData: p.key}
	cfg.Contexts["prod-cert"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "cert", Namespace: "logs"}
	cfg.Contexts["prod-both"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "both"}
	cfg.Contexts["dev-token"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: "token"}
	cfg.CurrentContext = "dev-token"
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatalf("clientcmd.Write: %v", err)
	}
	for _, name := range []string{"", "prod-cert", "prod-both", "dev-token"} {
		t.Run("context "+name, func(t *testing.T) {
			want, err := clientcmd.NewNonInteractiveClientConfig(*cfg, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
			if err != nil {
				t.Fatalf("clientcmd ClientConfig: %v", err)
			}
			got, err := ValidateKubeconfig(string(out), name)
			if err != nil {
				t.Fatalf("got error %v for\n%s; want none", err, out)
			}
			checkRESTConfig(t, got, want)
		})
	}
}

func BenchmarkValidateKubeconfig(b *testing.B) {
	doc := expand(kubeconfigWith("certificate-authority-data: $CA\ntls-server-name: api.internal", "client-certificate-data: $CERT\nclient-key-data: $KEY", "namespace: logs", ""))
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := ValidateKubeconfig(doc, ""); err != nil {
			b.Fatal(err)
		}
	}
}
