package state

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// FingerprintSize is how many of a file's first bytes an Identity's
// fingerprint covers at most.
const FingerprintSize = 1 << 10

// Identity tells one file from another across renames (the kubelet's
// rotation) and inode reuse: the device and inode number, and a hash of the
// file's first bytes, which a new file on a reused inode is all but certain
// not to share.
type Identity struct {
	Dev, Ino uint64
	// Fingerprint is the first 16 bytes of the SHA-256 of the file's first
	// FingerprintLen bytes.
	Fingerprint [16]byte
	// FingerprintLen is how many bytes Fingerprint covers: the file's size
	// when it was taken, up to FingerprintSize.
	FingerprintLen int
}

// fingerprint hashes the first up to limit (at most FingerprintSize) bytes r
// reads from offset 0, stopping early at end of file, and returns how many it
// hashed.
func fingerprint(r io.ReaderAt, limit int) ([16]byte, int, error) {
	buf := make([]byte, min(limit, FingerprintSize))
	n, err := r.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return [16]byte{}, 0, fmt.Errorf("read first bytes: %w", err)
	}
	sum := sha256.Sum256(buf[:n])
	var fp [16]byte
	copy(fp[:], sum[:])
	return fp, n, nil
}

// SameFile reports whether cur, an identity taken now of the file r reads, is
// of the file id was taken of. The device and inode must be equal. When the
// file has grown since id was taken, cur's fingerprint covers more bytes than
// id's, so r is read again and hashed over id's length; r is read only then.
// A file shorter than id's fingerprint is another file (the kubelet never
// truncates a log file). A file id was taken of while it was empty matches any
// file on its inode.
func (id Identity) SameFile(cur Identity, r io.ReaderAt) (bool, error) {
	switch {
	case id.Dev != cur.Dev || id.Ino != cur.Ino:
		return false, nil
	case id.FingerprintLen == cur.FingerprintLen:
		return id.Fingerprint == cur.Fingerprint, nil
	case id.FingerprintLen > cur.FingerprintLen:
		return false, nil
	}
	fp, n, err := fingerprint(r, id.FingerprintLen)
	if err != nil {
		return false, fmt.Errorf("state: same file: %w", err)
	}
	return n == id.FingerprintLen && fp == id.Fingerprint, nil
}
