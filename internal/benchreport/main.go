// Command benchreport measures the SDK against its performance targets and
// prints one table: each figure, the same figure for the baseline it is
// compared with, their ratio, the target and whether it is met. The
// baseline of a call is the same call written with plain net/http and
// encoding/json; of the rate limit, the same program with the SDK's gate
// off; of polling, a fixed one-second poll.
//
//	go run ./internal/benchreport         # everything, about eleven minutes
//	go run ./internal/benchreport -quick  # no polling, shorter benchmarks
//
// It measures:
//
//   - each call of internal/perf's Cases through the SDK and through plain
//     net/http and encoding/json (the baseline): time, bytes and
//     allocations per call, and for the large grid list the peak heap;
//   - the TCP connections opened by 1,000 sequential calls, 4xx and 5xx
//     answers among them, and by parallel callers;
//   - how much of a rate limit a busy program uses with the SDK's
//     rate-limit gate on, beside the same program with it off;
//   - the peak heap of a batch of 1,000,000 rows taken one at a time by
//     Grids.RunBatchSeq, and of 200,000 rows that way beside Grids.RunBatch
//     given them in a slice; and of examples/enrich-csv enriching a CSV of
//     1,000,000 rows on the fake, in a process of its own (most of the
//     time the report takes);
//   - how many polls Runs.PollUntilDone makes for runs of 2 s, 10 s and
//     30 s, and how late it sees them end, with the default backoff beside
//     a fixed one-second poll, and woken by the run's webhook in the same
//     process (bitscale.WithWebhookClient) beside the default backoff.
//
// The SDK against other clients (an ogen client, hand-written net/http) is
// measured apart, in the module internal/peers, whose dependencies must not
// enter this one; its package comment gives the command.
//
// Timings on a shared machine are noisy: each benchmark runs -rounds times,
// SDK and baseline back to back, and the table shows the medians; the
// ratio is the median of the rounds' ratios, ± half their range.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

type config struct {
	quick     bool
	benchtime time.Duration
	rounds    int
	skip      map[string]bool
	limit     int
	windows   []time.Duration
	bench     *regexp.Regexp
	callers   int
}

// sections are the parts of the report -skip can leave out.
var sections = []string{"bench", "conns", "ratelimit", "batch", "poll"}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	var skip, windows, bench string
	fs := flag.NewFlagSet("benchreport", flag.ExitOnError)
	fs.BoolVar(&cfg.quick, "quick", false, "skip polling, shorten the benchmarks and the rate-limit run")
	fs.DurationVar(&cfg.benchtime, "benchtime", 500*time.Millisecond, "run time of each benchmark round")
	fs.IntVar(&cfg.rounds, "rounds", 7, "benchmark rounds, SDK and baseline alternating; the medians are shown")
	fs.StringVar(&bench, "bench", ".", "regular expression: only the benchmark cases whose name matches, such as GridsGet")
	fs.StringVar(&skip, "skip", "", "comma-separated sections to leave out: "+strings.Join(sections, ", "))
	fs.IntVar(&cfg.limit, "limit", 50, "rate limit of the fake, requests per window")
	fs.StringVar(&windows, "windows", "1s,2s", "comma-separated rate-limit windows of the fake, whole seconds")
	fs.IntVar(&cfg.callers, "callers", 16, "goroutines sharing the rate-limited work")
	fs.Parse(args) // exits on an error
	var err error
	if cfg.bench, err = regexp.Compile(bench); err != nil {
		return cfg, fmt.Errorf("-bench: %w", err)
	}
	cfg.skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(sections, s) {
			return cfg, fmt.Errorf("-skip: unknown section %q", s)
		}
		cfg.skip[s] = true
	}
	if cfg.quick {
		cfg.benchtime, cfg.rounds = min(cfg.benchtime, 150*time.Millisecond), min(cfg.rounds, 3)
		cfg.skip["poll"] = true
	}
	for _, w := range strings.Split(windows, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(w))
		if err != nil || d < time.Second || d%time.Second != 0 {
			return cfg, fmt.Errorf("-windows: %q is not a whole number of seconds", w)
		}
		cfg.windows = append(cfg.windows, d)
	}
	if cfg.rounds < 1 || cfg.benchtime <= 0 || cfg.limit < 1 || cfg.callers < 1 {
		return cfg, fmt.Errorf("need -rounds, -benchtime, -limit and -callers above zero")
	}
	return cfg, nil
}

// run measures every section not skipped and writes the table to out and
// progress to log. Polling takes the longest and mostly waits, so it runs
// beside the other sections.
func run(ctx context.Context, cfg config, out, log io.Writer) error {
	// testing.Benchmark reads the -test.benchtime flag.
	testing.Init()
	if err := flag.Set("test.benchtime", cfg.benchtime.String()); err != nil {
		return err
	}
	var polls <-chan pollOutcome
	if !cfg.skip["poll"] {
		fmt.Fprintln(log, "polling runs of 2 s, 10 s and 30 s in the background")
		polls = startPolls(ctx)
	}
	var t table
	if !cfg.skip["bench"] {
		if err := benchSection(ctx, cfg, &t, log); err != nil {
			return err
		}
	}
	if !cfg.skip["conns"] {
		fmt.Fprintln(log, "counting connections")
		if err := connSection(&t); err != nil {
			return err
		}
	}
	if !cfg.skip["ratelimit"] {
		fmt.Fprintln(log, "using the rate limit, gate on and off")
		if err := rateLimitSection(ctx, cfg, &t); err != nil {
			return err
		}
	}
	if !cfg.skip["batch"] {
		if err := batchSection(ctx, cfg, &t, log); err != nil {
			return err
		}
	}
	if polls != nil {
		fmt.Fprintln(log, "waiting for the polled runs")
		p := <-polls
		if p.err != nil {
			return p.err
		}
		pollSection(&t, p.results)
	}
	fmt.Fprintf(out, "%s %s/%s, %d CPUs, GOMAXPROCS %d", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if !cfg.skip["bench"] {
		fmt.Fprintf(out, "; benchmarks: median of %d rounds of %s", cfg.rounds, cfg.benchtime)
	}
	fmt.Fprint(out, "\n\n")
	t.write(out)
	fmt.Fprintln(out, "\nBaseline: plain net/http and encoding/json for the calls; the same program with the gate off "+
		"for the rate limit; RunBatch given a slice for batches; a fixed 1 s poll, or the default backoff beside "+
		"waits woken by a webhook, for polling.")
	if n := t.missed(); n > 0 {
		fmt.Fprintf(out, "\n%d target(s) not met\n", n)
	}
	return nil
}
