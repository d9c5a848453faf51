package store

import (
	"encoding/binary"
	"math"
	"slices"
)

// Digits taken out of block text are packed, in blocks of format 4 on, in
// one of two ways. Digit runs in logs are mostly random (ids, addresses,
// times), and for digits near uniformly spread packDigits stores each group
// of three as a number below 1000 in 10 bits, 3.33 bits a digit, within 0.4%
// of their entropy and several times faster than an entropy coder either
// way. Skewed digits (many zeros, say) go to huff0, which makes use of the
// skew.
//
// The packed form: groups of three digits, in order, each as the 10-bit
// number they spell; a last group of one or two digits as 4 or 7 bits. Bits
// fill each byte from its least significant bit; the last byte is padded
// with zeros.

// packedDigitsEntropy is the entropy, in bits a digit, from which digits are
// packed rather than given to huff0: at 3.30 bits or more, packing loses at
// most 1% to the entropy, which huff0 cannot beat, and huff0's table costs
// a few bytes more.
const packedDigitsEntropy = 3.30

// packSample is how many digits, spread over a block's, packDigits
// counts: enough to estimate the entropy within about 0.01 bit.
const packSample = 4096

// packDigits reports whether digits, ASCII '0' to '9', are spread evenly
// enough to be packed, from a sample of them.
func packDigits(digits []byte) bool {
	step := max(1, len(digits)/packSample)
	var count [10]int
	n := 0
	for i := 0; i < len(digits); i += step {
		count[digits[i]-'0']++
		n++
	}
	h := 0.0
	for _, k := range count {
		if k > 0 {
			p := float64(k) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h >= packedDigitsEntropy
}

// packedDigitsLen returns the bytes that n packed digits take.
func packedDigitsLen(n int) int {
	bits := n / 3 * 10
	switch n % 3 {
	case 1:
		bits += 4
	case 2:
		bits += 7
	}
	return (bits + 7) / 8
}

// appendPackedDigits appends digits, ASCII '0' to '9', packed.
func appendPackedDigits(dst, digits []byte) []byte {
	dst = slices.Grow(dst, packedDigitsLen(len(digits))+4)
	var acc uint64
	var nbits uint
	i := 0
	for ; i+3 <= len(digits); i += 3 {
		v := uint64(digits[i])*100 + uint64(digits[i+1])*10 + uint64(digits[i+2]) - '0'*111
		acc |= v << nbits
		if nbits += 10; nbits >= 32 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(acc))
			acc >>= 32
			nbits -= 32
		}
	}
	switch len(digits) - i {
	case 1:
		acc |= uint64(digits[i]-'0') << nbits
		nbits += 4
	case 2:
		acc |= (uint64(digits[i]-'0')*10 + uint64(digits[i+1]-'0')) << nbits
		nbits += 7
	}
	for ; nbits > 0; nbits -= min(nbits, 8) {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// digitTriples spells each number below 1000 as three ASCII digits.
var digitTriples = func() (t [1000][3]byte) {
	for v := range t {
		t[v] = [3]byte{byte('0' + v/100), byte('0' + v/10%10), byte('0' + v%10)}
	}
	return t
}()

// unpackDigits appends the n digits packed in src to dst, as ASCII. It
// fails when src is not exactly their packed length or holds a group out of
// range.
func unpackDigits(dst, src []byte, n int) ([]byte, error) {
	if len(src) != packedDigitsLen(n) {
		return dst, corruptf("block digits: %d packed bytes for %d digits", len(src), n)
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	out := dst[start:]
	// bits reads width bits from bit offset at, loading 8 bytes at once
	// where the source has them.
	bits := func(at int, width uint) uint64 {
		i := at >> 3
		var w uint64
		if i+8 <= len(src) {
			w = binary.LittleEndian.Uint64(src[i:])
		} else {
			for k := len(src) - 1; k >= i; k-- {
				w = w<<8 | uint64(src[k])
			}
		}
		return w >> (at & 7) & (1<<width - 1)
	}
	var over uint64 // non-zero once a group is 1000 or more
	groups := n / 3
	g := 0
	// Five groups at a time from one 8-byte load: 50 bits, past at most 7
	// bits of the byte the first starts in.
	for ; g+5 <= groups && g*10/8+8 <= len(src); g += 5 {
		w := binary.LittleEndian.Uint64(src[g*10/8:]) >> (g * 10 % 8)
		o := out[3*g : 3*g+15]
		for k := 0; k < 15; k += 3 {
			v := w & 1023
			w >>= 10
			over |= (v + 24) >> 10
			t := &digitTriples[min(v, 999)]
			o[k], o[k+1], o[k+2] = t[0], t[1], t[2]
		}
	}
	for ; g < groups; g++ {
		v := bits(g*10, 10)
		over |= (v + 24) >> 10
		t := &digitTriples[min(v, 999)]
		out[3*g], out[3*g+1], out[3*g+2] = t[0], t[1], t[2]
	}
	if over != 0 {
		return dst[:start], corruptf("block digits: a packed group is 1000 or more")
	}
	at := groups * 10
	switch n % 3 {
	case 1:
		v := bits(at, 4)
		if v >= 10 {
			return dst[:start], corruptf("block digits: packed digit %d out of range", v)
		}
		out[n-1] = byte('0' + v)
	case 2:
		v := bits(at, 7)
		if v >= 100 {
			return dst[:start], corruptf("block digits: packed pair %d out of range", v)
		}
		out[n-2], out[n-1] = byte('0'+v/10), byte('0'+v%10)
	}
	return dst, nil
}
