package store

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func randomDigits(rng *rand.Rand, n int, zeros float64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
		if rng.Float64() < zeros {
			b[i] = '0'
		}
	}
	return b
}

func TestPackedDigitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 200; n++ {
		digits := randomDigits(rng, n, 0)
		packed := appendPackedDigits([]byte("x"), digits)[1:]
		if len(packed) != packedDigitsLen(n) {
			t.Fatalf("%d digits packed in %d bytes; packedDigitsLen says %d", n, len(packed), packedDigitsLen(n))
		}
		got, err := unpackDigits([]byte("y"), packed, n)
		if err != nil || !bytes.Equal(got[1:], digits) || got[0] != 'y' {
			t.Fatalf("%d digits: unpacked %q (%v); want %q", n, got, err, digits)
		}
	}
	if _, err := unpackDigits(nil, []byte{0xff, 0x03}, 3); err == nil {
		t.Fatal("a group of 1023 unpacked")
	}
	if _, err := unpackDigits(nil, []byte{0, 0, 0}, 3); err == nil {
		t.Fatal("unpacked 3 digits from 3 bytes, which is not their packed length")
	}
}

// TestPackDigitsChoice checks that near-uniform digits are packed, at
// 10 bits per three, and skewed ones left to huff0.
func TestPackDigitsChoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	uniform := randomDigits(rng, 30000, 0)
	if !packDigits(uniform) {
		t.Fatal("uniform digits are not packed")
	}
	if got, want := len(appendPackedDigits(nil, uniform)), 30000/3*10/8; got != want {
		t.Fatalf("30,000 digits packed in %d bytes; want %d", got, want)
	}
	if packDigits(randomDigits(rng, 30000, 0.5)) {
		t.Fatal("digits half of which are zeros are packed")
	}
}

func BenchmarkPackDigits(b *testing.B) {
	digits := randomDigits(rand.New(rand.NewPCG(1, 1)), 40000, 0)
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(digits)))
	for b.Loop() {
		_ = packDigits(digits)
		out = appendPackedDigits(out[:0], digits)
	}
}

func BenchmarkUnpackDigits(b *testing.B) {
	digits := randomDigits(rand.New(rand.NewPCG(1, 1)), 40000, 0)
	packed := appendPackedDigits(nil, digits)
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(digits)))
	for b.Loop() {
		out, _ = unpackDigits(out[:0], packed, len(digits))
	}
}
