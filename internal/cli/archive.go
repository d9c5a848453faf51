package cli

import (
	"bytes"
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

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// archiveClient holds the server flags of the archive commands.
type archiveClient struct {
	server, token string
	api           *apiclient.Client
}

func (c *archiveClient) validate() error {
	if c.server == "" || c.token == "" {
		return errors.New("--server and --token (or KUBELOG_SERVER and KUBELOG_TOKEN) are required")
	}
	c.api = apiclient.New(c.server, c.token, &http.Client{Timeout: 5 * time.Minute})
	return nil
}

func (c *archiveClient) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.server, "server", os.Getenv("KUBELOG_SERVER"), "kubelog server URL (env KUBELOG_SERVER)")
	f.StringVar(&c.token, "token", os.Getenv("KUBELOG_TOKEN"), "bearer token (env KUBELOG_TOKEN)")
}

func newArchiveCmd() *cobra.Command {
	c := &archiveClient{}
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Manage archives to S3: policies, jobs, archived objects",
		Long: `archive talks to a kubelog server (--server, --token) to manage archive
policies, start and follow archive jobs, list archived objects and print them.`,
	}
	c.addFlags(cmd)
	cmd.AddCommand(newArchivePoliciesCmd(c), newArchiveStartCmd(c), newArchiveJobsCmd(c), newArchiveLsCmd(c), newArchiveCatCmd(c))
	return cmd
}

func newArchivePoliciesCmd(c *archiveClient) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "List archive policies; create one with --create FILE (JSON, - for stdin); delete with --delete ID",
		Args:  cobra.NoArgs,
	}
	var del string
	cmd.Flags().StringVar(&file, "create", "", "create the policy in this JSON file (- reads stdin)")
	cmd.Flags().StringVar(&del, "delete", "", "delete the policy with this id")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := c.validate(); err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		switch {
		case file != "" && del != "":
			return errors.New("give --create or --delete, not both")
		case file != "":
			var b []byte
			var err error
			if file == "-" {
				b, err = io.ReadAll(cmd.InOrStdin())
			} else {
				b, err = os.ReadFile(file) // #nosec G304 -- a file the user names on the command line
			}
			if err != nil {
				return err
			}
			var body apiclient.PolicyRequest
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				return fmt.Errorf("--create %s: %w", file, err)
			}
			p, err := c.api.CreatePolicy(cmd.Context(), body)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, p.ID)
			return nil
		case del != "":
			if _, err := c.api.DeletePolicy(cmd.Context(), del); err != nil {
				return err
			}
			fmt.Fprintln(out, "deleted", del)
			return nil
		}
		r, err := c.api.Policies(cmd.Context())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSELECTOR\tOLDER THAN\tSCHEDULE\tDESTINATION\tDELETE\tENABLED")
		for _, p := range r.Policies {
			d := p.Destination
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\ts3://%s/%s (%s)\t%v\t%v\n", p.ID, p.Name, p.Selector, p.OlderThan, p.Schedule, d.Bucket, d.Prefix, d.Endpoint, p.DeleteAfterArchive, p.Enabled)
		}
		return tw.Flush()
	}
	return cmd
}

func parseOptTime(flag, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	t, err := timeparse.ParseTime(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

func newArchiveStartCmd(c *archiveClient) *cobra.Command {
	var policy, from, to string
	var wait bool
	cmd := &cobra.Command{
		Use:   "start --policy ID",
		Short: "Start an archive job now; --wait follows it with a progress bar",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			if policy == "" {
				return errors.New("--policy is required")
			}
			body := apiclient.ArchiveStart{PolicyID: policy}
			var err error
			if body.StartTime, err = parseOptTime("--from", from); err != nil {
				return err
			}
			if body.EndTime, err = parseOptTime("--to", to); err != nil {
				return err
			}
			j, err := c.api.StartArchive(cmd.Context(), body)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !wait {
				fmt.Fprintln(out, j.ID)
				return nil
			}
			return followJob(cmd.Context(), c, j.ID, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&policy, "policy", "", "policy id")
	f.StringVar(&from, "from", "", "start of the range (default: where the policy's last job ended)")
	f.StringVar(&to, "to", "", "end of the range (default: the last whole hour older than the policy's older_than)")
	f.BoolVar(&wait, "wait", false, "wait for the job, showing progress, rate and ETA")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine renders a job's progress: a bar on a terminal, plain text
// otherwise, with the raw rate and the time left.
func progressLine(j *apiclient.ArchiveJob, elapsed time.Duration, bar bool) string {
	p := j.Progress
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.RawBytes) / s
	}
	eta := "?"
	if p.Lines > 0 && p.TotalLines > p.Lines && elapsed > 0 {
		left := time.Duration(float64(elapsed) * float64(p.TotalLines-p.Lines) / float64(p.Lines))
		eta = left.Round(time.Second).String()
	} else if p.TotalLines > 0 && p.Lines >= p.TotalLines {
		eta = "0s"
	}
	text := fmt.Sprintf("%5.1f%% %d/%d lines, %d objects, %.1f MB/s, ETA %s", p.Percent, p.Lines, p.TotalLines, p.Objects, rate/1e6, eta)
	if !bar {
		return j.Status + " " + text
	}
	const width = 30
	n := min(width, int(p.Percent/100*width))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "] " + text
}

// followJob polls a job until it ends.
func followJob(ctx context.Context, c *archiveClient, id string, out io.Writer) error {
	tty := isTerminal(out)
	began := time.Now()
	lastPlain := time.Time{}
	for {
		j, err := c.api.ArchiveJob(ctx, id)
		if err != nil {
			return err
		}
		done := j.Status != "pending" && j.Status != "running"
		switch {
		case tty:
			fmt.Fprintf(out, "\r%s", progressLine(j, time.Since(began), true))
		case done || time.Since(lastPlain) >= 2*time.Second:
			fmt.Fprintln(out, progressLine(j, time.Since(began), false))
			lastPlain = time.Now()
		}
		if done {
			if tty {
				fmt.Fprintln(out)
			}
			ratio := 0.0
			if j.Progress.CompressedBytes > 0 {
				ratio = float64(j.Progress.RawBytes) / float64(j.Progress.CompressedBytes)
			}
			fmt.Fprintf(out, "job %s %s: %d objects, %d lines, %d raw bytes, compression %.1fx, %d local entries deleted, took %s\n",
				j.ID, j.Status, j.Progress.Objects, j.Progress.Lines, j.Progress.RawBytes, ratio, j.DeletedEntries, time.Since(began).Round(time.Millisecond))
			if j.Status != "succeeded" {
				return fmt.Errorf("job %s %s: %s", j.ID, j.Status, j.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func newArchiveJobsCmd(c *archiveClient) *cobra.Command {
	var policy, status string
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List archive jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			q := url.Values{}
			if policy != "" {
				q.Set("policy_id", policy)
			}
			if status != "" {
				q.Set("status", status)
			}
			r, err := c.api.ArchiveJobs(cmd.Context(), q)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPOLICY\tSTATUS\tRANGE\tOBJECTS\tLINES\tPERCENT\tERROR")
			for _, j := range r.Jobs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s..%s\t%d\t%d\t%.1f\t%s\n", j.ID, j.PolicyID, j.Status, j.StartTime.Format(time.RFC3339), j.EndTime.Format(time.RFC3339),
					j.Progress.Objects, j.Progress.Lines, j.Progress.Percent, j.Error)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "", "only this policy's jobs")
	cmd.Flags().StringVar(&status, "status", "", "only jobs in these statuses (comma-separated)")
	return cmd
}

func newArchiveLsCmd(c *archiveClient) *cobra.Command {
	var cluster, namespace, pod, container, from, to string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List archived objects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			for k, v := range map[string]string{"cluster": cluster, "namespace": namespace, "pod": pod, "container": container} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for _, t := range []struct{ flag, param, v string }{{"--from", "start_time", from}, {"--to", "end_time", to}} {
				s, err := parseOptTime(t.flag, t.v)
				if err != nil {
					return err
				}
				if s != "" {
					q.Set(t.param, s)
				}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSIZE\tLINES\tSTART\tEND")
			for {
				r, err := c.api.Objects(cmd.Context(), q)
				if err != nil {
					return err
				}
				for _, o := range r.Objects {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", o.Key, o.Size, o.Lines, o.StartTime.Format(time.RFC3339Nano), o.EndTime.Format(time.RFC3339Nano))
				}
				if !r.HasMore {
					return tw.Flush()
				}
				q.Set("cursor", r.NextCursor)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&cluster, "cluster", "", "cluster")
	f.StringVarP(&namespace, "namespace", "n", "", "namespace")
	f.StringVar(&pod, "pod", "", "pod")
	f.StringVarP(&container, "container", "c", "", "container")
	f.StringVar(&from, "from", "", "objects ending at or after this time")
	f.StringVar(&to, "to", "", "objects starting before this time")
	return cmd
}

func newArchiveCatCmd(c *archiveClient) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "cat KEY",
		Short: "Print an archived object: its NDJSON lines (-o json, the default) or messages (-o raw)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(); err != nil {
				return err
			}
			if output != "json" && output != "raw" {
				return fmt.Errorf("--output must be json or raw, not %q", output)
			}
			rc, err := c.api.ObjectRaw(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer rc.Close()
			out := cmd.OutOrStdout()
			if output == "json" {
				_, err = io.Copy(out, rc)
				return err
			}
			dec := json.NewDecoder(rc)
			for {
				var e struct{ Message string }
				if err := dec.Decode(&e); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				fmt.Fprintln(out, e.Message)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "json or raw")
	return cmd
}
