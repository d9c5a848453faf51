package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/apiclient"
)

// appsClient is the HTTP client of the /v2/apps commands.
type appsClient struct {
	server, token string
	api           *apiclient.Client
}

func (c *appsClient) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.server, "server", os.Getenv("KUBELOG_SERVER"), "kubelog server URL (env KUBELOG_SERVER)")
	f.StringVar(&c.token, "token", os.Getenv("KUBELOG_TOKEN"), "bearer token (env KUBELOG_TOKEN)")
}

func (c *appsClient) validate() error {
	if c.server == "" || c.token == "" {
		return errors.New("--server and --token (or KUBELOG_SERVER and KUBELOG_TOKEN) are required")
	}
	c.api = apiclient.New(c.server, c.token, nil)
	return nil
}

// resolve finds an app by ID, name, namespace/name or cluster/namespace/name.
func (c *appsClient) resolve(ctx context.Context, ref string) (apiclient.App, error) {
	l, err := c.api.Apps(ctx)
	if err != nil {
		return apiclient.App{}, err
	}
	var found []apiclient.App
	for _, a := range l.Apps {
		if a.ID == ref {
			return a, nil
		}
		if ref == a.Name || ref == a.Namespace+"/"+a.Name || ref == a.Cluster+"/"+a.Namespace+"/"+a.Name {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return apiclient.App{}, fmt.Errorf("no app %q (see kubelog apps list)", ref)
	case 1:
		return found[0], nil
	}
	return apiclient.App{}, fmt.Errorf("%d apps are named %q; give namespace/name or the ID", len(found), ref)
}

func newAppsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List apps (Kubernetes workloads) and read their deployment logs",
	}
	cmd.AddCommand(newAppsListCmd(), newAppsLogsCmd())
	return cmd
}

func newAppsListCmd() *cobra.Command {
	c := &appsClient{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the apps of the token's tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			l, err := c.api.Apps(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tCLUSTER\tNAMESPACE\tNAME\tKIND\tACTIVE DEPLOYMENT\tCREATED")
			for _, a := range l.Apps {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Cluster, a.Namespace, a.Name, a.Kind, a.ActiveDeploymentID, a.CreatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	c.addFlags(cmd)
	return cmd
}

// appsLogsOptions are the flags of kubelog apps logs.
type appsLogsOptions struct {
	appsClient
	deployment, component, typ string
	follow                     bool
	timeout                    time.Duration
}

func (o *appsLogsOptions) validate() error {
	if err := o.appsClient.validate(); err != nil {
		return err
	}
	switch strings.ToLower(o.typ) {
	case "run", "run_restarted", "deploy", "build":
		o.typ = strings.ToUpper(o.typ)
	default:
		return fmt.Errorf("--type must be run, run_restarted, deploy or build, not %q", o.typ)
	}
	if o.timeout < 0 {
		return errors.New("--pod-connection-timeout must not be negative")
	}
	return nil
}

// request returns the logs request of app a.
func (o *appsLogsOptions) request(a apiclient.App) apiclient.AppLogsRequest {
	r := apiclient.AppLogsRequest{App: a.ID, Type: o.typ, Follow: o.follow, PodConnectionTimeout: o.timeout}
	if o.deployment != "" || o.component != "" {
		r.Deployment, r.Component = o.deployment, o.component
		if r.Deployment == "" {
			r.Deployment = a.ActiveDeploymentID
		}
	}
	return r
}

func newAppsLogsCmd() *cobra.Command {
	o := &appsLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs APP",
		Short: "Print an app's deployment logs",
		Long: `logs prints the logs of an app's deployment (the active one unless
--deployment is given), of one component or of all, by type: run (current
instances), run_restarted (instances that crashed or restarted), deploy
(Kubernetes Events of the rollout) or build (init containers and build pods).
APP is an app ID, a name, namespace/name or cluster/namespace/name. -f follows
new lines instead of printing those so far.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), args[0], cmd.OutOrStdout())
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.deployment, "deployment", "", "deployment ID (default: the active deployment)")
	f.StringVar(&o.component, "component", "", "component (container) name (default: all)")
	f.StringVar(&o.typ, "type", "run", "run, run_restarted, deploy or build")
	f.BoolVarP(&o.follow, "follow", "f", false, "follow new lines")
	f.DurationVar(&o.timeout, "pod-connection-timeout", 3*time.Minute, "how long to wait for an instance when none exists yet")
	return cmd
}

func (o *appsLogsOptions) run(ctx context.Context, ref string, out io.Writer) error {
	a, err := o.resolve(ctx, ref)
	if err != nil {
		return err
	}
	links, err := o.api.AppLogs(ctx, o.request(a))
	if err != nil {
		return err
	}
	if o.follow {
		return followLive(ctx, o.api, links.LiveURL, out)
	}
	rc, err := o.api.Download(ctx, links.URL)
	if err != nil {
		return fmt.Errorf("download logs: %w", err)
	}
	defer rc.Close()
	_, err = io.Copy(out, rc)
	return err
}

// followLive prints the lines a live_url WebSocket sends until ctx ends.
func followLive(ctx context.Context, api *apiclient.Client, live string, out io.Writer) error {
	s, err := api.Live(ctx, live)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		line, err := s.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if _, err := fmt.Fprintln(out, line); err != nil {
			return err
		}
	}
}
