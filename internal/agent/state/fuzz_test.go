package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// FuzzParsePath checks that ParsePath never panics, refuses with ErrBadPath,
// and that what it parses formats back to the same path.
func FuzzParsePath(f *testing.F) {
	for _, p := range pathSeeds {
		f.Add(root, p)
	}
	f.Add("/", "/a_b_c/d/0.log")
	f.Add("", "./a_b_c/d/0.log")
	f.Add("pods/", "pods/a_b_c/d/0.log.20261207-101500.gz")
	f.Fuzz(func(t *testing.T, root, path string) {
		s, err := ParsePath(root, path)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("ParsePath(%q, %q) = %v; want ErrBadPath", root, path, err)
			}
			return
		}
		if back := s.Path(root); back != path {
			t.Fatalf("ParsePath(%q, %q) = %+v, which formats as %q", root, path, s, back)
		}
	})
}

// FuzzDecodeState checks that Decode never panics, and that what it decodes
// encodes back to the same bytes, which decode to an equal state. Each input
// is decoded as it is and resealed (its body length and checksum made right),
// so that the fuzzer reaches the entries behind the checksum.
func FuzzDecodeState(f *testing.F) {
	good, err := Encode(testState())
	if err != nil {
		f.Fatal(err)
	}
	empty, err := Encode(&State{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(empty)
	f.Add(good[:len(good)/2])
	f.Add(append(bytes.Clone(good[:len(good)-trailerSize]), 0, 0, 0, 0))
	f.Add([]byte("KLST\x02\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		if len(data) >= headerSize+trailerSize {
			sealed := bytes.Clone(data)
			binary.LittleEndian.PutUint32(sealed[10:], uint32(len(data)-headerSize-trailerSize))
			checkDecode(t, reseal(sealed))
		}
	})
}

// checkDecode checks what FuzzDecodeState promises of data.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	s, err := Decode(data)
	if err != nil {
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("Decode = %v; want one of its errors", err)
		}
		return
	}
	again, err := Encode(s)
	if err != nil {
		t.Fatalf("Encode of a decoded state: %v", err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("re-encoded %x; want %x", again, data)
	}
	s2, err := Decode(again)
	if err != nil {
		t.Fatalf("Decode of the re-encoded state: %v", err)
	}
	if !reflect.DeepEqual(s2, s) {
		t.Fatalf("decoded %+v; want %+v", s2, s)
	}
}
