package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/tail"
)

// tailOptions are kubelog tail's flags.
type tailOptions struct {
	server, token         string
	namespace             string
	allNamespaces         bool
	selector              string
	container             string
	filter, service       string
	session, user, output string
	timestamps            bool
	color                 bool // colour pod names: stdout is a terminal

	podRegex string
	// cluster holds the flags of the cluster mode (no --server).
	cluster clusterTailFlags
	// Set by complete.
	sessionFilter string
	api           *apiclient.Client
}

func newTailCmd() *cobra.Command {
	o := &tailOptions{}
	cmd := &cobra.Command{
		Use:   "tail [POD_REGEX]",
		Short: "Follow logs live, resuming exactly after breaks",
		Long: `tail follows logs as they arrive.

Without --server it reads straight from a cluster, as stern does: it watches
the pods matching POD_REGEX, -n/-A and -l, follows each container matching -c
(and not --exclude-container) as pods appear and disappear, and prints each
line with its pod and container. The kubeconfig is read as kubectl reads it
($KUBECONFIG, then ~/.kube/config; --kubeconfig and --context override).
--since and --tail choose where each container starts; --include and
--exclude filter lines by regexp.

With --server (or KUBELOG_SERVER) it goes through a kubelog tail session:
-n, -l, -c and POD_REGEX become the session filter, and --filter and
--service add to it. It resumes from its last cursor after a network break or
a server restart, with no duplicate and no gap; --session continues an
existing session.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.podRegex = args[0]
			}
			if f, ok := cmd.OutOrStdout().(*os.File); ok {
				if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					o.color = true
				}
			}
			if o.server == "" {
				return o.runCluster(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			if err := o.complete(); err != nil {
				return err
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", os.Getenv("KUBELOG_SERVER"), "kubelog server URL (env KUBELOG_SERVER)")
	f.StringVar(&o.token, "token", os.Getenv("KUBELOG_TOKEN"), "bearer token (env KUBELOG_TOKEN)")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "every namespace")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. app=web,tier=front")
	f.StringVarP(&o.container, "container", "c", "", "container name regex")
	f.StringVar(&o.filter, "filter", "", `session filter, e.g. 'level=error and "timeout"'`)
	f.StringVar(&o.service, "service", "*", `service (the app label); "*" for all`)
	f.StringVar(&o.session, "session", "", "continue this tail session")
	f.StringVar(&o.user, "user", "", "user id of the session (default: the local user name)")
	f.StringVarP(&o.output, "output", "o", "default", "default, raw or json")
	f.BoolVar(&o.timestamps, "timestamps", false, "print each entry's timestamp")
	f.StringVar(&o.cluster.kubeconfig, "kubeconfig", "", "kubeconfig file, without --server (default: as kubectl, $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.cluster.kubeContext, "context", "", "kubeconfig context, without --server (default: its current one)")
	f.StringVarP(&o.cluster.excludeContainer, "exclude-container", "E", "", "container name regex to leave out, without --server")
	f.StringArrayVarP(&o.cluster.include, "include", "i", nil, "print only lines matching this regex (repeatable), without --server")
	f.StringArrayVarP(&o.cluster.exclude, "exclude", "e", nil, "leave out lines matching this regex (repeatable), without --server")
	f.StringVarP(&o.cluster.since, "since", "s", "48h", "start each container this far back, e.g. 10m, without --server")
	f.Int64Var(&o.cluster.tail, "tail", -1, "start each container with its last N lines (-1: all since --since), without --server")
	return cmd
}

// complete turns the flags into the session filter and checks them.
func (o *tailOptions) complete() error {
	if o.token == "" {
		return errors.New("--token (or KUBELOG_TOKEN) is required with --server")
	}
	switch o.output {
	case "default", "raw", "json":
	default:
		return fmt.Errorf("--output must be default, raw or json, not %q", o.output)
	}
	var parts []string
	if o.namespace != "" && !o.allNamespaces {
		parts = append(parts, "namespace="+strconv.Quote(o.namespace))
	}
	if o.selector != "" {
		for _, kv := range strings.Split(o.selector, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				return fmt.Errorf("--selector: %q is not key=value", kv)
			}
			parts = append(parts, strings.TrimSuffix(k, "=")+"="+strconv.Quote(strings.TrimPrefix(v, "=")))
		}
	}
	for _, rx := range []struct{ key, re, flag string }{{"container", o.container, "--container"}, {"pod", o.podRegex, "POD_REGEX"}} {
		if rx.re == "" {
			continue
		}
		if _, err := regexp.Compile(rx.re); err != nil {
			return fmt.Errorf("%s: %w", rx.flag, err)
		}
		parts = append(parts, rx.key+"=~"+strconv.Quote(".*(?:"+rx.re+").*"))
	}
	if o.filter != "" {
		parts = append(parts, "("+o.filter+")")
	}
	o.sessionFilter = strings.Join(parts, " and ")
	if _, err := tail.ParseFilter(o.sessionFilter); err != nil {
		return fmt.Errorf("filter %q: %w", o.sessionFilter, err)
	}
	if o.user == "" {
		o.user = "cli"
		if u, err := user.Current(); err == nil {
			o.user = u.Username
		}
	}
	o.api = apiclient.New(o.server, o.token, nil)
	return nil
}

// openSession continues --session, or reuses this user's active session with
// the same filter and service, or creates one.
func (o *tailOptions) openSession(ctx context.Context) (*apiclient.Session, error) {
	if o.session != "" {
		return o.api.Session(ctx, o.session)
	}
	list, err := o.api.Sessions(ctx, o.user, true)
	if err != nil {
		return nil, err
	}
	for _, c := range list.Sessions {
		if c.Filter == o.sessionFilter && c.Service == o.service {
			return &c, nil
		}
	}
	// The tenant is the token's own: ask the server which that is.
	who, err := o.api.StorageInfo(ctx)
	if err != nil {
		return nil, err
	}
	return o.api.CreateSession(ctx, apiclient.SessionRequest{TenantID: who.Tenant, UserUUID: o.user, Filter: o.sessionFilter, Service: o.service})
}

// run follows the session, reconnecting with backoff and resuming from the
// last event it printed.
func (o *tailOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	s, err := o.openSession(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "kubelog tail: session %s (filter %q, service %q)\n", s.ID, o.sessionFilter, o.service)
	out := bufio.NewWriter(stdout)
	last := ""
	backoff := 100 * time.Millisecond
	for {
		got, err := o.stream(ctx, s.ID, &last, out)
		if ctx.Err() != nil {
			return nil
		}
		if got {
			backoff = 100 * time.Millisecond
		}
		var fatal *fatalStreamError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		fmt.Fprintf(stderr, "kubelog tail: %v; reconnecting in %s\n", err, backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

type fatalStreamError struct{ err error }

func (e *fatalStreamError) Error() string { return e.err.Error() }

// stream reads one connection's events; it reports whether it printed any.
func (o *tailOptions) stream(ctx context.Context, id string, last *string, out *bufio.Writer) (bool, error) {
	st, err := o.api.Stream(ctx, id, *last)
	if err != nil {
		var apiErr *apiclient.Error
		if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests {
			return false, &fatalStreamError{err}
		}
		return false, err
	}
	defer st.Close()
	printed := false
	for {
		ev, err := st.Next()
		if err == io.EOF {
			return printed, errors.New("stream closed by the server")
		}
		if err != nil {
			return printed, err
		}
		if err := o.print(out, ev); err != nil {
			return printed, &fatalStreamError{err}
		}
		printed = true
		if ev.ID != "" {
			*last = ev.ID
		}
		if err := out.Flush(); err != nil {
			return printed, &fatalStreamError{err}
		}
	}
}

func (o *tailOptions) print(out *bufio.Writer, ev apiclient.TailEvent) error {
	if ev.Gap != nil {
		_, err := fmt.Fprintf(out, "kubelog tail: gap: %s\n", ev.Data)
		return err
	}
	if o.output == "json" {
		_, err := fmt.Fprintf(out, "%s\n", ev.Data)
		return err
	}
	e := ev.Entry
	if o.timestamps {
		fmt.Fprintf(out, "%s ", e.Timestamp)
	}
	if o.output == "default" {
		pod := e.Namespace + "/" + e.Pod
		if o.color {
			pod = colorize(pod)
		}
		fmt.Fprintf(out, "%s %s ", pod, e.Container)
	}
	_, err := fmt.Fprintln(out, e.Message)
	return err
}

// colorize gives each pod a stable colour, as stern does.
func colorize(s string) string {
	colors := []int{31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96}
	h := 0
	for i := 0; i < len(s); i++ {
		h = h*31 + int(s[i])
	}
	if h < 0 {
		h = -h
	}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", colors[h%len(colors)], s)
}
