package main

import (
	"bufio"
	gobytes "bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bitscale/bitscale-go/internal/perf"
)

// The peers section measures the SDK against the clients a Go developer
// might use instead of it. Their benchmarks live in the module
// internal/peers, whose dependencies must not enter this one, so they run
// as a test binary of its own and its output is read back.

// sdkImpl is the sub-benchmark of the SDK, the one the peers are compared
// with.
const sdkImpl = "sdk"

// peerColumns are the peers in the order of the table's columns, with
// their headings; a peer the benchmarks report beside these follows them,
// headed by its sub-benchmark name.
var peerColumns = []struct{ impl, heading string }{
	{"nethttp", "net/http"},
	{"resty", "resty"},
	{"oapigen", "oapi-codegen"},
	{"ogen", "ogen"},
}

// peerReport holds every pass's figures of the peers' benchmarks.
type peerReport struct {
	commands []string // what ran, to be run again by hand
	passes   int      // how many times it ran
	benches  []string // the benchmarks, in the order the binary lists them
	impls    []string // the peers, in column order, the SDK not among them
	// figs holds each benchmark's figures by impl, one per pass.
	figs map[string]map[string][]figures
}

// peersSection builds the peers' test binary once, then runs it
// cfg.rounds times, each time with another client first (its -rotate
// flag): go test -count would run one client's repetitions back to back,
// and a change in the machine's load would then fall on one client. It
// returns nil when no benchmark matches cfg.bench.
func peersSection(ctx context.Context, cfg config, log io.Writer) (*peerReport, error) {
	dir, err := peersDir(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "benchreport-peers")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "peers.test")
	fmt.Fprintln(log, "building the peers' benchmarks (internal/peers)")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	build.Dir = dir
	// The module is outside the repository's go.work.
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building internal/peers: %w\n%s", err, out)
	}

	list := exec.CommandContext(ctx, bin, "-test.list", "^Benchmark")
	list.Dir = dir
	out, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the peers' benchmarks: %w", err)
	}
	var names []string
	all := true
	for _, f := range strings.Fields(string(out)) {
		if name, ok := strings.CutPrefix(f, "Benchmark"); ok {
			if cfg.bench.MatchString(name) {
				names = append(names, name)
			} else {
				all = false
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	// Only the impl= sub-benchmarks: the decoder benchmarks beside them
	// compare decoders, not clients.
	pattern := "./^impl="
	if !all {
		pattern = "^Benchmark(" + strings.Join(names, "|") + ")$/^impl="
	}
	args := []string{"-test.run", "^$", "-test.bench", pattern, "-test.benchmem",
		"-test.benchtime", cfg.benchtime.String()}

	r := &peerReport{
		passes: cfg.rounds,
		figs:   map[string]map[string][]figures{},
		commands: []string{
			"cd internal/peers && GOWORK=off go test -c -o peers.test",
			fmt.Sprintf("./peers.test %s -rotate N    # N from 0 to %d, one after the other", shellArgs(args), cfg.rounds-1),
		},
	}
	for i := range cfg.rounds {
		fmt.Fprintf(log, "benchmarking the peers, pass %d of %d\n", i+1, cfg.rounds)
		cmd := exec.CommandContext(ctx, bin, append(args, "-rotate", strconv.Itoa(i))...)
		cmd.Dir = dir
		var stderr gobytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("peers' benchmarks, pass %d: %w\n%s%s", i+1, err, out, stderr.Bytes())
		}
		if err := r.parse(out); err != nil {
			return nil, fmt.Errorf("peers' benchmarks, pass %d: %w", i+1, err)
		}
	}
	return r, r.check()
}

// peersDir returns the directory of the module internal/peers, found from
// the SDK's module, so that the report runs from anywhere in the
// repository.
func peersDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/bitscale/bitscale-go").Output()
	if err != nil {
		return "", fmt.Errorf("finding the SDK's module (run the report inside the repository): %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "internal", "peers"), nil
}

// benchLine is a result line of go test -bench: the name with its
// GOMAXPROCS suffix, the iterations, then the figures.
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)/impl=(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse adds one pass's results to r.
func (r *peerReport) parse(out []byte) error {
	sc := bufio.NewScanner(gobytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		bench, impl := m[1], m[2]
		var f figures
		fields := strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return fmt.Errorf("%q: %w", sc.Text(), err)
			}
			switch fields[i+1] {
			case "ns/op":
				f.ns = v
			case perf.MetricCPU:
				f.cpu = v
			case "B/op":
				f.bytes = v
			case "allocs/op":
				f.allocs = v
			}
		}
		if r.figs[bench] == nil {
			r.figs[bench] = map[string][]figures{}
			r.benches = append(r.benches, bench)
		}
		r.figs[bench][impl] = append(r.figs[bench][impl], f)
		if impl != sdkImpl && !slices.Contains(r.impls, impl) {
			r.impls = append(r.impls, impl)
		}
	}
	return sc.Err()
}

// check puts the peers in column order and makes sure every client has a
// figure from every pass, so that the figures of one pass can be compared.
func (r *peerReport) check() error {
	rank := func(impl string) int {
		i := slices.IndexFunc(peerColumns, func(c struct{ impl, heading string }) bool { return c.impl == impl })
		if i < 0 {
			return len(peerColumns)
		}
		return i
	}
	slices.SortStableFunc(r.impls, func(a, b string) int { return rank(a) - rank(b) })
	for _, bench := range r.benches {
		for impl, fs := range r.figs[bench] {
			if len(fs) != r.passes {
				return fmt.Errorf("%s/impl=%s: %d results from %d passes", bench, impl, len(fs), r.passes)
			}
		}
		if r.figs[bench][sdkImpl] == nil {
			return fmt.Errorf("%s: no figures for the SDK", bench)
		}
	}
	return nil
}

// peerMetrics are the figures the table shows for each benchmark.
var peerMetrics = []struct {
	name   string
	get    func(figures) float64
	format func(float64) string
}{
	{"time/op", func(f figures) float64 { return f.ns }, func(v float64) string { return duration(time.Duration(v)) }},
	{"CPU/op, server included", func(f figures) float64 { return f.cpu }, func(v float64) string { return duration(time.Duration(v)) }},
	{"B/op", func(f figures) float64 { return f.bytes }, bytes},
	{"allocs/op", func(f figures) float64 { return f.allocs }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
}

// write prints the section: what ran, and a table with the SDK's medians
// and, for each peer, its median and its ratio to the SDK.
func (r *peerReport) write(w io.Writer) {
	fmt.Fprintf(w, "Peers: the same calls through the clients a Go developer might use instead, against the same "+
		"in-process server (internal/peers); %d passes of:\n\n", r.passes)
	for _, c := range r.commands {
		fmt.Fprintf(w, "    %s\n", c)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Each peer's cell: its median over the passes, then its figure over the SDK's in the same pass "+
		"(the median of those ratios, ± half their range as a share of it); above 1× the peer takes more than the SDK.")
	fmt.Fprintln(w)
	head := []string{"Figure", "SDK"}
	for _, impl := range r.impls {
		h := impl
		for _, c := range peerColumns {
			if c.impl == impl {
				h = c.heading
			}
		}
		head = append(head, h)
	}
	var rows [][]string
	for _, bench := range r.benches {
		figs := r.figs[bench]
		for _, m := range peerMetrics {
			sdk := values(figs[sdkImpl], m.get)
			if median(sdk) == 0 {
				continue // a figure this platform does not give, such as the CPU time
			}
			row := []string{peerTitle(bench) + ": " + m.name, m.format(median(sdk))}
			for _, impl := range r.impls {
				vs := values(figs[impl], m.get)
				if len(vs) == 0 {
					row = append(row, "")
					continue
				}
				ratios := make([]float64, len(vs))
				for i := range vs {
					ratios[i] = vs[i] / sdk[i]
				}
				rm := median(ratios)
				row = append(row, fmt.Sprintf("%s, %.2f× ±%.0f%%", m.format(median(vs)), rm,
					100*(slices.Max(ratios)-slices.Min(ratios))/2/rm))
			}
			rows = append(rows, row)
		}
	}
	writeMarkdown(w, head, rows)
}

func values(fs []figures, get func(figures) float64) []float64 {
	vs := make([]float64, len(fs))
	for i, f := range fs {
		vs[i] = get(f)
	}
	return vs
}

// peerTitle returns the report's name of a peers' benchmark: the title of
// internal/perf's case of the same name, if there is one.
func peerTitle(bench string) string {
	for _, c := range perf.Cases {
		if c.Name == bench {
			return c.Title
		}
	}
	if base, ok := strings.CutSuffix(bench, "Direct"); ok {
		return peerTitle(base) + ", no connection"
	}
	return bench
}

// shellArgs quotes for a POSIX shell the arguments that need it.
func shellArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$|()*? \"") {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
