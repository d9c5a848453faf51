package state

import (
	"fmt"
	"os"
	"syscall"
)

// IdentityOf returns the identity of the open file f. It reads f's first bytes
// with ReadAt, so f's offset is left where it was.
func IdentityOf(f *os.File) (Identity, error) {
	fi, err := f.Stat()
	if err != nil {
		return Identity{}, fmt.Errorf("state: identity: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}, fmt.Errorf("state: identity of %s: no device and inode in %T", f.Name(), fi.Sys())
	}
	fp, n, err := fingerprint(f, FingerprintSize)
	if err != nil {
		return Identity{}, fmt.Errorf("state: identity of %s: %w", f.Name(), err)
	}
	return Identity{Dev: uint64(st.Dev), Ino: st.Ino, Fingerprint: fp, FingerprintLen: n}, nil
}
