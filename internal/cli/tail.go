package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/logmodel"
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
	o.server = strings.TrimRight(o.server, "/")
	return nil
}

type tailSession struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	LastCursor string `json:"lastCursor"`
	Filter     string `json:"filter"`
	Service    string `json:"service"`
	Active     bool   `json:"active"`
}

func (o *tailOptions) call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	status, b, err := fetch(ctx, method, o.server+path, o.token, rd)
	if err != nil {
		return err
	}
	if status >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// openSession continues --session, or reuses this user's active session with
// the same filter and service, or creates one.
func (o *tailOptions) openSession(ctx context.Context) (tailSession, error) {
	var s tailSession
	if o.session != "" {
		return s, o.call(ctx, "GET", "/api/v1/logs/tail/sessions/"+o.session, nil, &s)
	}
	var list struct {
		Sessions []tailSession `json:"sessions"`
	}
	if err := o.call(ctx, "GET", "/api/v1/logs/tail/sessions?active=true&userUuid="+url.QueryEscape(o.user), nil, &list); err != nil {
		return s, err
	}
	for _, c := range list.Sessions {
		if c.Filter == o.sessionFilter && c.Service == o.service {
			return c, nil
		}
	}
	// The tenant is the token's own: ask the server which that is.
	var who struct {
		Tenant string `json:"tenant"`
	}
	if err := o.call(ctx, "GET", "/api/v1/logs/storage/info", nil, &who); err != nil {
		return s, err
	}
	err := o.call(ctx, "POST", "/api/v1/logs/tail/sessions", map[string]string{
		"tenantId": who.Tenant, "userUuid": o.user, "filter": o.sessionFilter, "service": o.service,
	}, &s)
	return s, err
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
	req, err := http.NewRequestWithContext(ctx, "GET", o.server+"/api/v1/logs/tail/sessions/"+id+"/stream", nil)
	if err != nil {
		return false, &fatalStreamError{err}
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		err := fmt.Errorf("stream: %d %s", resp.StatusCode, bytes.TrimSpace(b))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return false, &fatalStreamError{err}
		}
		return false, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var kind, evID, data string
	printed := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				if err := o.print(out, kind, data); err != nil {
					return printed, &fatalStreamError{err}
				}
				printed = true
				if evID != "" {
					*last = evID
				}
			}
			kind, evID, data = "", "", ""
			if err := out.Flush(); err != nil {
				return printed, &fatalStreamError{err}
			}
		case strings.HasPrefix(line, "event: "):
			kind = line[7:]
		case strings.HasPrefix(line, "id: "):
			evID = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	if err := sc.Err(); err != nil {
		return printed, err
	}
	return printed, errors.New("stream closed by the server")
}

func (o *tailOptions) print(out *bufio.Writer, kind, data string) error {
	if kind == "gap" {
		_, err := fmt.Fprintf(out, "kubelog tail: gap: %s\n", data)
		return err
	}
	if o.output == "json" {
		_, err := fmt.Fprintln(out, data)
		return err
	}
	var e logmodel.EntryJSON
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return fmt.Errorf("bad event from the server: %w", err)
	}
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
