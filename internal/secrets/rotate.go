package secrets

import (
	"errors"
	"fmt"
	"io/fs"
)

// RotateDataDirKey puts a new random key first in the key file of dataDir
// and keeps the keys it held after it, so that old is the keyring the file
// held and next seals with the new key and opens with all of them. The
// caller must hold datadir.Lock, so that no kubelog serve seals with the
// old key meanwhile, and then re-seal every sealed value with next's Reseal
// before calling DropOldKeys. Should that be interrupted, the file keeps
// every key: Load it and finish with its keyring.
//
// Keys from a key file (--secret-key-file) or the environment are rotated
// by their owner in the same way: a new first key, the old one second
// until everything is re-sealed.
func RotateDataDirKey(dataDir string) (old, next *Keyring, err error) {
	path := DataDirKeyPath(dataDir)
	keys, err := readKeyFile(path, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("rotate secret key: %s does not exist; kubelog serve generates it at first start unless --secret-key-file or %s gives the key: %w",
			path, EnvVar, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rotate secret key: %w", err)
	}
	if old, err = loaded(keys, SourceDataDir, path); err != nil {
		return nil, nil, fmt.Errorf("rotate secret key: %w", err)
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, nil, fmt.Errorf("rotate secret key: %w", err)
	}
	if next, err = old.WithCurrent(key); err != nil {
		return nil, nil, fmt.Errorf("rotate secret key: %w", err)
	}
	if err := writeKeyFile(dataDir, append([][]byte{key}, keys...)); err != nil {
		return nil, nil, fmt.Errorf("rotate secret key: %w", err)
	}
	return old, next, nil
}

// DropOldKeys leaves only the current (first) key in the key file of
// dataDir. The caller must hold datadir.Lock and must first have re-sealed
// every value with the current key: values sealed with a dropped key no
// longer open. A file with one key is left as it is.
func DropOldKeys(dataDir string) error {
	keys, err := readKeyFile(DataDirKeyPath(dataDir), true)
	if err != nil {
		return fmt.Errorf("drop old secret keys: %w", err)
	}
	if len(keys) == 1 {
		return nil
	}
	if err := writeKeyFile(dataDir, keys[:1]); err != nil {
		return fmt.Errorf("drop old secret keys: %w", err)
	}
	return nil
}
