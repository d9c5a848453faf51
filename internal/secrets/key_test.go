package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// alphabetKey has bytes whose base64 uses the characters on which the
// standard and URL alphabets differ.
var alphabetKey = bytes.Repeat([]byte{0xfb, 0xff}, KeySize/2)

func TestParseKey(t *testing.T) {
	f := func(in string, want []byte) {
		t.Helper()
		got, err := ParseKey(in)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", in, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ParseKey(%q): got %x; want %x", in, got, want)
		}
	}
	f(base64.StdEncoding.EncodeToString(alphabetKey), alphabetKey)
	f(base64.RawStdEncoding.EncodeToString(alphabetKey), alphabetKey)
	f(base64.URLEncoding.EncodeToString(alphabetKey), alphabetKey)
	f(base64.RawURLEncoding.EncodeToString(alphabetKey), alphabetKey)
	f(hex.EncodeToString(alphabetKey), alphabetKey)
	f(strings.ToUpper(hex.EncodeToString(alphabetKey)), alphabetKey)
	f(EncodeKey(testKey(7))+"\n", testKey(7))
	f(EncodeKey(testKey(7))+"\r\n", testKey(7))
	f("  "+EncodeKey(testKey(7))+" \t\n", testKey(7))
}

func TestParseKeyErrors(t *testing.T) {
	f := func(in string) {
		t.Helper()
		_, err := ParseKey(in)
		if err == nil {
			t.Fatalf("ParseKey(%q): got nil error; want one", in)
		}
		if !strings.Contains(err.Error(), "base64") || !strings.Contains(err.Error(), "hex") {
			t.Errorf("ParseKey(%q): got error %q; want it to say the key is base64 or hex", in, err)
		}
		if in = strings.TrimSpace(in); in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("ParseKey: error %q holds the key", err)
		}
	}
	f("")
	f(" \n")
	f(base64.StdEncoding.EncodeToString(make([]byte, KeySize-1)))
	f(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, KeySize+1)))
	f(hex.EncodeToString(bytes.Repeat([]byte{9}, KeySize-1)))
	f(hex.EncodeToString(bytes.Repeat([]byte{9}, KeySize+1)))
	f(strings.Repeat("g", 64))
	f("correct horse battery staple, a passphrase not a key")
	f(strings.Replace(base64.RawURLEncoding.EncodeToString(alphabetKey), "_", "/", 1))
	f(EncodeKey(testKey(7)) + "\n" + EncodeKey(testKey(8)))
	f(EncodeKey(testKey(7))[:20] + "\n" + EncodeKey(testKey(7))[20:])
}

func TestParseKeys(t *testing.T) {
	f := func(in string, want ...[]byte) {
		t.Helper()
		got, err := parseKeys(in)
		if err != nil {
			t.Fatalf("parseKeys(%q): %v", in, err)
		}
		if len(got) != len(want) {
			t.Fatalf("parseKeys(%q): got %d keys; want %d", in, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("parseKeys(%q): key %d: got %x; want %x", in, i+1, got[i], want[i])
			}
		}
	}
	k1, k2, k3 := EncodeKey(testKey(1)), EncodeKey(testKey(2)), hex.EncodeToString(testKey(3))
	f(k1, testKey(1))
	f(k1+"\n", testKey(1))
	f(k1+"\n"+k2+"\n", testKey(1), testKey(2))
	f(keyFileHeader+k1+"\n\n# old key, drop after the re-seal\n"+k2+"\r\n"+k3, testKey(1), testKey(2), testKey(3))
	f(k1+","+k2+", "+k3+",", testKey(1), testKey(2), testKey(3))
}

func TestParseKeysErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := parseKeys(in)
		if err == nil {
			t.Fatalf("parseKeys(%q): got nil error; want one", in)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("parseKeys(%q): got error %q; want it to contain %q", in, err, want)
		}
		for _, line := range strings.Split(in, "\n") {
			if line = strings.TrimSpace(line); len(line) > 8 && !strings.HasPrefix(line, "#") && strings.Contains(err.Error(), line) {
				t.Errorf("parseKeys: error %q holds a key", err)
			}
		}
	}
	f("", "no secret key")
	f("# only a comment\n\n", "no secret key")
	f(EncodeKey(testKey(1))+"\n"+strings.Repeat("z", 20), "key 2")
	f(EncodeKey(testKey(1))[:40]+"\n"+EncodeKey(testKey(2)), "key 1")
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != KeySize || bytes.Equal(a, b) {
		t.Fatalf("GenerateKey: got %d bytes, equal twice %v; want %d distinct bytes", len(a), bytes.Equal(a, b), KeySize)
	}
	got, err := ParseKey(EncodeKey(a))
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("ParseKey(EncodeKey(key)): got %x, %v; want %x", got, err, a)
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		EncodeKey(testKey(1)), base64.RawURLEncoding.EncodeToString(alphabetKey), hex.EncodeToString(testKey(2)),
		"", "=", strings.Repeat("g", 64), EncodeKey(testKey(1)) + ",",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseKey(s)
		if err != nil {
			if trimmed := strings.TrimSpace(s); len(trimmed) >= 16 && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("ParseKey: error %q holds the input", err)
			}
			return
		}
		if len(key) != KeySize {
			t.Fatalf("ParseKey(%q): got %d bytes; want %d", s, len(key), KeySize)
		}
		again, err := ParseKey(EncodeKey(key))
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("ParseKey(EncodeKey(ParseKey(%q))): got %x, %v; want %x", s, again, err, key)
		}
		if _, err := parseKeys(s); err != nil {
			t.Fatalf("parseKeys(%q) failed where ParseKey did not: %v", s, err)
		}
	})
}
