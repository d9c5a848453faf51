package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/kubelog/kubelog/internal/bench"
)

func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	tcfg := bench.TailConfig{Sessions: 100, LinesPerSec: 50_000, Seconds: 10, IdleSessions: 1000}
	var asJSON bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest, disk, memory and the standard queries on the standard dataset",
		Long: `bench generates the standard dataset from the loghub corpus (400 streams,
one hour, real lines with re-randomised digits, a needle in exactly 50 lines)
into a fresh temporary data directory, and measures ingest, disk use, peak RSS
and the queries q1 to q5 (median of --runs runs after a warm-up).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			if !asJSON {
				cfg.Progress = cmd.ErrOrStderr()
			}
			if cfg.Mode == "tail" {
				tcfg.Progress = cfg.Progress
				rep, err := bench.RunTail(cmd.Context(), tcfg)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
				}
				_, err = fmt.Fprint(cmd.OutOrStdout(), rep.Table())
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile) // #nosec G304 -- a file the user names on the command line
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), rep.Table())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Corpus, "corpus", cfg.Corpus, "directory of loghub *_2k.log files")
	f.IntVar(&cfg.Lines, "lines", cfg.Lines, "number of lines to generate")
	f.StringVar(&cfg.Mode, "mode", cfg.Mode, "engine (in-process), http (through a real server) or tail (live-tail latency)")
	f.IntVar(&tcfg.Sessions, "sessions", tcfg.Sessions, "tail mode: concurrent sessions, each matching 1/sessions of the lines")
	f.IntVar(&tcfg.LinesPerSec, "rate", tcfg.LinesPerSec, "tail mode: lines pushed per second")
	f.IntVar(&tcfg.Seconds, "seconds", tcfg.Seconds, "tail mode: seconds of pushing")
	f.IntVar(&tcfg.IdleSessions, "idle", tcfg.IdleSessions, "tail mode: idle streams opened to measure memory per stream")
	f.IntVar(&cfg.Senders, "senders", cfg.Senders, "concurrent senders")
	f.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "entries per append or push")
	f.StringVar(&cfg.Fsync, "fsync", cfg.Fsync, "WAL durability: always (ack after fsync), interval or never")
	f.StringVar(&cfg.PushFormat, "push-format", cfg.PushFormat, "http mode: push as json or protobuf")
	f.IntVar(&cfg.Runs, "runs", cfg.Runs, "timed runs per query after a warm-up")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of a table")
	return cmd
}
