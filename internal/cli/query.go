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
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/timeparse"
)

type queryOptions struct {
	server, token   string
	since           string
	from, to        string
	limit           int
	step, direction string
	output          string
	follow          bool
}

func newQueryCmd() *cobra.Command {
	o := &queryOptions{}
	cmd := &cobra.Command{
		Use:   "query LOGQL",
		Short: "Run a LogQL query against a kubelog server",
		Long: `query runs a LogQL query through the server's Loki-compatible API and prints
log streams the way logcli does, or metric results as a table. -f follows new
entries through the tail WebSocket.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if o.follow {
				return o.tail(cmd.Context(), args[0], cmd.OutOrStdout())
			}
			return o.run(cmd.Context(), args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", os.Getenv("KUBELOG_SERVER"), "kubelog server URL (env KUBELOG_SERVER)")
	f.StringVar(&o.token, "token", os.Getenv("KUBELOG_TOKEN"), "bearer token (env KUBELOG_TOKEN)")
	f.StringVar(&o.since, "since", "1h", "how far back from --to")
	f.StringVar(&o.from, "from", "", "start time (RFC3339 or Unix); overrides --since")
	f.StringVar(&o.to, "to", "", "end time (default now)")
	f.IntVar(&o.limit, "limit", 30, "entries to return for log queries")
	f.StringVar(&o.step, "step", "", "resolution of metric queries (default: about 250 points)")
	f.StringVar(&o.direction, "direction", "backward", "backward or forward")
	f.StringVarP(&o.output, "output", "o", "default", "default, raw or json")
	f.BoolVarP(&o.follow, "follow", "f", false, "follow new entries")
	return cmd
}

func (o *queryOptions) validate() error {
	if o.server == "" || o.token == "" {
		return errors.New("--server and --token (or KUBELOG_SERVER and KUBELOG_TOKEN) are required")
	}
	switch o.output {
	case "default", "raw", "json":
	default:
		return fmt.Errorf("--output must be default, raw or json, not %q", o.output)
	}
	if _, err := timeparse.ParseDuration(o.since); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	for _, t := range []struct{ flag, v string }{{"--from", o.from}, {"--to", o.to}} {
		if t.v != "" {
			if _, err := timeparse.ParseTime(t.v); err != nil {
				return fmt.Errorf("%s: %w", t.flag, err)
			}
		}
	}
	o.server = strings.TrimRight(o.server, "/")
	return nil
}

func (o *queryOptions) run(ctx context.Context, query string, out io.Writer) error {
	end := time.Now()
	if o.to != "" {
		end, _ = timeparse.ParseTime(o.to)
	}
	d, _ := timeparse.ParseDuration(o.since)
	start := end.Add(-d)
	if o.from != "" {
		start, _ = timeparse.ParseTime(o.from)
	}
	p := url.Values{"query": {query}, "start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)},
		"limit": {strconv.Itoa(o.limit)}, "direction": {o.direction}}
	if o.step != "" {
		p.Set("step", o.step)
	}
	// The answer is Loki's, not one of kubelog's own wire types.
	var r struct {
		Data struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := apiclient.New(o.server, o.token, nil).Do(ctx, http.MethodGet, "/loki/api/v1/query_range?"+p.Encode(), nil, &r); err != nil {
		return fmt.Errorf("query failed: %w", err)
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	if r.Data.ResultType == "streams" {
		var streams []logStream
		if err := json.Unmarshal(r.Data.Result, &streams); err != nil {
			return err
		}
		return o.printStreams(w, streams)
	}
	if o.output == "json" {
		_, err := w.Write(append(r.Data.Result, '\n'))
		return err
	}
	return printMetric(w, r.Data.ResultType, r.Data.Result)
}

type logStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// printStreams prints entries of all streams merged in time order, as logcli.
func (o *queryOptions) printStreams(w io.Writer, streams []logStream) error {
	type line struct {
		ts     int64
		labels map[string]string
		text   string
	}
	var lines []line
	for _, s := range streams {
		for _, v := range s.Values {
			ts, _ := strconv.ParseInt(v[0], 10, 64)
			lines = append(lines, line{ts, s.Stream, v[1]})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if o.direction == "forward" {
			return lines[i].ts < lines[j].ts
		}
		return lines[i].ts > lines[j].ts
	})
	for _, l := range lines {
		var err error
		switch o.output {
		case "raw":
			_, err = fmt.Fprintln(w, l.text)
		case "json":
			b, _ := json.Marshal(map[string]any{"labels": l.labels, "timestamp": time.Unix(0, l.ts).UTC().Format(time.RFC3339Nano), "line": l.text})
			_, err = fmt.Fprintln(w, string(b))
		default:
			_, err = fmt.Fprintf(w, "%s %s %s\n", time.Unix(0, l.ts).UTC().Format(time.RFC3339Nano), labelString(l.labels), l.text)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// printMetric prints a matrix, vector or scalar as a table.
func printMetric(w io.Writer, kind string, raw json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmtTime := func(v any) string {
		f, _ := v.(float64)
		return time.Unix(0, int64(f*1e9)).UTC().Format(time.RFC3339)
	}
	switch kind {
	case "matrix":
		var m []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		fmt.Fprintln(tw, "SERIES\tTIME\tVALUE")
		for _, s := range m {
			for _, v := range s.Values {
				fmt.Fprintf(tw, "%s\t%s\t%v\n", labelString(s.Metric), fmtTime(v[0]), v[1])
			}
		}
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(raw, &vec); err != nil {
			return err
		}
		fmt.Fprintln(tw, "SERIES\tTIME\tVALUE")
		for _, s := range vec {
			fmt.Fprintf(tw, "%s\t%s\t%v\n", labelString(s.Metric), fmtTime(s.Value[0]), s.Value[1])
		}
	default:
		var sc [2]any
		if err := json.Unmarshal(raw, &sc); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v\n", fmtTime(sc[0]), sc[1])
	}
	return nil
}

// tail follows the query through /loki/api/v1/tail.
func (o *queryOptions) tail(ctx context.Context, query string, out io.Writer) error {
	u := "ws" + strings.TrimPrefix(o.server, "http") + "/loki/api/v1/tail?" + url.Values{
		"query": {query}, "limit": {strconv.Itoa(o.limit)},
		"start": {strconv.FormatInt(time.Now().Add(-time.Minute).UnixNano(), 10)},
	}.Encode()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + o.token}}})
	if err != nil {
		return err
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	c.SetReadLimit(64 << 20)
	fw := *o
	fw.direction = "forward"
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var f struct {
			Streams []logStream `json:"streams"`
		}
		if err := json.Unmarshal(msg, &f); err != nil {
			return err
		}
		w := bufio.NewWriter(out)
		if err := fw.printStreams(w, f.Streams); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}
