package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/server"
	"github.com/kubelog/kubelog/internal/timeparse"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (works while the server runs)",
	}
	dataDir := "./kubelog-data"
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", dataDir, "the server's data directory")
	openDB := func(cmd *cobra.Command) (*meta.DB, error) {
		return meta.Open(cmd.Context(), server.MetaPath(dataDir))
	}

	var tenant, scopes, name, expires string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it (only the token) to stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := auth.ParseScopes(scopes)
			if err != nil {
				return fmt.Errorf("--scopes: %w", err)
			}
			if err := auth.ValidateTenant(tenant); err != nil {
				return fmt.Errorf("--tenant: %w", err)
			}
			spec := auth.TokenSpec{Tenant: tenant, Name: name, Scopes: sc}
			if spec.Name == "" {
				spec.Name = "token-" + time.Now().UTC().Format("20060102-150405.000000")
			}
			if expires != "" {
				if spec.TTL, err = timeparse.ParseDuration(expires); err != nil || spec.TTL <= 0 {
					return fmt.Errorf("--expires: %q is not a positive duration", expires)
				}
			}
			db, err := openDB(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.EnsureTenant(cmd.Context(), tenant); err != nil {
				return err
			}
			secret, _, err := auth.IssueToken(cmd.Context(), db, time.Now(), spec)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), secret)
			return err
		},
	}
	create.Flags().StringVar(&tenant, "tenant", meta.DefaultTenant, "the token's tenant")
	create.Flags().StringVar(&scopes, "scopes", "read", "comma list of read, write, manage, admin")
	create.Flags().StringVar(&name, "name", "", "a name, unique among the tenant's live tokens")
	create.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 720h or 30d (default: never)")

	var listTenant string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := openDB(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			ts, err := db.ListTokens(cmd.Context(), listTenant)
			if err != nil {
				return err
			}
			return printTokens(cmd.OutOrStdout(), ts, asJSON)
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's tokens")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")

	var revokeTenant string
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openDB(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.RevokeToken(cmd.Context(), revokeTenant, args[0], time.Now())
		},
	}
	revoke.Flags().StringVar(&revokeTenant, "tenant", meta.DefaultTenant, "the token's tenant")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func printTokens(w io.Writer, ts []meta.Token, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, t := range ts {
			if err := enc.Encode(map[string]any{
				"id": t.ID, "tenant": t.Tenant, "name": t.Name, "scopes": t.Scopes,
				"created_at": t.CreatedAt, "expires_at": t.ExpiresAt, "revoked": !t.RevokedAt.IsZero(),
			}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tNAME\tSCOPES\tCREATED\tEXPIRES\tREVOKED")
	for _, t := range ts {
		exp, rev := "never", ""
		if !t.ExpiresAt.IsZero() {
			exp = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if !t.RevokedAt.IsZero() {
			rev = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Tenant, t.Name, t.Scopes, t.CreatedAt.UTC().Format(time.RFC3339), exp, rev)
	}
	return tw.Flush()
}
