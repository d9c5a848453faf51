package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the name of the file in the data directory that Lock locks.
const LockFile = "lock"

// ErrInUse is returned, wrapped, by Lock when another process holds the
// lock.
var ErrInUse = errors.New("in use by another kubelog process")

// Lock takes an exclusive lock on dir, which must exist, through
// <dir>/lock (created with FileMode), without waiting: when another
// process holds it, the error wraps ErrInUse. The lock lasts until unlock
// is called, which must be done once, or until the process exits. Locks
// are per open file, so a second Lock of the same directory fails in the
// same process too.
func Lock(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode) // #nosec G304 -- the lock file of the operator's data directory
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("lock data directory: flock %s: %w", path, err)
	}
	return func() error {
		if err := f.Close(); err != nil {
			return fmt.Errorf("unlock data directory: %w", err)
		}
		return nil
	}, nil
}
