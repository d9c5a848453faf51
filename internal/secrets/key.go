package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// keyFormat says what a key must look like, for error messages.
const keyFormat = "want 32 random bytes as base64 (44 characters, as `openssl rand -base64 32` prints) or as 64 hex digits"

// GenerateKey returns a new random key of KeySize bytes.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	return key, nil
}

// EncodeKey returns key as padded standard base64, the form key files hold
// and ParseKey reads.
func EncodeKey(key []byte) string {
	return base64.StdEncoding.EncodeToString(key)
}

// ParseKey decodes one key: KeySize bytes as base64 (standard or URL
// alphabet, with or without padding) or as hex. Surrounding whitespace is
// ignored. The error says what is expected and never holds the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty secret key; %s", keyFormat)
	}
	if len(s) == hex.EncodedLen(KeySize) {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	// The decoder skips line breaks; a key has none.
	key, err := enc.DecodeString(strings.TrimRight(s, "="))
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("secret key of %d characters is neither base64 nor hex; %s", len(s), keyFormat)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key decodes to %d bytes; %s", len(key), keyFormat)
	}
	return key, nil
}

// parseKeys decodes the keys of a key file or of the environment variable:
// keys separated by newlines or commas, the current one first. Blank lines
// and lines that start with # are ignored. Errors name the key by its
// position, never by its text.
func parseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for field := range strings.SplitSeq(line, ",") {
			if strings.TrimSpace(field) == "" {
				continue
			}
			key, err := ParseKey(field)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", len(keys)+1, err)
			}
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no secret key; %s", keyFormat)
	}
	return keys, nil
}
