package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/datadir"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/server"
)

func newSecretsCmd(stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the key that seals the credentials in the metadata database",
	}
	dataDir, keyFile := "./kubelog-data", ""
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Seal every stored credential with a new key (stop kubelog serve first)",
		Long: `rotate-key seals the credentials kept in the metadata database (cluster
kubeconfigs, S3 secret access keys) with a new key. It refuses to run while a
kubelog serve uses the data directory.

With the generated key (<data-dir>/secret.key), it writes a new key first in
that file, re-seals everything with it and then drops the old key.

With --secret-key-file or KUBELOG_SECRET_KEY, the key is yours to replace: put
the new key on the first line and the old one on the second, run rotate-key,
which re-seals everything with the first key, then remove the old line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(stderr, nil))
			unlock, err := datadir.Lock(dataDir)
			if err != nil {
				return err
			}
			defer unlock()
			env := os.Getenv(secrets.EnvVar)
			own := keyFile != "" || env != ""
			var keys *secrets.Keyring
			if own {
				keys, err = secrets.Load(secrets.LoadOptions{KeyFile: keyFile, EnvValue: env, DataDir: dataDir})
			} else {
				_, keys, err = secrets.RotateDataDirKey(dataDir)
			}
			if err != nil {
				return err
			}
			db, err := meta.Open(cmd.Context(), server.MetaPath(dataDir))
			if err != nil {
				return err
			}
			defer db.Close()
			if err := server.Reseal(cmd.Context(), db, keys, log); err != nil {
				return err
			}
			if own {
				fmt.Fprintf(cmd.OutOrStdout(), "every stored secret is sealed with key %s; remove the older keys from where you keep them\n", keys.CurrentID())
				return nil
			}
			if err := secrets.DropOldKeys(dataDir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "every stored secret is sealed with the new key %s, in %s\n", keys.CurrentID(), secrets.DataDirKeyPath(dataDir))
			return nil
		},
	}
	rotate.Flags().StringVar(&dataDir, "data-dir", dataDir, "the server's data directory")
	rotate.Flags().StringVar(&keyFile, "secret-key-file", "", "the key file kubelog serve is given, new key first (default: <data-dir>/secret.key, rotated for you)")
	cmd.AddCommand(rotate)
	return cmd
}
