package state

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Save writes s to the state file at path so that a crash at any point leaves
// either the old file or the new one, never a mix: it writes a temporary file
// in the same directory, syncs it, renames it over path and syncs the
// directory. The file is readable and writable by its owner only (0600).
//
// A crash before the rename leaves the temporary file (named .<base>.*.tmp)
// beside path; Load never reads it. Save must not run concurrently with
// another Save to the same path.
func Save(path string, s *State) error {
	data, err := Encode(s)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("state: save: %w", err)
	}
	if err := writeSync(tmp, data); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("state: save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("state: save: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("state: save %s: %w", path, err)
	}
	return nil
}

// writeSync writes data to f, syncs and closes it.
func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir syncs the directory dir, so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the directory of the state file the agent is configured with
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load reads the state file at path. A missing file is an error that wraps
// fs.ErrNotExist (the agent's first run); a file that does not decode wraps
// ErrTruncated, ErrCorrupt or ErrUnknownVersion (see Decode). Either way the
// caller decides whether to start without a state.
func Load(path string) (*State, error) {
	f, err := os.Open(path) // #nosec G304 -- the state file the agent is configured with
	if err != nil {
		return nil, fmt.Errorf("state: load: %w", err)
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxFileSize {
		return nil, fmt.Errorf("state: load %s: %w: %d bytes, larger than %d", path, ErrCorrupt, fi.Size(), maxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("state: load: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("state: load %s: %w: larger than %d bytes", path, ErrCorrupt, maxFileSize)
	}
	s, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("state: load %s: %w", path, err)
	}
	return s, nil
}
