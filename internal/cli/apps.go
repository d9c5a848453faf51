package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
)

// appsClient is the HTTP client of the /v2/apps commands.
type appsClient struct {
	server, token string
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
	c.server = strings.TrimRight(c.server, "/")
	return nil
}

// get GETs an API path with the token and decodes a 200 answer into v.
func (c *appsClient) get(ctx context.Context, path string, v any) error {
	status, b, err := fetch(ctx, "GET", c.server+path, c.token, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		var e struct{ ID, Message string }
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s (%d %s)", e.Message, status, e.ID)
		}
		return fmt.Errorf("GET %s: %d %s", path, status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

type cliApp struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Namespace          string    `json:"namespace"`
	Cluster            string    `json:"cluster"`
	Kind               string    `json:"kind"`
	ActiveDeploymentID string    `json:"active_deployment_id"`
	CreatedAt          time.Time `json:"created_at"`
}

func (c *appsClient) apps(ctx context.Context) ([]cliApp, error) {
	var l struct {
		Apps []cliApp `json:"apps"`
	}
	err := c.get(ctx, "/v2/apps", &l)
	return l.Apps, err
}

// resolve finds an app by ID, name, namespace/name or cluster/namespace/name.
func (c *appsClient) resolve(ctx context.Context, ref string) (cliApp, error) {
	as, err := c.apps(ctx)
	if err != nil {
		return cliApp{}, err
	}
	var found []cliApp
	for _, a := range as {
		if a.ID == ref {
			return a, nil
		}
		if ref == a.Name || ref == a.Namespace+"/"+a.Name || ref == a.Cluster+"/"+a.Namespace+"/"+a.Name {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return cliApp{}, fmt.Errorf("no app %q (see kubelog apps list)", ref)
	case 1:
		return found[0], nil
	}
	return cliApp{}, fmt.Errorf("%d apps are named %q; give namespace/name or the ID", len(found), ref)
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
			as, err := c.apps(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tCLUSTER\tNAMESPACE\tNAME\tKIND\tACTIVE DEPLOYMENT\tCREATED")
			for _, a := range as {
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

// path returns the logs endpoint of app a.
func (o *appsLogsOptions) path(a cliApp) string {
	p := "/v2/apps/" + url.PathEscape(a.ID)
	if o.deployment != "" || o.component != "" {
		dep := o.deployment
		if dep == "" {
			dep = a.ActiveDeploymentID
		}
		p += "/deployments/" + url.PathEscape(dep)
		if o.component != "" {
			p += "/components/" + url.PathEscape(o.component)
		}
	}
	q := url.Values{"type": {o.typ}, "pod_connection_timeout": {o.timeout.String()}}
	if o.follow {
		q.Set("follow", "true")
	}
	return p + "/logs?" + q.Encode()
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
	var links struct {
		LiveURL string `json:"live_url"`
		URL     string `json:"url"`
	}
	if err := o.get(ctx, o.path(a), &links); err != nil {
		return err
	}
	if o.follow {
		return followLive(ctx, links.LiveURL, out)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", links.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("download logs: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(out, resp.Body)
	return err
}

// followLive prints the lines a live_url WebSocket sends until ctx ends.
func followLive(ctx context.Context, live string, out io.Writer) error {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(live, "http"), nil)
	if err != nil {
		return err
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	c.SetReadLimit(16 << 20)
	w := bufio.NewWriter(out)
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var m struct {
			Data string `json:"data"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			return err
		}
		fmt.Fprintln(w, m.Data)
		if err := w.Flush(); err != nil {
			return err
		}
	}
}
