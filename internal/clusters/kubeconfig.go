package clusters

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"
)

// Limits on a kubeconfig received over the API, checked before it is decoded.
const (
	// MaxKubeconfigBytes is the largest kubeconfig accepted; callers may cap
	// request bodies with it.
	MaxKubeconfigBytes = 1 << 20
	// maxKubeconfigEntries bounds each of clusters, users and contexts.
	maxKubeconfigEntries = 64
	// maxKubeconfigDepth bounds the nesting of maps and lists.
	maxKubeconfigDepth = 32
)

// KubeconfigError says why a kubeconfig from the API is refused. Field is the
// path of the offending field, such as "users[0].user.exec", or empty when
// the document as a whole is at fault. No message ever depends on the
// server's filesystem.
type KubeconfigError struct {
	Field  string
	Reason string
}

func (e *KubeconfigError) Error() string {
	if e.Field == "" {
		return "kubeconfig: " + e.Reason
	}
	return "kubeconfig: " + e.Field + ": " + e.Reason
}

// Reasons for fields that are known but refused.
const (
	inlineCredentials = "give inline credentials (token, client-certificate-data, client-key-data)"
	reasonFile        = "names a file on the server; only inline credentials are accepted"
	reasonExtensions  = "extensions are not accepted from the API"
)

// Fields a kubeconfig may hold, by place; every other key is refused.
var (
	topFields     = []string{"apiVersion", "kind", "clusters", "contexts", "users", "current-context", "preferences"}
	entryFields   = []string{"name"}
	clusterFields = []string{"server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name", "disable-compression"}
	userFields    = []string{"token", "client-certificate-data", "client-key-data"}
	contextFields = []string{"cluster", "user", "namespace"}
)

// refusedUserFields explains why each credential field client-go knows but
// the API refuses is refused.
var refusedUserFields = map[string]string{
	"tokenFile":          reasonFile + "; give token",
	"client-certificate": reasonFile + "; give client-certificate-data",
	"client-key":         reasonFile + "; give client-key-data",
	"exec":               "credential plugins are not accepted from the API; " + inlineCredentials,
	"auth-provider":      "auth-provider plugins are not accepted from the API; " + inlineCredentials,
	"username":           "basic authentication is not accepted from the API; " + inlineCredentials,
	"password":           "basic authentication is not accepted from the API; " + inlineCredentials,
	"as":                 "impersonation is not accepted from the API",
	"as-uid":             "impersonation is not accepted from the API",
	"as-groups":          "impersonation is not accepted from the API",
	"as-user-extra":      "impersonation is not accepted from the API",
}

// refusedClusterFields explains why each cluster field client-go knows but
// the API refuses is refused.
var refusedClusterFields = map[string]string{
	"certificate-authority": reasonFile + "; give certificate-authority-data",
	"proxy-url":             "proxies are not accepted from the API; the server connects to the cluster directly",
}

// kubeCluster, kubeUser and kubeContext are the validated values of one entry.
type kubeCluster struct {
	server, serverName string
	caData             []byte
	insecure, noGzip   bool
}

type kubeUser struct {
	token             string
	certData, keyData []byte
}

type kubeContext struct {
	cluster, user string
}

// named is an entry of a kubeconfig list with the path it was read from.
type named[T any] struct {
	path string
	val  T
}

// kubeconfig is a validated kubeconfig.
type kubeconfig struct {
	clusters       map[string]named[kubeCluster]
	users          map[string]named[kubeUser]
	contexts       map[string]named[kubeContext]
	contextOrder   []string
	currentContext string
}

// ValidateKubeconfig checks a kubeconfig received over the API (YAML or JSON)
// against an allowlist of fields and returns the REST config of one of its
// contexts: contextName, else its current-context, else its only context.
//
// Only inline credentials are accepted: a cluster holds server,
// certificate-authority-data, insecure-skip-tls-verify, tls-server-name and
// disable-compression; a user holds token, client-certificate-data and
// client-key-data; a context holds cluster, user and namespace. Every other
// field, known to client-go or not, is refused, so nothing in the document can
// make the server read a file, run a program, use a proxy or impersonate.
// YAML anchors, aliases, merge keys and tags are refused, as are documents
// over MaxKubeconfigBytes, lists of more than 64 entries and nesting deeper
// than 32 levels.
//
// The REST config is built from the validated values alone; the document is
// never given to clientcmd. Every error is a *KubeconfigError.
func ValidateKubeconfig(doc, contextName string) (*rest.Config, error) {
	if len(doc) > MaxKubeconfigBytes {
		return nil, &KubeconfigError{Reason: fmt.Sprintf("document is %d bytes; at most %d are accepted", len(doc), MaxKubeconfigBytes)}
	}
	if err := checkYAMLShape(doc); err != nil {
		return nil, err
	}
	var root any
	if err := sigsyaml.Unmarshal([]byte(doc), &root); err != nil {
		return nil, &KubeconfigError{Reason: "not valid YAML or JSON: " + err.Error()}
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, &KubeconfigError{Reason: "must be a map, not " + typeName(root)}
	}
	kc, err := parseKubeconfig(m)
	if err != nil {
		return nil, err
	}
	return kc.restConfig(contextName)
}

// checkYAMLShape parses doc into YAML nodes, which expands no aliases, and
// refuses what a kubeconfig never needs and a decoder may choke on: several
// documents, anchors and aliases, merge keys, tags, non-string or duplicate
// keys, and deep nesting.
func checkYAMLShape(doc string) error {
	dec := yaml.NewDecoder(strings.NewReader(doc))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return &KubeconfigError{Reason: "document is empty"}
		}
		return &KubeconfigError{Reason: "not valid YAML or JSON: " + err.Error()}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return &KubeconfigError{Reason: "holds more than one YAML document"}
	}
	return checkNode(&root, "", 0)
}

// checkNode checks n, found at path and depth, and the nodes under it.
func checkNode(n *yaml.Node, path string, depth int) error {
	if depth > maxKubeconfigDepth {
		return &KubeconfigError{Field: path, Reason: fmt.Sprintf("nesting is deeper than %d levels", maxKubeconfigDepth)}
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return &KubeconfigError{Field: path, Reason: "YAML anchors and aliases are not accepted"}
	}
	if n.Style&yaml.TaggedStyle != 0 {
		return &KubeconfigError{Field: path, Reason: "YAML tags are not accepted"}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkNode(c, path, depth+1); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkNode(c, indexPath(path, i), depth+1); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		if len(n.Content)%2 != 0 {
			panic("BUG: YAML mapping node with an odd number of children")
		}
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return &KubeconfigError{Field: path, Reason: "map keys must be strings"}
			}
			if k.Tag == "!!merge" {
				return &KubeconfigError{Field: path, Reason: "YAML merge keys are not accepted"}
			}
			if err := checkNode(k, path, depth+1); err != nil {
				return err
			}
			p := keyPath(path, k.Value)
			if seen[k.Value] {
				return &KubeconfigError{Field: p, Reason: "appears more than once"}
			}
			seen[k.Value] = true
			if err := checkNode(v, p, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseKubeconfig checks the decoded document against the allowlist.
func parseKubeconfig(m map[string]any) (*kubeconfig, error) {
	kc := &kubeconfig{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err error
		switch k {
		case "apiVersion":
			err = wantConst(k, v, "v1")
		case "kind":
			err = wantConst(k, v, "Config")
		case "clusters":
			kc.clusters, _, err = parseEntries(k, v, "cluster", parseCluster)
		case "users":
			kc.users, _, err = parseEntries(k, v, "user", parseUser)
		case "contexts":
			kc.contexts, kc.contextOrder, err = parseEntries(k, v, "context", parseContext)
		case "current-context":
			kc.currentContext, err = getString(k, v)
		case "preferences":
			err = wantEmpty(k, v, "preferences are not accepted from the API")
		case "extensions":
			err = wantEmpty(k, v, reasonExtensions)
		default:
			err = unknownField(keyPath("", k), topFields)
		}
		if err != nil {
			return nil, err
		}
	}
	return kc, nil
}

// parseEntries checks a list of named entries: each a map of a name and a
// map under inner, which parse checks. It returns the entries by name and
// their names in document order.
func parseEntries[T any](field string, v any, inner string, parse func(path string, m map[string]any) (T, error)) (map[string]named[T], []string, error) {
	if v == nil {
		return nil, nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, nil, wrongType(field, "a list", v)
	}
	if len(list) > maxKubeconfigEntries {
		return nil, nil, &KubeconfigError{Field: field, Reason: fmt.Sprintf("has %d entries; at most %d are accepted", len(list), maxKubeconfigEntries)}
	}
	byName := make(map[string]named[T], len(list))
	order := make([]string, 0, len(list))
	for i, item := range list {
		path := indexPath(field, i)
		m, ok := item.(map[string]any)
		if !ok {
			return nil, nil, wrongType(path, "a map", item)
		}
		var name string
		var val T
		var haveInner bool
		for _, k := range sortedKeys(m) {
			var err error
			switch k {
			case "name":
				name, err = getString(keyPath(path, k), m[k])
			case inner:
				haveInner = true
				var im map[string]any
				if im, err = getMap(keyPath(path, k), m[k]); err == nil {
					val, err = parse(keyPath(path, k), im)
				}
			case "extensions":
				err = wantEmpty(keyPath(path, k), m[k], reasonExtensions)
			default:
				err = unknownField(keyPath(path, k), append(slices.Clip(entryFields), inner))
			}
			if err != nil {
				return nil, nil, err
			}
		}
		if name == "" {
			return nil, nil, &KubeconfigError{Field: keyPath(path, "name"), Reason: "is missing"}
		}
		if !haveInner {
			// An entry without its map is checked as an empty one, so a
			// cluster without a server is refused.
			var err error
			if val, err = parse(keyPath(path, inner), nil); err != nil {
				return nil, nil, err
			}
		}
		if prev, ok := byName[name]; ok {
			return nil, nil, &KubeconfigError{Field: keyPath(path, "name"), Reason: fmt.Sprintf("%s is also the name of %s", quoteValue(name), prev.path)}
		}
		byName[name] = named[T]{path: path, val: val}
		order = append(order, name)
	}
	return byName, order, nil
}

// parseCluster checks the map of a clusters[] entry.
func parseCluster(path string, m map[string]any) (kubeCluster, error) {
	var c kubeCluster
	for _, k := range sortedKeys(m) {
		p, v := keyPath(path, k), m[k]
		var err error
		switch k {
		case "server":
			if c.server, err = getString(p, v); err == nil {
				err = checkServer(p, c.server)
			}
		case "certificate-authority-data":
			if c.caData, err = getData(p, v); err == nil && c.caData != nil {
				err = checkCertificates(p, c.caData)
			}
		case "insecure-skip-tls-verify":
			c.insecure, err = getBool(p, v)
		case "tls-server-name":
			if c.serverName, err = getString(p, v); err == nil && strings.ContainsFunc(c.serverName, isSpaceOrControl) {
				err = &KubeconfigError{Field: p, Reason: "must not hold spaces or control characters"}
			}
		case "disable-compression":
			c.noGzip, err = getBool(p, v)
		case "extensions":
			err = wantEmpty(p, v, reasonExtensions)
		default:
			if reason, ok := refusedClusterFields[k]; ok {
				err = &KubeconfigError{Field: p, Reason: reason}
			} else {
				err = unknownField(p, clusterFields)
			}
		}
		if err != nil {
			return c, err
		}
	}
	if c.server == "" {
		return c, &KubeconfigError{Field: keyPath(path, "server"), Reason: "is missing"}
	}
	if c.insecure && c.caData != nil {
		return c, &KubeconfigError{Field: keyPath(path, "insecure-skip-tls-verify"), Reason: "cannot be true together with certificate-authority-data"}
	}
	return c, nil
}

// parseUser checks the map of a users[] entry.
func parseUser(path string, m map[string]any) (kubeUser, error) {
	var u kubeUser
	for _, k := range sortedKeys(m) {
		p, v := keyPath(path, k), m[k]
		var err error
		switch k {
		case "token":
			if u.token, err = getString(p, v); err == nil && strings.ContainsFunc(u.token, isSpaceOrControl) {
				err = &KubeconfigError{Field: p, Reason: "must not hold spaces or control characters"}
			}
		case "client-certificate-data":
			if u.certData, err = getData(p, v); err == nil && u.certData != nil {
				err = checkCertificates(p, u.certData)
			}
		case "client-key-data":
			if u.keyData, err = getData(p, v); err == nil && u.keyData != nil {
				err = checkPrivateKey(p, u.keyData)
			}
		case "extensions":
			err = wantEmpty(p, v, reasonExtensions)
		default:
			if reason, ok := refusedUserFields[k]; ok {
				err = &KubeconfigError{Field: p, Reason: reason}
			} else {
				err = unknownField(p, userFields)
			}
		}
		if err != nil {
			return u, err
		}
	}
	switch {
	case u.certData != nil && u.keyData == nil:
		return u, &KubeconfigError{Field: keyPath(path, "client-key-data"), Reason: "is missing; client-certificate-data needs it"}
	case u.certData == nil && u.keyData != nil:
		return u, &KubeconfigError{Field: keyPath(path, "client-certificate-data"), Reason: "is missing; client-key-data needs it"}
	case u.certData != nil:
		if _, err := tls.X509KeyPair(u.certData, u.keyData); err != nil {
			return u, &KubeconfigError{Field: keyPath(path, "client-key-data"), Reason: "does not go with client-certificate-data: " + err.Error()}
		}
	}
	return u, nil
}

// parseContext checks the map of a contexts[] entry.
func parseContext(path string, m map[string]any) (kubeContext, error) {
	var c kubeContext
	for _, k := range sortedKeys(m) {
		p, v := keyPath(path, k), m[k]
		var err error
		switch k {
		case "cluster":
			c.cluster, err = getString(p, v)
		case "user":
			c.user, err = getString(p, v)
		case "namespace":
			_, err = getString(p, v)
		case "extensions":
			err = wantEmpty(p, v, reasonExtensions)
		default:
			err = unknownField(p, contextFields)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// restConfig picks the context (contextName, else the current one, else the
// only one) and builds its REST config from validated values only.
func (kc *kubeconfig) restConfig(contextName string) (*rest.Config, error) {
	name, field := contextName, "contexts"
	switch {
	case name != "":
	case kc.currentContext != "":
		name, field = kc.currentContext, "current-context"
	case len(kc.contextOrder) == 1:
		name = kc.contextOrder[0]
	case len(kc.contextOrder) == 0:
		return nil, &KubeconfigError{Field: "contexts", Reason: "is empty; a context is needed"}
	default:
		return nil, &KubeconfigError{Field: "current-context", Reason: fmt.Sprintf("is not set and there are %d contexts; name one", len(kc.contextOrder))}
	}
	ctx, ok := kc.contexts[name]
	if !ok {
		return nil, &KubeconfigError{Field: field, Reason: fmt.Sprintf("context %s is not in the kubeconfig", quoteValue(name))}
	}
	if ctx.val.cluster == "" {
		return nil, &KubeconfigError{Field: ctx.path + ".context.cluster", Reason: "is missing"}
	}
	if ctx.val.user == "" {
		return nil, &KubeconfigError{Field: ctx.path + ".context.user", Reason: "is missing"}
	}
	cl, ok := kc.clusters[ctx.val.cluster]
	if !ok {
		return nil, &KubeconfigError{Field: ctx.path + ".context.cluster", Reason: fmt.Sprintf("cluster %s is not in the kubeconfig", quoteValue(ctx.val.cluster))}
	}
	u, ok := kc.users[ctx.val.user]
	if !ok {
		return nil, &KubeconfigError{Field: ctx.path + ".context.user", Reason: fmt.Sprintf("user %s is not in the kubeconfig", quoteValue(ctx.val.user))}
	}
	return &rest.Config{
		Host:               cl.val.server,
		BearerToken:        u.val.token,
		DisableCompression: cl.val.noGzip,
		TLSClientConfig: rest.TLSClientConfig{
			Insecure:   cl.val.insecure,
			ServerName: cl.val.serverName,
			CAData:     cl.val.caData,
			CertData:   u.val.certData,
			KeyData:    u.val.keyData,
		},
	}, nil
}

// checkServer accepts an http or https URL with a host and an optional path.
func checkServer(path, s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return &KubeconfigError{Field: path, Reason: "is not a URL"}
	case u.Scheme != "https" && u.Scheme != "http":
		return &KubeconfigError{Field: path, Reason: "must be an https:// or http:// URL"}
	case u.Opaque != "" || u.Hostname() == "":
		return &KubeconfigError{Field: path, Reason: "must name a host"}
	case u.User != nil:
		return &KubeconfigError{Field: path, Reason: "must not hold a user name or password"}
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return &KubeconfigError{Field: path, Reason: "must not hold a query or fragment"}
	}
	return nil
}

// checkCertificates accepts one or more PEM CERTIFICATE blocks that parse.
func checkCertificates(path string, data []byte) error {
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return &KubeconfigError{Field: path, Reason: fmt.Sprintf("holds a PEM %s block; only CERTIFICATE blocks are accepted", quoteValue(b.Type))}
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return &KubeconfigError{Field: path, Reason: fmt.Sprintf("certificate %d does not parse: %v", n+1, err)}
		}
		n++
	}
	if n == 0 {
		return &KubeconfigError{Field: path, Reason: "holds no PEM CERTIFICATE block"}
	}
	return nil
}

// checkPrivateKey accepts a PEM private key block; whether it goes with the
// certificate is checked by the caller.
func checkPrivateKey(path string, data []byte) error {
	b, _ := pem.Decode(data)
	if b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return &KubeconfigError{Field: path, Reason: "holds no PEM private key block"}
	}
	return nil
}

// getString returns v as a string; null is the empty string.
func getString(path string, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", wrongType(path, "a string", v)
}

// getBool returns v as a bool; null is false.
func getBool(path string, v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	}
	return false, wrongType(path, "true or false", v)
}

// getMap returns v as a map; null is an empty map.
func getMap(path string, v any) (map[string]any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	}
	return nil, wrongType(path, "a map", v)
}

// getData decodes v, a base64 string as client-go reads []byte fields; null
// and the empty string are nil.
func getData(path string, v any) ([]byte, error) {
	s, err := getString(path, v)
	if err != nil || s == "" {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &KubeconfigError{Field: path, Reason: "is not valid base64"}
	}
	return b, nil
}

// wantConst accepts v when absent or equal to want.
func wantConst(path string, v any, want string) error {
	s, err := getString(path, v)
	if err != nil {
		return err
	}
	if s != "" && s != want {
		return &KubeconfigError{Field: path, Reason: fmt.Sprintf("must be %q, not %s", want, quoteValue(s))}
	}
	return nil
}

// wantEmpty accepts v when null or an empty map or list, as client-go may
// write it, and refuses it for reason otherwise.
func wantEmpty(path string, v any, reason string) error {
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		if len(v) == 0 {
			return nil
		}
	case []any:
		if len(v) == 0 {
			return nil
		}
	}
	return &KubeconfigError{Field: path, Reason: reason}
}

func unknownField(path string, accepted []string) error {
	return &KubeconfigError{Field: path, Reason: "is not an accepted field; accepted here: " + strings.Join(accepted, ", ")}
}

func wrongType(path, want string, v any) error {
	return &KubeconfigError{Field: path, Reason: "must be " + want + ", not " + typeName(v)}
}

// typeName names the type of a decoded YAML value.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plainKey is a key that can stand in a field path as it is.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// keyPath appends key to a field path, quoting keys that are not plain.
func keyPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + quoteValue(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// quoteValue quotes a value from the document for an error message,
// shortened so a message stays small.
func quoteValue(s string) string {
	const maxRunes = 64
	n := 0
	for i := range s {
		if n == maxRunes {
			return fmt.Sprintf("%q...", s[:i])
		}
		n++
	}
	return fmt.Sprintf("%q", s)
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}
