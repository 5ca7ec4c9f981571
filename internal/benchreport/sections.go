package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/internal/perf"
)

// Targets of the SDK's performance spec.
const (
	maxTimeRatio   = 1.10 // SDK time per call at most 1.10× the baseline's
	maxExtraAllocs = 10   // and at most 10 allocations more
	maxBodyCopies  = 1.5  // a large body held once, not twice
	minLimitUse    = 0.95 // 95% of the rate limit used while work waits
)

// figures are one benchmark's results per call.
type figures struct {
	ns, cpu, bytes, allocs, peak, copies float64
}

// pair is the medians of a case's rounds, for the SDK and the baseline.
type pair struct {
	sdk, base figures
	// timeRatio is the median of each round's SDK time over the
	// baseline's: each round runs the two back to back, so the ratio is
	// less disturbed than the medians by a machine whose load changes.
	timeRatio float64
	// spread is half the range of the rounds' ratios, a fraction of
	// timeRatio: how far one round can be from another.
	spread float64
}

func benchSection(ctx context.Context, cfg config, t *table, log io.Writer) error {
	srv := perf.NewServer()
	defer srv.Close()
	for _, c := range perf.Cases {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !cfg.bench.MatchString(c.Name) {
			continue
		}
		fmt.Fprintf(log, "benchmarking %s\n", c.Title)
		p, err := measure(c, srv, cfg.rounds)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Title, err)
		}
		benchRows(t, c, p)
	}
	return nil
}

// measure runs the case's two benchmarks rounds times, alternating which
// goes first so that neither always runs on a warmer or a busier machine.
func measure(c perf.Case, srv *perf.Server, rounds int) (pair, error) {
	var sdks, bases []figures
	var ratios []float64
	for i := range rounds {
		first, second := c.SDK, c.Baseline
		if i%2 == 1 {
			first, second = second, first
		}
		a, err := bench(first, srv)
		if err != nil {
			return pair{}, err
		}
		b, err := bench(second, srv)
		if err != nil {
			return pair{}, err
		}
		if i%2 == 1 {
			a, b = b, a
		}
		sdks, bases = append(sdks, a), append(bases, b)
		ratios = append(ratios, a.ns/b.ns)
	}
	r := median(ratios)
	return pair{
		sdk:       medians(sdks),
		base:      medians(bases),
		timeRatio: r,
		spread:    (slices.Max(ratios) - slices.Min(ratios)) / 2 / r,
	}, nil
}

func bench(f func(*testing.B, *perf.Server), srv *perf.Server) (figures, error) {
	r := testing.Benchmark(func(b *testing.B) { f(b, srv) })
	if r.N == 0 {
		return figures{}, errors.New("benchmark failed")
	}
	return figures{
		ns:     float64(r.T.Nanoseconds()) / float64(r.N),
		cpu:    r.Extra[perf.MetricCPU],
		bytes:  float64(r.AllocedBytesPerOp()),
		allocs: float64(r.AllocsPerOp()),
		peak:   r.Extra[perf.MetricPeak],
		copies: r.Extra[perf.MetricCopies],
	}, nil
}

func medians(fs []figures) figures {
	pick := func(get func(figures) float64) float64 {
		xs := make([]float64, len(fs))
		for i, f := range fs {
			xs[i] = get(f)
		}
		return median(xs)
	}
	return figures{
		ns:     pick(func(f figures) float64 { return f.ns }),
		cpu:    pick(func(f figures) float64 { return f.cpu }),
		bytes:  pick(func(f figures) float64 { return f.bytes }),
		allocs: pick(func(f figures) float64 { return f.allocs }),
		peak:   pick(func(f figures) float64 { return f.peak }),
		copies: pick(func(f figures) float64 { return f.copies }),
	}
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[n/2]
}

func benchRows(t *table, c perf.Case, p pair) {
	sdk, base := p.sdk, p.base
	timeRow := row{c.Title + ": time/op", duration(time.Duration(sdk.ns)), duration(time.Duration(base.ns)),
		fmt.Sprintf("%.3f× ±%.0f%%", p.timeRatio, 100*p.spread),
		fmt.Sprintf("≤ %.2f×", maxTimeRatio), yesNo(p.timeRatio <= maxTimeRatio)}
	if c.Direct {
		// The target is for calls over a connection; without one, the
		// difference is the SDK's own cost per call.
		timeRow.target, timeRow.met = "", ""
		t.add(timeRow)
		t.add(row{c.Title + ": SDK's own cost/op", fmt.Sprintf("%+.1fµs", (sdk.ns-base.ns)/1e3), "", "", "", ""})
	} else {
		t.add(timeRow)
	}
	if sdk.cpu > 0 {
		t.add(row{c.Title + ": CPU/op, server included", duration(time.Duration(sdk.cpu)), duration(time.Duration(base.cpu)),
			ratio(sdk.cpu, base.cpu), "", ""})
	}
	t.add(row{c.Title + ": allocs/op", fmt.Sprint(sdk.allocs), fmt.Sprint(base.allocs),
		fmt.Sprintf("%+.0f", sdk.allocs-base.allocs), fmt.Sprintf("≤ +%d", maxExtraAllocs),
		yesNo(sdk.allocs <= base.allocs+maxExtraAllocs)})
	t.add(row{c.Title + ": B/op", bytes(sdk.bytes), bytes(base.bytes), ratio(sdk.bytes, base.bytes), "", ""})
	if sdk.peak == 0 {
		return
	}
	t.add(row{c.Title + ": peak heap/op", bytes(sdk.peak), bytes(base.peak), ratio(sdk.peak, base.peak), "", ""})
	t.add(row{c.Title + ": body copies held", fmt.Sprintf("%.2f", sdk.copies), fmt.Sprintf("%.2f", base.copies),
		"", fmt.Sprintf("< %.1f", maxBodyCopies), yesNo(sdk.copies < maxBodyCopies)})
}

func connSection(t *table) error {
	const calls, callers, parallelCalls, coldTrials = 1000, 8, 800, 5
	seq, err := perf.Connections(1, calls)
	if err != nil {
		return fmt.Errorf("sequential calls: %w", err)
	}
	par, err := perf.Connections(callers, parallelCalls)
	if err != nil {
		return fmt.Errorf("parallel calls: %w", err)
	}
	t.add(row{fmt.Sprintf("Connections: %d sequential calls, %d%% answered 4xx/5xx", calls, errorShare(seq)),
		strconv.Itoa(seq.Conns), "", "", "= 1", yesNo(seq.Conns == 1)})
	t.add(row{fmt.Sprintf("Connections: %d parallel callers, %d calls, same mix", callers, parallelCalls),
		strconv.Itoa(par.Conns), "", "", fmt.Sprintf("≤ %d", callers), yesNo(par.Conns <= callers)})
	// The same callers without the fake holding their first calls
	// together: net/http's dial race, SDK or not.
	var sdkMost, baseMost int
	for range coldTrials {
		sdk, base, err := perf.ColdStart(callers, parallelCalls)
		if err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
		sdkMost, baseMost = max(sdkMost, sdk), max(baseMost, base)
	}
	t.add(row{fmt.Sprintf("Connections: %d parallel callers, cold start, most of %d trials", callers, coldTrials),
		strconv.Itoa(sdkMost), strconv.Itoa(baseMost), "", "", ""})
	return nil
}

// errorShare is the percentage of answers on the wire that were not 2xx.
func errorShare(r perf.ConnResult) int {
	all, bad := 0, 0
	for code, n := range r.Statuses {
		all += n
		if code >= 400 {
			bad += n
		}
	}
	return 100 * bad / max(all, 1)
}

// rateLimitSection runs the same busy program with the gate on and off,
// for each window, all at once: each run has a fake of its own.
func rateLimitSection(ctx context.Context, cfg config, t *table) error {
	// Four and a half windows of work: four in which callers wait for the
	// budget, and one that ends it.
	requests := cfg.limit*4 + cfg.limit/2
	if cfg.quick {
		requests = cfg.limit*2 + cfg.limit/2
	}
	var runs []perf.LimitRun
	for _, w := range cfg.windows {
		for _, gate := range []bool{true, false} {
			runs = append(runs, perf.LimitRun{Gate: gate, Limit: cfg.limit, Window: w, Callers: cfg.callers, Requests: requests})
		}
	}
	results := make([]perf.LimitResult, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Measure(ctx)
			if errs[i] == nil && results[i].Failed > 0 {
				errs[i] = fmt.Errorf("rate limit: %d calls failed with errors other than 429", results[i].Failed)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := 0; i < len(results); i += 2 {
		limitRows(t, results[i], results[i+1])
	}
	return nil
}

func limitRows(t *table, on, off perf.LimitResult) {
	name := fmt.Sprintf("Rate limit %d/%s, %d callers (gate on vs off)", on.Limit, on.Window, on.Callers)
	onLeast, onMean := on.Use()
	offLeast, offMean := off.Use()
	t.add(row{name + ": 2xx per busy window, least", percent(onLeast), percent(offLeast), "",
		"≥ " + percent(minLimitUse), yesNo(onLeast >= minLimitUse)})
	t.add(row{name + ": 2xx per busy window, mean", percent(onMean), percent(offMean), "", "", ""})
	t.add(row{name + ": 2xx per window", fmt.Sprint(on.PerWindow), fmt.Sprint(off.PerWindow), "", "", ""})
	t.add(row{name + ": 429s on the wire", strconv.Itoa(on.Wire429), strconv.Itoa(off.Wire429), "", "", ""})
	t.add(row{name + ": 429s returned to callers", strconv.Itoa(on.Surfaced429), strconv.Itoa(off.Surfaced429), "",
		"0 with the gate", yesNo(on.Surfaced429 == 0)})
	t.add(row{name + fmt.Sprintf(": time for %d calls", on.Requests), duration(on.Elapsed.Round(time.Millisecond)),
		duration(off.Elapsed.Round(time.Millisecond)), ratio(float64(on.Elapsed), float64(off.Elapsed)), "", ""})
}

// pollDurations are the run lengths polled.
var pollDurations = []time.Duration{2 * time.Second, 10 * time.Second, 30 * time.Second}

// pollTrials is how many runs of each length are polled each way: when a
// run ends between two polls is a matter of chance.
const pollTrials = 10

type pollOutcome struct {
	results map[pollKey][]perf.PollResult
	err     error
}

type pollKey struct {
	d    time.Duration
	mode string // pollDefault, pollFixed or pollWebhook
}

// How a poll run waits: the default backoff, a fixed 1 s poll, or woken by
// its webhook with polls as a fallback.
const (
	pollDefault = "default"
	pollFixed   = "fixed"
	pollWebhook = "webhook"
)

// startPolls measures every poll run at once, each on a fake of its own,
// and sends the results when the longest has ended.
func startPolls(ctx context.Context) <-chan pollOutcome {
	out := make(chan pollOutcome, 1)
	go func() {
		var mu sync.Mutex
		res := pollOutcome{results: map[pollKey][]perf.PollResult{}}
		var wg sync.WaitGroup
		for _, d := range pollDurations {
			for _, mode := range []string{pollDefault, pollFixed, pollWebhook} {
				run := perf.PollRun{Duration: d, Webhook: mode == pollWebhook}
				if mode == pollFixed {
					run.Options = perf.FixedPoll
				}
				for range pollTrials {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, err := run.Measure(ctx)
						mu.Lock()
						defer mu.Unlock()
						res.err = errors.Join(res.err, err)
						k := pollKey{d, mode}
						res.results[k] = append(res.results[k], r)
					}()
				}
			}
		}
		wg.Wait()
		out <- res
	}()
	return out
}

func pollSection(t *table, results map[pollKey][]perf.PollResult) {
	for _, d := range pollDurations {
		def, fixed := results[pollKey{d, pollDefault}], results[pollKey{d, pollFixed}]
		name := fmt.Sprintf("Polling a %s run, %d runs (default vs fixed 1 s)", d, len(def))
		dp, fp := meanPolls(def), meanPolls(fixed)
		t.add(row{name + ": polls, mean", fmt.Sprintf("%.1f", dp), fmt.Sprintf("%.1f", fp), ratio(dp, fp), "", ""})
		dm, dx := delays(def)
		fm, fx := delays(fixed)
		t.add(row{name + ": seen after completion, mean", duration(dm), duration(fm), "", "", ""})
		t.add(row{name + ": seen after completion, most", duration(dx), duration(fx), "", "", ""})

		hook := results[pollKey{d, pollWebhook}]
		name = fmt.Sprintf("Waiting for a %s run woken by its webhook, %d runs (vs default polling)", d, len(hook))
		hp, hmax := meanPolls(hook), maxPolls(hook)
		t.add(row{name + ": polls, mean", fmt.Sprintf("%.1f", hp), fmt.Sprintf("%.1f", dp), ratio(hp, dp), "", ""})
		t.add(row{name + ": polls, most", strconv.Itoa(hmax), "", "", "≤ 3", yesNo(hmax <= 3)})
		hm := medianDelay(hook)
		t.add(row{name + ": seen after completion, median", duration(hm), duration(medianDelay(def)), "",
			"< 100ms", yesNo(hm < 100*time.Millisecond)})
		_, hx := delays(hook)
		t.add(row{name + ": seen after completion, most", duration(hx), duration(dx), "", "", ""})
	}
}

func maxPolls(rs []perf.PollResult) int {
	most := 0
	for _, r := range rs {
		most = max(most, r.Polls)
	}
	return most
}

// medianDelay returns the median delay, to the millisecond.
func medianDelay(rs []perf.PollResult) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = r.Delay
	}
	slices.Sort(ds)
	return ds[len(ds)/2].Round(time.Millisecond)
}

func meanPolls(rs []perf.PollResult) float64 {
	sum := 0
	for _, r := range rs {
		sum += r.Polls
	}
	return float64(sum) / float64(max(len(rs), 1))
}

// delays returns the mean and the longest delay, to the millisecond.
func delays(rs []perf.PollResult) (mean, most time.Duration) {
	var sum time.Duration
	for _, r := range rs {
		sum += r.Delay
		most = max(most, r.Delay)
	}
	mean = sum / time.Duration(max(len(rs), 1))
	return mean.Round(time.Millisecond), most.Round(time.Millisecond)
}

// batchRows are the sizes of the batch measurements: the slice RunBatch
// takes is compared with RunBatchSeq at the smaller, and RunBatchSeq alone
// runs the larger.
var batchRows = struct{ compared, streamed int }{200_000, 1_000_000}

// batchSection measures the memory a large batch holds.
func batchSection(ctx context.Context, cfg config, t *table, log io.Writer) error {
	sizes := batchRows
	if cfg.quick {
		sizes.compared, sizes.streamed = 20_000, 100_000
	}
	srv := perf.NewServer()
	defer srv.Close()
	measure := func(n int, stream bool) (perf.BatchResult, error) {
		fmt.Fprintf(log, "running a batch of %d rows (stream %v)\n", n, stream)
		r, err := perf.Batch(ctx, srv, n, stream)
		if err == nil && r.Completed != n {
			err = fmt.Errorf("batch of %d rows: %d completed", n, r.Completed)
		}
		return r, err
	}
	seq, err := measure(sizes.compared, true)
	if err != nil {
		return err
	}
	all, err := measure(sizes.compared, false)
	if err != nil {
		return err
	}
	big, err := measure(sizes.streamed, true)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("Batch of %d rows, concurrency %d (RunBatchSeq vs RunBatch)", sizes.compared, perf.BatchConcurrency)
	t.add(row{name + ": peak heap", mib(seq.PeakHeap), mib(all.PeakHeap), ratio(float64(seq.PeakHeap), float64(all.PeakHeap)), "", ""})
	t.add(row{name + ": time", duration(seq.Elapsed.Round(time.Millisecond)), duration(all.Elapsed.Round(time.Millisecond)),
		ratio(float64(seq.Elapsed), float64(all.Elapsed)), "", ""})
	name = fmt.Sprintf("Batch of %d rows with RunBatchSeq, concurrency %d", sizes.streamed, perf.BatchConcurrency)
	t.add(row{name + ": peak heap", mib(big.PeakHeap), "", "", "< 64 MiB", yesNo(big.PeakHeap < 64<<20)})
	t.add(row{name + ": time", duration(big.Elapsed.Round(time.Millisecond)), "", "", "", ""})

	fmt.Fprintf(log, "running examples/enrich-csv on a CSV of %d rows\n", sizes.streamed)
	peak, elapsed, err := enrichCSVPeak(ctx, sizes.streamed)
	if err != nil {
		return err
	}
	name = fmt.Sprintf("examples/enrich-csv on a CSV of %d rows, concurrency 8", sizes.streamed)
	t.add(row{name + ": peak heap", mib(peak), "", "", "< 64 MiB", yesNo(peak < 64<<20)})
	t.add(row{name + ": time", duration(elapsed), "", "", "", ""})
	return nil
}

// enrichCSVPeak runs examples/enrich-csv's TestEnrichPeakHeap on a CSV of
// n rows, which runs the program in a process of its own against the
// fake, and returns the program's peak heap and how long it took.
func enrichCSVPeak(ctx context.Context, n int) (peak uint64, elapsed time.Duration, err error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestEnrichPeakHeap$", "-v", "-timeout", "1h",
		"github.com/bitscale/bitscale-go/examples/enrich-csv", "-heap-rows", strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("examples/enrich-csv: %w\n%s", err, out)
	}
	m := enrichCSVResult.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("examples/enrich-csv printed no peak heap:\n%s", out)
	}
	elapsed, err = time.ParseDuration(string(m[1]))
	if err != nil {
		return 0, 0, err
	}
	mb, err := strconv.ParseFloat(string(m[2]), 64)
	return uint64(mb * (1 << 20)), elapsed, err
}

// enrichCSVResult is the line of TestEnrichPeakHeap with its figures.
var enrichCSVResult = regexp.MustCompile(`, in (\S+): peak heap ([0-9.]+) MiB`)

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
