package store

import (
	"encoding/binary"
	"slices"
)

// A bloom filter over token hashes: bloomBitsPerToken bits per distinct token
// and bloomProbes probes, about a 1.5% false-positive rate. Its encoding is the
// bit array as little-endian uint64 words; an empty encoding means "no tokens".
const (
	bloomBitsPerToken = 10
	bloomProbes       = 5
)

// buildBloom encodes a filter holding every hash of set, appending to dst.
// Bit p of the filter is bit p%8 of byte p/8, which is what encoding the
// bit array as little-endian words gives, so the bits are set in dst
// directly.
func buildBloom(dst []byte, set *hashSet) []byte {
	n := set.len()
	if n == 0 {
		return dst
	}
	words := (n*bloomBitsPerToken + 63) / 64
	start := len(dst)
	dst = slices.Grow(dst, words*8)[:start+words*8]
	bits := dst[start:]
	clear(bits)
	m := uint64(words * 64)
	set.each(func(h uint64) {
		h1, h2 := h, (h>>32)|1
		for i := uint64(0); i < bloomProbes; i++ {
			p := (h1 + i*h2) % m
			bits[p/8] |= 1 << (p % 8)
		}
	})
	return dst
}

// bloomMayContain reports whether the encoded filter may hold hash h.
func bloomMayContain(filter []byte, h uint64) bool {
	if len(filter) < 8 {
		return false
	}
	m := uint64(len(filter) / 8 * 64)
	h1, h2 := h, (h>>32)|1
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) % m
		w := binary.LittleEndian.Uint64(filter[(p/64)*8:])
		if w&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}
