// Package secrets seals the secrets kubelog keeps in its metadata database
// (cluster credentials, S3 secret access keys) with AES-256-GCM, so that the
// database files, their backups and their copies do not hold them in plain
// text.
//
// A sealed value is a string:
//
//	kls1:<key id>:<base64url(nonce || ciphertext)>
//
// where the key id is the first 8 bytes of SHA-256 of the key, in hex, and
// the nonce is 12 random bytes. The additional data of the AEAD is the value's
// place, such as "cluster_configs.kubeconfig:<id>", so a sealed value copied
// into another row does not open.
//
// A Keyring seals with its current key and opens with any of its keys: after
// a rotation the old key opens what was sealed before until everything is
// re-sealed with Reseal, which also seals the plain-text values an earlier
// version stored. Load finds the keys as kubelog serve does (key file,
// environment variable or the generated <data-dir>/secret.key);
// RotateDataDirKey and DropOldKeys rotate the generated key.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// sealedPrefix starts every sealed value; the 1 is the format version.
const sealedPrefix = "kls1:"

const (
	idLen    = 16 // hex digits of a key id
	nonceLen = 12
	tagLen   = 16
)

// ErrUnknownKey is returned, wrapped, by Open when the value was sealed with
// a key that the keyring does not hold.
var ErrUnknownKey = errors.New("sealed with a secret key that is not loaded")

// ErrNotAuthentic is returned, wrapped, by Open when the value does not
// authenticate: it was tampered with or truncated, or sealed for another
// place.
var ErrNotAuthentic = errors.New("sealed value cannot be authenticated (tampered with, or sealed for another place)")

// ErrMalformed is returned, wrapped, by Open when the string is not a
// sealed value at all.
var ErrMalformed = errors.New("not a sealed value")

// errNoKeyring is returned when a method is called on a nil or zero
// *Keyring.
var errNoKeyring = errors.New("no secret key is loaded")

// Keyring seals with one key and opens with several. Make one with
// NewKeyring or Load; the zero Keyring holds no key and fails every Seal and
// Open. It is immutable and safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	// ids lists the key ids, the current one first.
	ids    []string
	source KeySource
	// path is the key file Load read or wrote; empty for other sources.
	path string
}

// NewKeyring returns a keyring that seals with current and opens with
// current and others. Each key must be KeySize bytes; duplicates are
// ignored.
func NewKeyring(current []byte, others ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, others...) {
		if err := k.add(key); err != nil {
			return nil, fmt.Errorf("secret key %d: %w", i+1, err)
		}
	}
	k.current = k.ids[0]
	return k, nil
}

func (k *Keyring) add(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("got %d bytes; want %d", len(key), KeySize)
	}
	id := KeyID(key)
	if _, ok := k.aeads[id]; ok {
		return nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("new gcm: %w", err)
	}
	k.aeads[id] = aead
	k.ids = append(k.ids, id)
	return nil
}

// WithCurrent returns a keyring that seals with key and opens with key and
// every key of k; k does not change. Its Source and SourcePath are k's.
func (k *Keyring) WithCurrent(key []byte) (*Keyring, error) {
	if !k.usable() {
		return nil, errNoKeyring
	}
	n := &Keyring{aeads: map[string]cipher.AEAD{}, source: k.source, path: k.path}
	if err := n.add(key); err != nil {
		return nil, fmt.Errorf("new secret key: %w", err)
	}
	for _, id := range k.ids {
		if _, ok := n.aeads[id]; !ok {
			n.aeads[id] = k.aeads[id]
			n.ids = append(n.ids, id)
		}
	}
	n.current = n.ids[0]
	return n, nil
}

// usable reports whether k holds a key: it is not nil nor the zero Keyring.
func (k *Keyring) usable() bool {
	return k != nil && k.current != ""
}

// KeyID returns the id of a key: the first 8 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:idLen/2])
}

// CurrentID returns the id of the key Seal uses.
func (k *Keyring) CurrentID() string {
	if k == nil {
		return ""
	}
	return k.current
}

// IDs returns the ids of the keys Open can use, the current one first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// Source tells where Load found the keys, for a startup log line; empty for
// a keyring made with NewKeyring.
func (k *Keyring) Source() KeySource {
	if k == nil {
		return ""
	}
	return k.source
}

// SourcePath returns the key file Load read the keys from or generated;
// empty when they came from the environment or NewKeyring.
func (k *Keyring) SourcePath() string {
	if k == nil {
		return ""
	}
	return k.path
}

// Seal encrypts plaintext with the current key for the place named by
// context (such as "cluster_configs.kubeconfig:<id>"); Open must be given
// the same context.
func (k *Keyring) Seal(plaintext []byte, context string) (string, error) {
	if !k.usable() {
		return "", fmt.Errorf("seal %s: %w", context, errNoKeyring)
	}
	aead := k.aeads[k.current]
	buf := make([]byte, nonceLen, nonceLen+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal %s: nonce: %w", context, err)
	}
	buf = aead.Seal(buf, buf[:nonceLen], plaintext, []byte(context))
	return sealedPrefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value sealed for context. A value sealed with a key the
// keyring lacks is ErrUnknownKey (the message names the key id); one that
// does not authenticate is ErrNotAuthentic; a string that is not a sealed
// value is ErrMalformed. Any input is safe.
func (k *Keyring) Open(sealed, context string) ([]byte, error) {
	if !k.usable() {
		return nil, fmt.Errorf("open sealed %s: %w", context, errNoKeyring)
	}
	id, raw, ok := parse(sealed)
	if !ok {
		return nil, fmt.Errorf("open sealed %s: %w", context, ErrMalformed)
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("open sealed %s: key id %s is not among the loaded ones (%s): %w",
			context, id, strings.Join(k.ids, ", "), ErrUnknownKey)
	}
	plain, err := aead.Open(nil, raw[:nonceLen], raw[nonceLen:], []byte(context))
	if err != nil {
		return nil, fmt.Errorf("open sealed %s with key id %s: %w", context, id, ErrNotAuthentic)
	}
	return plain, nil
}

// Reseal returns value sealed for context with the current key, and whether
// that differs from value, for migrating the rows of a table: a value
// sealed with an older key of the keyring is opened and sealed again; a
// plain-text value (one IsSealed rejects, as earlier versions stored) is
// sealed; a value already sealed with the current key is returned as it is,
// after checking that it opens. The empty string means "not set" and stays
// empty. A sealed value that does not open is an error, as from Open.
func (k *Keyring) Reseal(value, context string) (string, bool, error) {
	if value == "" {
		return "", false, nil
	}
	if !IsSealed(value) {
		sealed, err := k.Seal([]byte(value), context)
		if err != nil {
			return "", false, err
		}
		return sealed, true, nil
	}
	plain, err := k.Open(value, context)
	if err != nil {
		return "", false, err
	}
	if k.SealedWithCurrent(value) {
		return value, false, nil
	}
	sealed, err := k.Seal(plain, context)
	if err != nil {
		return "", false, err
	}
	return sealed, true, nil
}

// SealedWithCurrent reports whether s is a sealed value whose key is the
// current one (so a re-seal would not change its key).
func (k *Keyring) SealedWithCurrent(s string) bool {
	id, _, ok := parse(s)
	return ok && k.usable() && id == k.current
}

// IsSealed reports whether s has the form of a sealed value. It does not
// tell whether the value opens.
func IsSealed(s string) bool {
	_, _, ok := parse(s)
	return ok
}

// SealedKeyID returns the key id of a sealed value.
func SealedKeyID(s string) (string, bool) {
	id, _, ok := parse(s)
	return id, ok
}

// parse splits a sealed value into its key id and nonce||ciphertext. It
// accepts only the canonical form: lowercase hex id, unpadded base64url
// without line breaks, at least a nonce and a tag.
func parse(s string) (id string, raw []byte, ok bool) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok || len(rest) < idLen+1 || rest[idLen] != ':' {
		return "", nil, false
	}
	id, body := rest[:idLen], rest[idLen+1:]
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", nil, false
		}
	}
	if strings.ContainsAny(body, "\r\n") {
		return "", nil, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < nonceLen+tagLen {
		return "", nil, false
	}
	return id, raw, true
}
