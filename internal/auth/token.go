package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/kubelog/kubelog/internal/meta"
)

// TokenPrefix starts every kubelog token, so that secret scanners and people
// can tell one apart.
const TokenPrefix = "klg_"

// secretBytes is the entropy in a token.
const secretBytes = 32

// tokenLen is the length of a token string: the prefix and the unpadded
// base64url form of the secret.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// maxTokenNameLen bounds a token's name.
const maxTokenNameLen = 128

// TokenSpec describes a token to issue.
type TokenSpec struct {
	Tenant string
	// Name labels the token; it is unique among the tenant's live tokens.
	Name   string
	Scopes Scopes
	// TTL is how long the token is valid; 0 means it never expires.
	TTL time.Duration
}

// Validate checks the spec before anything is written.
func (s TokenSpec) Validate() error {
	if err := ValidateTenant(s.Tenant); err != nil {
		return err
	}
	if s.Name == "" || len(s.Name) > maxTokenNameLen {
		return fmt.Errorf("token name must be 1 to %d bytes, got %d", maxTokenNameLen, len(s.Name))
	}
	if strings.IndexFunc(s.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("token name %q has unprintable characters", s.Name)
	}
	if s.Scopes == 0 {
		return fmt.Errorf("token needs at least one scope")
	}
	if s.TTL < 0 {
		return fmt.Errorf("token ttl must not be negative, got %v", s.TTL)
	}
	return nil
}

// IssueToken creates a token in db, created at now, and returns its secret
// (shown to the user once; only its hash is stored) and its row. The tenant
// must exist (meta.ErrNotFound otherwise); a live token of the same name is
// meta.ErrConflict.
func IssueToken(ctx context.Context, db *meta.DB, now time.Time, spec TokenSpec) (string, meta.Token, error) {
	secret := generateToken()
	tok, err := storeToken(ctx, db, now, spec, secret)
	if err != nil {
		return "", meta.Token{}, fmt.Errorf("issue token: %w", err)
	}
	return secret, tok, nil
}

// storeToken validates spec and stores a token with the given secret.
func storeToken(ctx context.Context, db *meta.DB, now time.Time, spec TokenSpec, secret string) (meta.Token, error) {
	if err := spec.Validate(); err != nil {
		return meta.Token{}, err
	}
	var id [8]byte
	rand.Read(id[:])
	tok := meta.Token{
		ID:        hex.EncodeToString(id[:]),
		Tenant:    spec.Tenant,
		Name:      spec.Name,
		Hash:      hashToken(secret),
		Scopes:    spec.Scopes.String(),
		CreatedAt: now.UTC(),
	}
	if spec.TTL > 0 {
		tok.ExpiresAt = tok.CreatedAt.Add(spec.TTL)
	}
	if err := db.CreateToken(ctx, tok); err != nil {
		return meta.Token{}, err
	}
	return tok, nil
}

// generateToken returns a fresh token: TokenPrefix and 32 random bytes in
// base64url.
func generateToken() string {
	var b [secretBytes]byte
	rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead.
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken returns the form a token is stored and looked up by: the
// lowercase hex SHA-256 of the whole token string.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether s has the shape of a token: one generateToken
// makes, or an imported one (see ImportToken), so that garbage is rejected
// without a database lookup.
func wellFormed(s string) bool {
	if strings.HasPrefix(s, TokenPrefix) {
		if len(s) != tokenLen {
			return false
		}
		_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(TokenPrefix):])
		return err == nil
	}
	return importable(s)
}

// Imported tokens are 20 to 256 characters of letters, digits and -._~+/=,
// so that the output of common secret generators fits.
const (
	minImportedLen = 20
	maxImportedLen = 256
)

func importable(s string) bool {
	if len(s) < minImportedLen || len(s) > maxImportedLen || strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			return false
		}
	}
	return true
}

// ImportToken stores a token whose secret the operator chose (for example
// the bootstrap admin token given to kubelog serve), and returns its row. The
// secret must be 20 to 256 characters of letters, digits and -._~+/=, or a
// token of kubelog's own form.
func ImportToken(ctx context.Context, db *meta.DB, now time.Time, spec TokenSpec, secret string) (meta.Token, error) {
	if !wellFormed(secret) {
		return meta.Token{}, fmt.Errorf("import token: the secret must be %d to %d characters of letters, digits and -._~+/=", minImportedLen, maxImportedLen)
	}
	tok, err := storeToken(ctx, db, now, spec, secret)
	if err != nil {
		return meta.Token{}, fmt.Errorf("import token: %w", err)
	}
	return tok, nil
}

// LookupSecret returns the stored token whose secret is s.
func LookupSecret(ctx context.Context, db *meta.DB, s string) (meta.Token, error) {
	return db.LookupTokenByHash(ctx, hashToken(s))
}
