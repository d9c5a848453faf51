package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
)

// Reseal seals every secret in the metadata database (cluster kubeconfigs,
// S3 secret access keys) with the keyring's current key: plain values left
// by earlier versions, and values sealed with an older key after a
// rotation. When any changed, the database is scrubbed so that no plain or
// old copy stays in its files.
func Reseal(ctx context.Context, db *meta.DB, keys *secrets.Keyring, log *slog.Logger) error {
	nc, err := clusters.Reseal(ctx, db, keys)
	if err == nil {
		var np int
		np, err = archive.NewPolicies(db, keys).Reseal(ctx)
		nc += np
	}
	if errors.Is(err, secrets.ErrUnknownKey) {
		return fmt.Errorf("the metadata database holds secrets sealed with a key that is not loaded (%w); give that key with --secret-key-file or KUBELOG_SECRET_KEY, or as a later line of the key file", err)
	}
	if err != nil {
		return fmt.Errorf("seal the stored secrets: %w", err)
	}
	if nc == 0 {
		return nil
	}
	log.Info("sealed stored secrets with the current key", "values", nc, "key_id", keys.CurrentID())
	return db.Scrub(ctx)
}
