package apps

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Errors of Signer.Verify.
var (
	ErrBadLink     = errors.New("link signature does not verify")
	ErrExpiredLink = errors.New("link expired")
)

// keySize is the size of the HMAC key.
const keySize = 32

// Link is what a signed link grants: one tenant's logs of one selection,
// downloaded or followed, until Expires.
type Link struct {
	Request Request
	// Live links stream new lines; others download the lines so far.
	Live    bool
	Expires time.Time
}

// linkPayload is the signed JSON of a link.
type linkPayload struct {
	Tenant     string `json:"t"`
	App        string `json:"a"`
	Deployment string `json:"d"`
	Component  string `json:"c,omitempty"`
	Type       string `json:"y"`
	Live       bool   `json:"l,omitempty"`
	Expires    int64  `json:"e"`
}

// Signer signs and verifies links with an HMAC-SHA256 key. Its methods may
// be called concurrently.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer with key (at least 32 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < keySize {
		return nil, fmt.Errorf("apps: link key must have at least %d bytes", keySize)
	}
	return &Signer{key: key}, nil
}

// LoadOrCreateKey reads the link key from path, or, when the file does not
// exist, generates a random one and writes it there with mode 0600.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the link key in the operator's data directory
	if err == nil {
		if len(b) < keySize {
			return nil, fmt.Errorf("link key %s is shorter than %d bytes; delete it to generate a new one", path, keySize)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read link key: %w", err)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the link key in the operator's data directory
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(path) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("write link key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write link key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write link key: %w", err)
	}
	return key, f.Close()
}

// Sign returns the link's token: base64url(JSON) "." base64url(HMAC).
func (s *Signer) Sign(l Link) string {
	p := linkPayload{Tenant: l.Request.Tenant, App: l.Request.AppID, Deployment: l.Request.DeploymentID,
		Component: l.Request.Component, Type: string(l.Request.Type), Live: l.Live, Expires: l.Expires.Unix()}
	b, _ := json.Marshal(p)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body))
}

func (s *Signer) mac(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("kubelog-apps-link-v1\n"))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks a token's signature and expiry at now and returns its link.
func (s *Signer) Verify(token string, now time.Time) (Link, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Link{}, ErrBadLink
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(body)) {
		return Link{}, ErrBadLink
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Link{}, ErrBadLink
	}
	var p linkPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Link{}, ErrBadLink
	}
	typ, err := ParseType(p.Type)
	if err != nil || p.Tenant == "" || p.App == "" || p.Deployment == "" {
		return Link{}, ErrBadLink
	}
	l := Link{Request: Request{Tenant: p.Tenant, AppID: p.App, DeploymentID: p.Deployment, Component: p.Component, Type: typ},
		Live: p.Live, Expires: time.Unix(p.Expires, 0)}
	if !now.Before(l.Expires) {
		return Link{}, ErrExpiredLink
	}
	return l, nil
}
