package store

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// A bloom filter over token hashes: bloomBitsPerToken bits per distinct token
// and bloomProbes probes, about a 1.5% false-positive rate. Its encoding is the
// bit array as little-endian uint64 words; an empty encoding means "no tokens".
//
// Probe i of hash h is x = h + i*s (mod 2^64), mapped to a bit of the m in
// the filter. In parts from format 4 on, s is h rotated by 32 bits, or 1,
// and x is mapped by multiply-shift, the high word of x*m, which needs no
// division (the step must then change the high bits of x). In older parts
// and in the archive's filters (TokenBloom), s is h>>32 | 1 and x is mapped
// by x mod m.
const (
	bloomBitsPerToken = 10
	bloomProbes       = 5
)

// buildBloom encodes a filter holding every hash of set, appending to dst.
// Bit p of the filter is bit p%8 of byte p/8, which is what encoding the
// bit array as little-endian words gives, so the bits are set in dst
// directly.
func buildBloom(dst []byte, set *hashSet, mulShift bool) []byte {
	n := set.len()
	if n == 0 {
		return dst
	}
	words := (n*bloomBitsPerToken + 63) / 64
	start := len(dst)
	dst = slices.Grow(dst, words*8)[:start+words*8]
	arr := dst[start:]
	clear(arr)
	m := uint64(words * 64)
	set.each(func(h uint64) {
		h1, h2 := h, bloomStep(h, mulShift)
		for i := uint64(0); i < bloomProbes; i++ {
			p := bloomBit(h1+i*h2, m, mulShift)
			arr[p/8] |= 1 << (p % 8)
		}
	})
	return dst
}

// bloomStep returns the step between the probes of h.
func bloomStep(h uint64, mulShift bool) uint64 {
	if mulShift {
		return bits.RotateLeft64(h, 32) | 1
	}
	return h>>32 | 1
}

// bloomBit maps probe x to a bit of a filter of m bits.
func bloomBit(x, m uint64, mulShift bool) uint64 {
	if mulShift {
		hi, _ := bits.Mul64(x, m)
		return hi
	}
	return x % m
}

// bloomMayContain reports whether the encoded filter may hold hash h.
func bloomMayContain(filter []byte, h uint64, mulShift bool) bool {
	if len(filter) < 8 {
		return false
	}
	m := uint64(len(filter) / 8 * 64)
	h1, h2 := h, bloomStep(h, mulShift)
	for i := uint64(0); i < bloomProbes; i++ {
		p := bloomBit(h1+i*h2, m, mulShift)
		w := binary.LittleEndian.Uint64(filter[(p/64)*8:])
		if w&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}
