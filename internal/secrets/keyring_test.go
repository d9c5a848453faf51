package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testKey returns a key whose bytes are all b.
func testKey(b byte) []byte {
	return bytes.Repeat([]byte{b}, KeySize)
}

func testKeyring(t testing.TB, current []byte, others ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, others...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := testKeyring(t, testKey(1))
	f := func(plain string) {
		t.Helper()
		sealed, err := k.Seal([]byte(plain), "clusters.kubeconfig:c1")
		if err != nil {
			t.Fatal(err)
		}
		if want := sealedPrefix + KeyID(testKey(1)) + ":"; !strings.HasPrefix(sealed, want) {
			t.Fatalf("sealed value %q: want prefix %q", sealed, want)
		}
		if !IsSealed(sealed) || !k.SealedWithCurrent(sealed) {
			t.Fatalf("IsSealed(%q) or SealedWithCurrent: got false; want true", sealed)
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Fatalf("sealed value %q holds the plain text", sealed)
		}
		got, err := k.Open(sealed, "clusters.kubeconfig:c1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != plain {
			t.Fatalf("Open: got %q; want %q", got, plain)
		}
		again, err := k.Seal([]byte(plain), "clusters.kubeconfig:c1")
		if err != nil {
			t.Fatal(err)
		}
		if again == sealed {
			t.Fatalf("two Seals of %q gave the same value; want different nonces", plain)
		}
	}
	f("")
	f("s3cr3t-access-key")
	f(strings.Repeat("apiVersion: v1\nkind: Config\n", 1000))
}

func TestKeyID(t *testing.T) {
	k := testKeyring(t, testKey(1), testKey(2), testKey(1))
	if got, want := k.CurrentID(), KeyID(testKey(1)); got != want {
		t.Errorf("CurrentID: got %s; want %s", got, want)
	}
	if got := k.IDs(); len(got) != 2 || got[0] != KeyID(testKey(1)) || got[1] != KeyID(testKey(2)) {
		t.Errorf("IDs: got %v; want the ids of keys 1 and 2", got)
	}
	if len(k.CurrentID()) != idLen || KeyID(testKey(1)) == KeyID(testKey(2)) {
		t.Errorf("key ids %s and %s: want %d distinct hex digits", KeyID(testKey(1)), KeyID(testKey(2)), idLen)
	}
}

func TestNewKeyringBadKey(t *testing.T) {
	f := func(current []byte, others ...[]byte) {
		t.Helper()
		if _, err := NewKeyring(current, others...); err == nil {
			t.Fatalf("NewKeyring with keys of %d and %d others: got nil error; want one", len(current), len(others))
		}
	}
	f(nil)
	f(make([]byte, 16))
	f(testKey(1), make([]byte, 33))
}

func TestOpenWrongPlace(t *testing.T) {
	k := testKeyring(t, testKey(1))
	sealed, err := k.Seal([]byte("secret"), "s3.secret_access_key:ap_1")
	if err != nil {
		t.Fatal(err)
	}
	f := func(place string) {
		t.Helper()
		if _, err := k.Open(sealed, place); !errors.Is(err, ErrNotAuthentic) {
			t.Fatalf("Open for place %q: got %v; want ErrNotAuthentic", place, err)
		}
	}
	f("s3.secret_access_key:ap_2")
	f("")
	f("s3.secret_access_key:ap_1 ")
}

func TestOpenTampered(t *testing.T) {
	k := testKeyring(t, testKey(1))
	sealed, err := k.Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	head := sealed[:len(sealedPrefix)+idLen+1]
	raw, err := base64.RawURLEncoding.DecodeString(sealed[len(head):])
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, raw []byte) {
		t.Helper()
		if _, err := k.Open(head+base64.RawURLEncoding.EncodeToString(raw), "p"); !errors.Is(err, ErrNotAuthentic) {
			t.Fatalf("Open with %s: got %v; want ErrNotAuthentic", name, err)
		}
	}
	for i := range raw {
		flipped := bytes.Clone(raw)
		flipped[i] ^= 0x40
		f(fmt.Sprintf("byte %d flipped", i), flipped)
	}
	f("the last byte cut", raw[:len(raw)-1])
	f("a byte added", append(bytes.Clone(raw), 0))
}

func TestOpenUnknownKey(t *testing.T) {
	sealed, err := testKeyring(t, testKey(1)).Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	_, err = testKeyring(t, testKey(2), testKey(3)).Open(sealed, "p")
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open with other keys: got %v; want ErrUnknownKey", err)
	}
	if !strings.Contains(err.Error(), KeyID(testKey(1))) {
		t.Errorf("error %q does not name key id %s", err, KeyID(testKey(1)))
	}
}

func TestOpenMalformed(t *testing.T) {
	k := testKeyring(t, testKey(1))
	good, err := k.Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	id := KeyID(testKey(1))
	body := good[len(sealedPrefix)+idLen+1:]
	f := func(s string) {
		t.Helper()
		if IsSealed(s) {
			t.Errorf("IsSealed(%q): got true; want false", s)
		}
		if _, err := k.Open(s, "p"); !errors.Is(err, ErrMalformed) {
			t.Errorf("Open(%q): got %v; want ErrMalformed", s, err)
		}
	}
	f("")
	f("plain secret")
	f("kls1:")
	f("kls1:" + id)
	f("kls1:" + id + ":")
	f("kls2:" + id + ":" + body)
	f("kls1:" + strings.ToUpper(id) + ":" + body)
	f("kls1:" + id[1:] + ":" + body)
	f("kls1:" + id + ":" + body + "==")
	f("kls1:" + id + ":" + body[:10] + "\n" + body[10:])
	f("kls1:" + id + ":+" + body[1:])
	f("kls1:" + id + ":" + base64.RawURLEncoding.EncodeToString(make([]byte, nonceLen+tagLen-1)))
	if !IsSealed(good) {
		t.Fatalf("IsSealed(%q): got false; want true", good)
	}
}

func TestKeyringOpensWithAnyKey(t *testing.T) {
	old := testKeyring(t, testKey(1))
	sealed, err := old.Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	next, err := old.WithCurrent(testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	if next.CurrentID() != KeyID(testKey(2)) || old.CurrentID() != KeyID(testKey(1)) {
		t.Fatalf("CurrentID after WithCurrent: got %s and %s; want %s and %s unchanged",
			next.CurrentID(), old.CurrentID(), KeyID(testKey(2)), KeyID(testKey(1)))
	}
	if next.SealedWithCurrent(sealed) {
		t.Fatalf("SealedWithCurrent of a value sealed with the old key: got true; want false")
	}
	for _, k := range []*Keyring{next, testKeyring(t, testKey(2), testKey(1))} {
		if got, err := k.Open(sealed, "p"); err != nil || string(got) != "secret" {
			t.Fatalf("Open with the old key second: got %q, %v; want \"secret\"", got, err)
		}
	}
}

func TestNoKeyring(t *testing.T) {
	for name, k := range map[string]*Keyring{"nil": nil, "zero": {}} {
		if _, err := k.Seal([]byte("x"), "p"); err == nil {
			t.Errorf("Seal on a %s keyring: got nil error; want one", name)
		}
		if _, err := k.Open("kls1:0000000000000000:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "p"); err == nil {
			t.Errorf("Open on a %s keyring: got nil error; want one", name)
		}
		if _, err := k.WithCurrent(testKey(1)); err == nil {
			t.Errorf("WithCurrent on a %s keyring: got nil error; want one", name)
		}
		if k.CurrentID() != "" || k.IDs() != nil || k.Source() != "" || k.SourcePath() != "" {
			t.Errorf("a %s keyring: got id %q, ids %v, source %q, path %q; want none", name, k.CurrentID(), k.IDs(), k.Source(), k.SourcePath())
		}
	}
}

func TestReseal(t *testing.T) {
	old := testKeyring(t, testKey(1))
	k, err := old.WithCurrent(testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	f := func(value, want string, wantChanged bool) {
		t.Helper()
		got, changed, err := k.Reseal(value, "p")
		if err != nil {
			t.Fatalf("Reseal(%q): %v", value, err)
		}
		if changed != wantChanged {
			t.Fatalf("Reseal(%q): got changed %v; want %v", value, changed, wantChanged)
		}
		if !wantChanged {
			if got != value {
				t.Fatalf("Reseal(%q): got %q; want it unchanged", value, got)
			}
			return
		}
		if !k.SealedWithCurrent(got) {
			t.Fatalf("Reseal(%q): got %q; want it sealed with the current key", value, got)
		}
		if plain, err := k.Open(got, "p"); err != nil || string(plain) != want {
			t.Fatalf("Open of Reseal(%q): got %q, %v; want %q", value, plain, err, want)
		}
	}
	f("", "", false)
	f("plain secret", "plain secret", true)
	withOld, err := old.Seal([]byte("old secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	f(withOld, "old secret", true)
	withCurrent, err := k.Seal([]byte("new secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	f(withCurrent, "new secret", false)

	if _, _, err := k.Reseal(withCurrent, "other place"); !errors.Is(err, ErrNotAuthentic) {
		t.Errorf("Reseal for another place: got %v; want ErrNotAuthentic", err)
	}
	unknown, err := testKeyring(t, testKey(3)).Seal([]byte("x"), "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Reseal(unknown, "p"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Reseal with an unknown key: got %v; want ErrUnknownKey", err)
	}
}

func FuzzOpen(f *testing.F) {
	k := testKeyring(f, testKey(1), testKey(2))
	for _, plain := range []string{"", "secret", "apiVersion: v1\nkind: Config\n"} {
		sealed, err := k.Seal([]byte(plain), "p")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed, "p", []byte(plain))
		f.Add(sealed[:len(sealed)-1], "p", []byte(plain))
	}
	f.Add("", "", []byte(nil))
	f.Add("kls1:", "p", []byte("x"))
	f.Add("kls1:"+KeyID(testKey(3))+":"+base64.RawURLEncoding.EncodeToString(make([]byte, 40)), "p", []byte("x"))
	f.Fuzz(func(t *testing.T, s, place string, plain []byte) {
		got, err := k.Open(s, place)
		if err == nil && !IsSealed(s) {
			t.Fatalf("Open(%q) succeeded with %q but IsSealed is false", s, got)
		}
		resealed, changed, rerr := k.Reseal(s, place)
		switch {
		case s == "":
			if rerr != nil || changed || resealed != "" {
				t.Fatalf("Reseal(\"\"): got %q, %v, %v; want it unchanged", resealed, changed, rerr)
			}
		case IsSealed(s) && (rerr == nil) != (err == nil):
			t.Fatalf("Reseal(%q) gave error %v but Open gave %v", s, rerr, err)
		case !IsSealed(s) && rerr != nil:
			t.Fatalf("Reseal of plain text %q: %v", s, rerr)
		case rerr == nil:
			want := []byte(s)
			if IsSealed(s) {
				want = got
			}
			if opened, err := k.Open(resealed, place); err != nil || !bytes.Equal(opened, want) {
				t.Fatalf("Open of Reseal(%q): got %q, %v; want %q", s, opened, err, want)
			}
		}
		sealed, err := k.Seal(plain, place)
		if err != nil {
			t.Fatal(err)
		}
		opened, err := k.Open(sealed, place)
		if err != nil {
			t.Fatalf("Open of Seal(%q, %q): %v", plain, place, err)
		}
		if !bytes.Equal(opened, plain) {
			t.Fatalf("Open of Seal(%q, %q): got %q", plain, place, opened)
		}
	})
}

func benchmarkSizes(b *testing.B, run func(b *testing.B, k *Keyring, plain []byte)) {
	k := testKeyring(b, testKey(1))
	for _, size := range []int{40, 4 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			plain := bytes.Repeat([]byte{'a'}, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			run(b, k, plain)
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	benchmarkSizes(b, func(b *testing.B, k *Keyring, plain []byte) {
		for b.Loop() {
			if _, err := k.Seal(plain, "clusters.kubeconfig:c1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	benchmarkSizes(b, func(b *testing.B, k *Keyring, plain []byte) {
		sealed, err := k.Seal(plain, "clusters.kubeconfig:c1")
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := k.Open(sealed, "clusters.kubeconfig:c1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
