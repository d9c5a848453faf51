// Package datadir keeps kubelog's data directory private to the user that
// runs kubelog: the directory holds the metadata database, the store, the
// admin token and the secret key that seals the stored credentials.
//
// Prepare creates the directory, refuses one that other users can write or
// that another user owns, and takes group and other permissions away from
// everything in it, as earlier versions created it 0755 with files 0644.
// Lock keeps two kubelog processes (kubelog serve and kubelog secrets
// rotate-key, say) from using one directory at once.
//
// The package uses Unix permissions, ownership and flock(2); kubelog runs
// on Linux.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Modes of what kubelog creates in the data directory; other packages
// create their files and directories with these.
const (
	// FileMode is the mode of files: read and write for the owner only.
	FileMode fs.FileMode = 0o600
	// DirMode is the mode of the data directory and its subdirectories.
	DirMode fs.FileMode = 0o700
)

// groupOther are the permission bits Prepare takes away.
const groupOther fs.FileMode = 0o077

// Prepare makes dir ready to serve from: it creates dir (and missing
// parents) with DirMode, or, when dir exists, refuses it if it is owned by
// a user other than the effective one (unless that is root) or if group or
// others can write it, since they could then replace the files in it. It
// then takes the group and other bits away from dir and from every file and
// directory under it, without following symbolic links under dir (dir
// itself may be one). Prepare must run before the directory's files are
// opened; it does not take the Lock.
func Prepare(dir string) error {
	if dir == "" {
		return errors.New("data directory: empty path")
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		st, err = os.Stat(dir)
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if err := checkOwner(dir, sys.Uid, os.Geteuid()); err != nil {
			return err
		}
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("data directory %s is writable by group or others (mode %04o), who could replace kubelog's database and keys: run chmod go-w %s (kubelog then makes it %04o)",
			dir, perm, dir, DirMode)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return tighten(root)
}

// checkOwner refuses a directory owned by uid when the process runs as
// euid, unless the process runs as root.
func checkOwner(dir string, uid uint32, euid int) error {
	if euid == 0 || int64(uid) == int64(euid) {
		return nil
	}
	return fmt.Errorf("data directory %s is owned by uid %d, not by uid %d that kubelog runs as: chown it to uid %d, or run kubelog as uid %d",
		dir, uid, euid, euid, uid)
}

// tighten takes the group and other permission bits away from root and
// everything under it. Symbolic links are neither followed nor changed
// (Linux cannot change a link's mode); sockets, pipes and devices are left
// as they are.
func tighten(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("tighten permissions: %w", err)
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tighten permissions: %w", err)
		}
		if info.Mode().Perm()&groupOther == 0 {
			return nil
		}
		if err := os.Chmod(path, info.Mode()&^groupOther); err != nil { // #nosec G122 -- only the owner can write the directory (Prepare refuses others), so no one else can swap a path for a symlink
			return fmt.Errorf("tighten permissions: %w", err)
		}
		return nil
	})
}
