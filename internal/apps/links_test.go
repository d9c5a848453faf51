package apps

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testSigner(t testing.TB, fill byte) *Signer {
	s, err := NewSigner(bytes.Repeat([]byte{fill}, keySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLinks(t *testing.T) {
	s := testSigner(t, 1)
	now := time.Unix(1_800_000_000, 0)
	l := Link{Request: Request{Tenant: "default", AppID: "a", DeploymentID: "d", Component: "web", Type: TypeRunRestarted}, Live: true, Expires: now.Add(time.Minute)}
	tok := s.Sign(l)
	got, err := s.Verify(tok, now)
	if err != nil || got != l {
		t.Fatalf("round trip: got %+v, %v; want %+v", got, err, l)
	}
	f := func(token string, at time.Time, want error) {
		t.Helper()
		if _, err := s.Verify(token, at); !errors.Is(err, want) {
			t.Fatalf("Verify(%q): got %v; want %v", token, err, want)
		}
	}
	f(tok, now.Add(time.Minute), ErrExpiredLink)
	f("", now, ErrBadLink)
	f("x"+tok, now, ErrBadLink)
	f(tok[:len(tok)-1], now, ErrBadLink)
	body, sig, _ := strings.Cut(tok, ".")
	other := testSigner(t, 2).Sign(Link{Request: Request{Tenant: "other", AppID: "a", DeploymentID: "d", Type: TypeRun}, Expires: now.Add(time.Hour)})
	_, otherSig, _ := strings.Cut(other, ".")
	f(body+"."+otherSig, now, ErrBadLink)
	otherBody, _, _ := strings.Cut(other, ".")
	f(otherBody+"."+sig, now, ErrBadLink)
	if _, err := testSigner(t, 2).Verify(tok, now); !errors.Is(err, ErrBadLink) {
		t.Fatalf("another key verified the token: %v", err)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != keySize {
		t.Fatalf("second load: %x, %v; want the first key %x", k2, err, k1)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// FuzzVerify checks that Verify never panics and that every token it accepts
// is one Sign made for the same link.
func FuzzVerify(f *testing.F) {
	s := testSigner(f, 1)
	now := time.Unix(1_800_000_000, 0)
	f.Add(s.Sign(Link{Request: Request{Tenant: "default", AppID: "a", DeploymentID: "d", Type: TypeRun}, Expires: now.Add(time.Minute)}))
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		l, err := s.Verify(token, now)
		if err != nil {
			return
		}
		if again := s.Sign(l); again != token {
			if _, err := s.Verify(again, now); err != nil {
				t.Fatalf("re-signed link does not verify: %v", err)
			}
		}
	})
}
