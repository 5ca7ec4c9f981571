package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait, for the fake's runs and for the programs they
	// start, rather than compute: unless told otherwise, run more of them
	// at once than there are CPUs.
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", "8")
	}
	goleak.VerifyTestMain(m)
}

var outHeader = []string{"Full Name", "Company", "Enriched Email", "LinkedIn URL", "bitscale_status", "bitscale_error"}

// startFake starts a fake BitScale server for a test; environ points the
// program at it.
func startFake(t *testing.T, opts ...bitscaletest.Option) *bitscaletest.Server {
	t.Helper()
	srv := bitscaletest.NewServer(fakeOptions(opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// environ returns the environment, as os.Getenv gives it, that points the
// program at srv, so that run takes the path it takes with a real API key;
// with srv nil, an environment without a key.
func environ(srv *bitscaletest.Server) func(string) string {
	env := map[string]string{}
	if srv != nil {
		env = map[string]string{
			"BITSCALE_API_KEY":      srv.APIKey(),
			"BITSCALE_BASE_URL":     srv.URL(),
			"BITSCALE_WORKSPACE_ID": bitscaletest.SeedWorkspaceID,
		}
	}
	return func(k string) string { return env[k] }
}

// fakeOptions returns the options of a test's fake: async rows poll, so
// short runs and a limit the polls never reach keep the tests short; then
// opts.
func fakeOptions(opts ...bitscaletest.Option) []bitscaletest.Option {
	return append([]bitscaletest.Option{bitscaletest.WithRateLimit(1_000_000, time.Minute),
		bitscaletest.WithRunDurations(0, 0)}, opts...)
}

// leads copies testdata/leads.csv to a new directory and returns the paths
// of the copy and of an output next to it.
func leads(t *testing.T) (in, out string) {
	t.Helper()
	data, err := os.ReadFile("../../testdata/leads.csv")
	if err != nil {
		t.Fatal(err)
	}
	return writeInput(t, string(data))
}

// someLeads is leads with only the header and the first n rows of
// testdata/leads.csv, as written there, for a test whose point needs no
// more: every row costs the fake and the program a run.
func someLeads(t *testing.T, n int) (in, out string) {
	t.Helper()
	data, err := os.ReadFile("../../testdata/leads.csv")
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(data))
	for range n + 1 {
		if _, err := r.Read(); err != nil {
			t.Fatalf("testdata/leads.csv: a header and %d rows: %v", n, err)
		}
	}
	return writeInput(t, string(data[:r.InputOffset()]))
}

func writeInput(t *testing.T, csv string) (in, out string) {
	t.Helper()
	dir := tempDir(t)
	in, out = filepath.Join(dir, "leads.csv"), filepath.Join(dir, "enriched.csv")
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return in, out
}

// tempDir returns a new directory, removed when t ends, in memory where
// the system has a file system there. The tests kill processes, never the
// machine, so what the journal syncs to a disk changes nothing they
// assert; on a busy disk, each sync would only make them wait.
func tempDir(t *testing.T) string {
	t.Helper()
	if dir, err := os.MkdirTemp("/dev/shm", "enrich-csv-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

// result is what one call of run did.
type result struct {
	stdout, stderr string
	err            error
}

// enrichFile calls run with args, as main does, pointed at srv, and stop
// for Ctrl-C. With srv, BITSCALE_API_KEY points at a fake, so -run is
// given, and -poll short, so that async rows end soon after the fake's
// runs.
func enrichFile(t *testing.T, srv *bitscaletest.Server, stop <-chan struct{}, args ...string) result {
	t.Helper()
	return enrichFileContext(context.Background(), t, srv, stop, args...)
}

func enrichFileContext(ctx context.Context, t *testing.T, srv *bitscaletest.Server, stop <-chan struct{}, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"-run", "-poll", "1ms"}, args...)
	err := run(ctx, args, environ(srv), &stdout, &stderr, stop)
	t.Logf("run %q: %v\nstdout:\n%sstderr:\n%s", args, err, stdout.String(), stderr.String())
	return result{stdout.String(), stderr.String(), err}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return records
}

// runsByName counts the fake's runs by their "Full Name" input.
func runsByName(srv *bitscaletest.Server, status string) map[string]int {
	n := make(map[string]int)
	for _, r := range srv.Runs() {
		if status == "" || r.Status == status {
			n[r.Inputs[bitscaletest.ColumnFullName].(string)]++
		}
	}
	return n
}

// checkRows checks that the output rows are the input rows, in order, with
// the outputs the fake computes for them and the status want.
func checkRows(t *testing.T, srv *bitscaletest.Server, input, output [][]string, want bitscale.Outcome) {
	t.Helper()
	grid, _ := srv.Grid(bitscaletest.SeedGridID)
	for i, rec := range output {
		in := input[i]
		if !slices.Equal(rec[:2], in) {
			t.Fatalf("row %d starts with %q, want the input's %q", i+1, rec[:2], in)
		}
		if rec[4] != string(want) || rec[5] != "" {
			t.Errorf("row %d (%s) ended %q %q, want %s", i+1, in[0], rec[4], rec[5], want)
			continue
		}
		inputs := map[string]any{bitscaletest.ColumnFullName: in[0]}
		if in[1] != "" {
			inputs[bitscaletest.ColumnCompany] = in[1]
		}
		outputs, _ := bitscaletest.DefaultEnricher(context.Background(), bitscaletest.EnrichRequest{Grid: grid, Inputs: inputs})
		if rec[2] != outputs[bitscaletest.ColumnEnrichedEmail] || rec[3] != outputs[bitscaletest.ColumnLinkedInURL] {
			t.Errorf("row %d (%s) has outputs %q, %q, want %q, %q", i+1, in[0], rec[2], rec[3],
				outputs[bitscaletest.ColumnEnrichedEmail], outputs[bitscaletest.ColumnLinkedInURL])
		}
	}
}

func checkOnceEach(t *testing.T, srv *bitscaletest.Server, input [][]string) {
	t.Helper()
	runs := runsByName(srv, "")
	if len(srv.Runs()) != len(input) || len(runs) != len(input) {
		t.Errorf("the fake ran %d times for %d names, want %d, once each", len(srv.Runs()), len(runs), len(input))
	}
	for _, rec := range input {
		if runs[rec[0]] != 1 {
			t.Errorf("%s ran %d times, want once", rec[0], runs[rec[0]])
		}
	}
}

func checkSummary(t *testing.T, stdout string, want map[string]int) {
	t.Helper()
	for label, n := range want {
		var line string
		for l := range strings.Lines(stdout) {
			if strings.HasPrefix(l, label+" ") {
				line = l
			}
		}
		if fields := strings.Fields(line); len(fields) == 0 || fields[len(fields)-1] != strconv.Itoa(n) {
			t.Errorf("summary line %q is %q, want %d", label, strings.TrimSpace(line), n)
		}
	}
}

// statuses counts the output's rows by status.
func statuses(output [][]string) map[string]int {
	n := make(map[string]int)
	for _, rec := range output[1:] {
		n[rec[4]]++
	}
	return n
}

func TestEnrichAll(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	in, out := leads(t)

	r := enrichFile(t, srv, nil, "-grid", "grid_001", "-in", in, "-out", out)
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	input, output := readCSV(t, in), readCSV(t, out)
	if len(input) != 201 {
		t.Fatalf("testdata/leads.csv has %d records, want a header and 200 rows", len(input))
	}
	var quoted, nonASCII int
	for _, rec := range input[1:] {
		if strings.ContainsAny(rec[0]+rec[1], `,"`) {
			quoted++
		}
		if strings.IndexFunc(rec[0], func(r rune) bool { return r > unicode.MaxASCII }) >= 0 {
			nonASCII++
		}
	}
	if quoted < 5 || nonASCII < 5 {
		t.Errorf("testdata/leads.csv has %d rows that need quoting and %d non-ASCII names, want a few of each", quoted, nonASCII)
	}
	if !slices.Equal(output[0], outHeader) {
		t.Errorf("output header = %q, want %q", output[0], outHeader)
	}
	if len(output) != len(input) {
		t.Fatalf("output has %d rows, want %d", len(output)-1, len(input)-1)
	}
	checkRows(t, srv, input[1:], output[1:], bitscale.OutcomeCompleted)
	checkOnceEach(t, srv, input[1:])
	checkSummary(t, r.stdout, map[string]int{
		"rows in the input":    200,
		"done before this run": 0,
		"completed":            200,
		"failed":               0,
		"unknown":              0,
		"not run yet":          0,
		"credits consumed":     2400,
	})
	// stderr is not a terminal: a line every 50 rows.
	var lines []string
	for l := range strings.Lines(r.stderr) {
		if strings.Contains(l, "/200 rows") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	want := []string{
		"50/200 rows, 0 failed, 600 credits",
		"100/200 rows, 0 failed, 1200 credits",
		"150/200 rows, 0 failed, 1800 credits",
		"200/200 rows, 0 failed, 2400 credits",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("progress lines = %q, want %q", lines, want)
	}
}

func TestEnrichResumesAfterStop(t *testing.T) {
	t.Parallel()
	const rows, stopAfter = 50, 10
	var (
		calls atomic.Int32
		stop  = make(chan struct{})
	)
	srv := startFake(t, bitscaletest.WithEnricher(func(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
		if calls.Add(1) == stopAfter {
			close(stop) // as the first Ctrl-C does
		}
		return bitscaletest.DefaultEnricher(ctx, req)
	}))
	in, out := someLeads(t, rows)
	args := []string{"-grid", "grid_001", "-in", in, "-out", out}

	r := enrichFile(t, srv, stop, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interruption", r.err)
	}
	input, output := readCSV(t, in), readCSV(t, out)
	n := len(output) - 1
	// Every row started before the stop finishes and is written.
	if n < stopAfter || n >= rows {
		t.Fatalf("the stopped run wrote %d rows, want from %d to %d", n, stopAfter, rows-1)
	}
	checkRows(t, srv, input[1:], output[1:], bitscale.OutcomeCompleted)
	if runs := len(srv.Runs()); runs != n {
		t.Errorf("the fake ran %d rows, want the %d written", runs, n)
	}
	checkSummary(t, r.stdout, map[string]int{"completed": n, "not run yet": rows - n, "credits consumed": 12 * n})

	first, _ := os.ReadFile(out)
	r = enrichFile(t, srv, nil, args...)
	if r.err != nil {
		t.Fatalf("resumed run: %v", r.err)
	}
	output = readCSV(t, out)
	if len(output) != rows+1 {
		t.Fatalf("the resumed output has %d rows, want %d", len(output)-1, rows)
	}
	if data, _ := os.ReadFile(out); !bytes.HasPrefix(data, first) {
		t.Errorf("the resumed run changed the rows written before")
	}
	checkRows(t, srv, input[1:], output[1:], bitscale.OutcomeCompleted)
	checkOnceEach(t, srv, input[1:])
	checkSummary(t, r.stdout, map[string]int{
		"done before this run": n,
		"completed":            rows - n,
		"not run yet":          0,
		"credits consumed":     12 * (rows - n),
	})
}

func TestEnrichAbandonsRowsOnCancel(t *testing.T) {
	t.Parallel()
	const rows, cancelAt = 50, 10
	var (
		calls     atomic.Int32
		abandoned atomic.Value // the name of the row running when cancelled
		stop      = make(chan struct{})
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := startFake(t, bitscaletest.WithEnricher(func(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
		if calls.Add(1) == cancelAt {
			abandoned.Store(req.Inputs[bitscaletest.ColumnFullName])
			close(stop) // as a first Ctrl-C does
			cancel()    // and a second
			// The run started, but its answer never comes: the fake
			// holds it until it closes.
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return bitscaletest.DefaultEnricher(ctx, req)
	}))
	in, out := someLeads(t, rows)
	// A sync row abandoned stays unknown: the API cannot look it up.
	args := []string{"-sync", "-grid", "grid_001", "-in", in, "-out", out}

	r := enrichFileContext(ctx, t, srv, stop, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interruption", r.err)
	}
	output := readCSV(t, out)
	n := len(output) - 1
	written := make(map[string]string) // name → status
	for _, rec := range output[1:] {
		written[rec[0]] = rec[4]
	}
	if name := abandoned.Load().(string); written[name] != "unknown" {
		t.Errorf("the row abandoned, %s, has the status %q, want unknown", name, written[name])
	}
	if !strings.Contains(r.stdout, "status is unknown") {
		t.Errorf("the summary does not warn of the unknown rows")
	}
	first := output
	notRunBefore := statuses(first)[notRun] // rows abandoned before they were sent

	r = enrichFile(t, srv, nil, args...)
	if r.err != nil {
		t.Fatalf("resumed run: %v", r.err)
	}
	if output = readCSV(t, out); len(output) != rows+1 {
		t.Fatalf("the resumed output has %d rows, want %d", len(output)-1, rows)
	}
	for i, rec := range first[1:] {
		switch {
		case rec[4] == notRun && output[i+1][4] != "completed":
			t.Errorf("row %d, written %s, is now %q, want completed", i+1, notRun, output[i+1][4])
		case rec[4] != notRun && !slices.Equal(rec, output[i+1]):
			t.Errorf("the resumed run changed row %d from %q to %q", i+1, rec, output[i+1])
		}
	}
	// A row abandoned may or may not have reached the fake, and may reach
	// it late; none may reach it twice.
	runs := runsByName(srv, "")
	for _, rec := range output[1:] {
		if runs[rec[0]] > 1 {
			t.Errorf("%s, written as %s, ran %d times", rec[0], rec[4], runs[rec[0]])
		}
	}
	checkSummary(t, r.stdout, map[string]int{"done before this run": n - notRunBefore, "completed": rows - n + notRunBefore})
	if !strings.Contains(r.stdout, "status is unknown") {
		t.Errorf("the resumed run's summary does not warn of the unknown rows")
	}
}

func TestEnrichStopsWhenCreditsRunOut(t *testing.T) {
	t.Parallel()
	const rows, paid = 48, 12 // the credits pay for a quarter of the rows
	for _, concurrency := range []string{"1", "4"} {
		t.Run("concurrency="+concurrency, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t)
			if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, paid*12); err != nil {
				t.Fatal(err)
			}
			in, out := someLeads(t, rows)
			args := []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", concurrency}

			r := enrichFile(t, srv, nil, args...)
			if !errors.Is(r.err, bitscale.ErrInsufficientCredits) {
				t.Fatalf("err = %v, want one matching ErrInsufficientCredits", r.err)
			}
			input, first := readCSV(t, in), readCSV(t, out)
			n := len(first) - 1
			got := statuses(first)
			if concurrency == "1" && n != paid {
				t.Errorf("one row at a time, the first run wrote %d rows, want %d", n, paid)
			}
			// With rows running at once, an async row accepted while credits
			// remained can fail when it ends (it ran: failed), and a row
			// refused while a later one completes is written not run.
			if got["completed"] != paid || got["completed"]+got["failed"]+got[notRun] != n {
				t.Errorf("the first run wrote %d rows: %v, want %d completed and the others failed or %s", n, got, paid, notRun)
			}
			for _, rec := range first[1:] {
				if (rec[4] == "failed" || rec[4] == notRun) && !strings.Contains(rec[5], "credits") {
					t.Errorf("%s is %s with %q, want a lack of credits", rec[0], rec[4], rec[5])
				}
			}
			checkSummary(t, r.stdout, map[string]int{
				"completed":        paid,
				"failed":           got["failed"],
				"not run yet":      rows - paid - got["failed"],
				"credits consumed": paid * 12,
			})

			before := runsByName(srv, "")
			if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 100000); err != nil {
				t.Fatal(err)
			}
			// The rest of the rows, several at a time, whatever the first
			// run did.
			r = enrichFile(t, srv, nil, append(args, "-concurrency", "8")...)
			if r.err != nil {
				t.Fatalf("resumed run: %v", r.err)
			}
			output := readCSV(t, out)
			if len(output) != rows+1 {
				t.Fatalf("the resumed output has %d rows, want %d", len(output)-1, rows)
			}
			after, completed := runsByName(srv, ""), runsByName(srv, "completed")
			for i, rec := range output[1:] {
				switch {
				case i < n && first[i+1][4] != notRun && !slices.Equal(rec, first[i+1]):
					t.Errorf("the resumed run changed row %d from %q to %q", i+1, first[i+1], rec)
				case i < n && first[i+1][4] != notRun && after[rec[0]] != before[rec[0]]:
					t.Errorf("%s, written %s by the first run, was sent again", rec[0], first[i+1][4])
				}
				if want := map[string]int{"completed": 1}[rec[4]]; completed[rec[0]] != want {
					t.Errorf("%s, written as %s, completed %d runs, want %d", rec[0], rec[4], completed[rec[0]], want)
				}
			}
			checkRows(t, srv, input[n+1:], output[n+1:], bitscale.OutcomeCompleted)
			checkSummary(t, r.stdout, map[string]int{
				"done before this run": n - got[notRun],
				"completed":            rows - n + got[notRun],
				"not run yet":          0,
				"credits consumed":     12 * (rows - n + got[notRun]),
			})
		})
	}
}

// RunBatch reports no error when only the last rows are refused, after
// every row has started; the rows refused must still be left for the next
// run.
func TestEnrichStopsOnTheLastRow(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 2*12); err != nil {
		t.Fatal(err)
	}
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\nAlan Turing,Bletchley\n")
	args := []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "1"}

	r := enrichFile(t, srv, nil, args...)
	if !errors.Is(r.err, bitscale.ErrInsufficientCredits) {
		t.Fatalf("err = %v, want one matching ErrInsufficientCredits", r.err)
	}
	if output := readCSV(t, out); len(output) != 3 {
		t.Errorf("output has %d rows, want the 2 completed", len(output)-1)
	}
	checkSummary(t, r.stdout, map[string]int{"completed": 2, "failed": 0, "not run yet": 1})

	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 12); err != nil {
		t.Fatal(err)
	}
	if r = enrichFile(t, srv, nil, args...); r.err != nil {
		t.Fatalf("resumed run: %v", r.err)
	}
	output := readCSV(t, out)
	if len(output) != 4 || output[3][0] != "Alan Turing" || output[3][4] != "completed" {
		t.Errorf("output = %q, want Alan Turing completed last", output)
	}
}

func TestEnrichWritesInvalidRowsAsFailed(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\n,Nameless Inc\n\"  \",Blank Ltd\nGrace Hopper,\n")

	r := enrichFile(t, srv, nil, "-grid", "grid_001", "-in", in, "-out", out)
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	output := readCSV(t, out)
	want := [][]string{
		outHeader,
		{"Ada Lovelace", "Analytical Engines", "ada.lovelace@analyticalengines.com", "https://linkedin.com/in/adalovelace", "completed", ""},
		{"", "Nameless Inc", "", "", "failed", `bitscale: invalid inputs: "Full Name" is required`},
		{"  ", "Blank Ltd", "", "", "failed", `bitscale: invalid inputs: "Full Name" is required`},
		{"Grace Hopper", "", "grace.hopper@example.com", "https://linkedin.com/in/gracehopper", "completed", ""},
	}
	if !slices.EqualFunc(output, want, slices.Equal) {
		t.Errorf("output:\n%q\nwant:\n%q", output, want)
	}
	checkSummary(t, r.stdout, map[string]int{"completed": 2, "failed": 2, "credits consumed": 24})

	// The invalid rows were refused before any request.
	var posts int
	for _, req := range srv.Requests() {
		if req.Method == "POST" {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("%d runs were requested, want 2", posts)
	}
	// An empty cell is left out, not sent as empty text.
	for _, run := range srv.Runs() {
		if _, ok := run.Inputs[bitscaletest.ColumnCompany]; ok && run.Inputs[bitscaletest.ColumnFullName] == "Grace Hopper" {
			t.Errorf("Grace Hopper's empty Company was sent: %v", run.Inputs)
		}
	}
}

func TestEnrichKeepsUnknownRows(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	// The first run is served, but its answer is lost.
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultReset, AfterHandling: true})
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\n")
	args := []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "1"}

	r := enrichFile(t, srv, nil, args...)
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	output := readCSV(t, out)
	if got := statuses(output); got["unknown"] != 1 || got["completed"] != 1 || output[1][4] != "unknown" {
		t.Fatalf("statuses %v, Ada Lovelace %q; want Ada Lovelace unknown and Grace Hopper completed", got, output[1][4])
	}
	checkSummary(t, r.stdout, map[string]int{"completed": 1, "unknown": 1})

	// Nothing is left to do: the unknown row is not sent again, but the
	// summary still points at it.
	r = enrichFile(t, srv, nil, args...)
	if r.err != nil {
		t.Fatalf("second run: %v", r.err)
	}
	if len(srv.Runs()) != 2 {
		t.Errorf("the fake ran %d times, want 2", len(srv.Runs()))
	}
	checkSummary(t, r.stdout, map[string]int{"done before this run": 2, "unknown": 0})
	if !strings.Contains(r.stdout, "status is unknown: 1") {
		t.Errorf("the summary does not count the unknown row")
	}
}

func TestEnrichOnTheEmbeddedFake(t *testing.T) {
	t.Parallel()
	var srv *bitscaletest.Server // none: the program starts its own
	in, out := writeInput(t, "Full Name,Company\nJane Doe,Acme Corp\n")

	r := enrichFile(t, srv, nil, "-in", in, "-out", out)
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	if !strings.Contains(r.stderr, "using the embedded fake BitScale server") {
		t.Errorf("stderr does not say the fake is used")
	}
	want := []string{"Jane Doe", "Acme Corp", "jane.doe@acmecorp.com", "https://linkedin.com/in/janedoe", "completed", ""}
	if output := readCSV(t, out); len(output) != 2 || !slices.Equal(output[1], want) {
		t.Errorf("output = %q, want the row %q", output, want)
	}
}

func TestEnrichRefusesAnotherOutput(t *testing.T) {
	t.Parallel()
	const header = "Full Name,Company,Enriched Email,LinkedIn URL,bitscale_status,bitscale_error\n"
	const ada = "Ada Whitfield,Northwind Analytics,ada.whitfield@northwindanalytics.com,https://linkedin.com/in/adawhitfield,completed,\n"
	for _, tt := range []struct {
		name, existing, want string
	}{
		{"other columns", "Full Name,Company,Score,bitscale_status,bitscale_error\n", "not the"},
		{"other rows", header + "Zed Nobody,Nowhere,,,completed,\n", "row 1 of"},
		{"more rows", header + ada + ada, "more than the input's 1"},
		{"cut short", header + strings.TrimSuffix(ada, "completed,\n") + "compl", "middle of a row"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t)
			in, out := writeInput(t, "Full Name,Company\nAda Whitfield,Northwind Analytics\n")
			if err := os.WriteFile(out, []byte(tt.existing), 0o644); err != nil {
				t.Fatal(err)
			}
			r := enrichFile(t, srv, nil, "-grid", "grid_001", "-in", in, "-out", out)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", r.err, tt.want)
			}
			if data, _ := os.ReadFile(out); string(data) != tt.existing {
				t.Errorf("the output changed:\n%s", data)
			}
			if len(srv.Runs()) != 0 {
				t.Errorf("the fake ran %d times, want none", len(srv.Runs()))
			}
		})
	}
}

func TestEnrichRefusesBadArguments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		input string
		args  []string // {in} and {out} stand for the files; nil for the usual flags
		want  string
	}{
		{"no -in", "", []string{"-out", "{out}"}, "-in and -out are required"},
		{"same file", "", []string{"-in", "{in}", "-out", "{in}"}, "must be different"},
		{"no grid", "", []string{"-in", "{in}", "-out", "{out}"}, "-grid is required"},
		{"zero concurrency", "", []string{"-grid", "grid_001", "-in", "{in}", "-out", "{out}", "-concurrency", "0"}, "-concurrency"},
		{"no header", "", nil, "is empty"},
		{"unknown column", "Full Name,Email\nAda,ada@example.com\n", nil, `"Email" is not an input`},
		{"output column", "Full Name,LinkedIn URL\nAda,x\n", nil, `"LinkedIn URL" is not an input`},
		{"required column missing", "Company\nAcme\n", nil, `required input "Full Name"`},
		{"column twice", "Full Name,full name \nAda,Ada\n", nil, "both name"},
		{"too few credits", "Full Name\nAda\n",
			[]string{"-grid", "grid_001", "-in", "{in}", "-out", "{out}", "-min-credits", "1000000"}, "insufficient credits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t)
			in, out := writeInput(t, tt.input)
			args := tt.args
			if args == nil {
				args = []string{"-grid", "grid_001", "-in", "{in}", "-out", "{out}"}
			}
			files := strings.NewReplacer("{in}", in, "{out}", out)
			for i := range args {
				args[i] = files.Replace(args[i])
			}
			r := enrichFile(t, srv, nil, args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", r.err, tt.want)
			}
			if len(srv.Runs()) != 0 {
				t.Errorf("the fake ran %d times, want none", len(srv.Runs()))
			}
		})
	}
}

func TestProgressOnATerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, every: 50, before: done{rows: 10, failed: 2, credits: 96}, total: 20}
	p.update(bitscale.BatchProgress{Total: 10, Done: 1, Credits: 12})
	p.update(bitscale.BatchProgress{Total: 10, Done: 5, Failed: 1, Credits: 48})
	p.end()
	want := "\r[################..............] 11/20 rows, 2 failed, 108 credits" +
		"\r[######################........] 15/20 rows, 3 failed, 144 credits\n"
	if buf.String() != want {
		t.Errorf("progress wrote %q, want %q", buf.String(), want)
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		typ  bitscale.ColumnType
		cell string
		want any
	}{
		{bitscale.ColumnText, "42", "42"},
		{bitscale.ColumnNumber, "42", json.Number("42")},
		{bitscale.ColumnNumber, "-1.5e3", json.Number("-1.5e3")},
		{bitscale.ColumnNumber, "NaN", "NaN"},
		{bitscale.ColumnNumber, "0x1p4", "0x1p4"},
		{bitscale.ColumnNumber, "1,000", "1,000"},
		{bitscale.ColumnBoolean, "true", true},
		{bitscale.ColumnBoolean, "0", false},
		{bitscale.ColumnBoolean, "yes", "yes"},
		{bitscale.ColumnDate, "2024-04-15", "2024-04-15"},
	} {
		if got := value(tt.typ, tt.cell); got != tt.want {
			t.Errorf("value(%s, %q) = %#v, want %#v", tt.typ, tt.cell, got, tt.want)
		}
	}
}

func TestCell(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    any
		want string
	}{
		{nil, ""},
		{"a, \"b\"", "a, \"b\""},
		{float64(1234), "1234"},
		{json.Number("12.50"), "12.50"},
		{true, "true"},
		{map[string]any{"b": 1.0, "a": "x"}, `{"a":"x","b":1}`},
		{[]any{"x", 2.0}, `["x",2]`},
	} {
		if got := cell(tt.v); got != tt.want {
			t.Errorf("cell(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// A row abandoned while its async run was running is written as unknown;
// the next run looks it up by its run ID, sends nothing, and rewrites it.
func TestEnrichLooksUpAbandonedAsyncRows(t *testing.T) {
	t.Parallel()
	const rows, cancelAt = 50, 10
	var (
		calls     atomic.Int32
		abandoned atomic.Value // the name of the row running when cancelled
		release   = make(chan struct{})
		stop      = make(chan struct{})
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var srv *bitscaletest.Server
	srv = startFake(t, bitscaletest.WithEnricher(func(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
		if calls.Add(1) == cancelAt {
			abandoned.Store(req.Inputs[bitscaletest.ColumnFullName])
			// The fake runs the row as soon as it accepts it, maybe before
			// its answer reaches the program: wait for the program to poll
			// the run, which it does once it recorded the run's ID.
			for polls := runPolls(srv); runPolls(srv) == polls; {
				time.Sleep(time.Millisecond)
			}
			close(stop) // as a first Ctrl-C does
			cancel()    // and a second
			select {    // the run goes on after the program gave up on it
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return bitscaletest.DefaultEnricher(ctx, req)
	}))
	in, out := someLeads(t, rows)
	// One row at a time, so that no other row is caught between its
	// request and its answer, which would leave it unknown for good.
	args := []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "1"}

	r := enrichFileContext(ctx, t, srv, stop, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interruption", r.err)
	}
	if !strings.Contains(r.stdout, "whose run BitScale accepted") || !strings.Contains(r.stdout, "Run the same command again to look them up") {
		t.Errorf("the summary does not say the unknown rows will be looked up:\n%s", r.stdout)
	}
	name := abandoned.Load().(string)
	row := -1
	for i, rec := range readCSV(t, out)[1:] {
		if rec[0] == name {
			row = i + 1
			if rec[4] != "unknown" {
				t.Fatalf("the row abandoned, %s, is %q, want unknown", name, rec[4])
			}
		}
	}
	if row < 0 {
		t.Fatalf("the row abandoned, %s, is not in the output", name)
	}

	close(release)
	// The rest of the rows, several at a time: none is caught any more.
	r = enrichFile(t, srv, nil, append(args, "-concurrency", "8")...)
	if r.err != nil {
		t.Fatalf("resumed run: %v", r.err)
	}
	input, output := readCSV(t, in), readCSV(t, out)
	if len(output) != rows+1 {
		t.Fatalf("the resumed output has %d rows, want %d", len(output)-1, rows)
	}
	checkRows(t, srv, input[1:], output[1:], bitscale.OutcomeCompleted)
	checkOnceEach(t, srv, input[1:])
	if !regexp.MustCompile(`, [1-9]\d* of the output's to settle\n`).MatchString(r.stderr) {
		t.Errorf("stderr does not say that rows of the output are settled again")
	}
	if strings.Contains(r.stdout, "status is unknown") {
		t.Errorf("the summary still warns of unknown rows")
	}
	if _, err := os.Stat(out + ".journal"); err != nil {
		t.Errorf("the journal is not kept beside the output: %v", err)
	}
}

// runPolls counts the requests for a run the fake received.
func runPolls(srv *bitscaletest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "/runs/") {
			n++
		}
	}
	return n
}

// An unknown row is sent again only when named, and only if unknown.
func TestEnrichResendsOnlyTheUnknownRowsNamed(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultReset, AfterHandling: true})
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\n")
	args := []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "1"}
	r := enrichFile(t, srv, nil, args...)
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	if !strings.Contains(r.stdout, "(rows 1)") || !strings.Contains(r.stdout, "  -resend-unknown 1\n") {
		t.Errorf("the summary does not name row 1 and the flag that sends it again:\n%s", r.stdout)
	}
	for _, tt := range []struct{ rows, want string }{
		{"2", "row 2 is completed, not unknown"},
		{"3", "row 3 is not in the output yet"},
		{"x", `"x" is not a row number`},
	} {
		r = enrichFile(t, srv, nil, append(args, "-resend-unknown", tt.rows)...)
		if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
			t.Errorf("-resend-unknown %s: err = %v, want one saying %q", tt.rows, r.err, tt.want)
		}
	}
	if len(srv.Runs()) != 2 {
		t.Fatalf("the fake ran %d times, want 2", len(srv.Runs()))
	}

	r = enrichFile(t, srv, nil, append(args, "-resend-unknown", "1")...)
	if r.err != nil {
		t.Fatalf("resend: %v", r.err)
	}
	if runs := runsByName(srv, ""); runs["Ada Lovelace"] != 2 || runs["Grace Hopper"] != 1 {
		t.Errorf("runs by name = %v, want Ada Lovelace sent again and no one else", runs)
	}
	output := readCSV(t, out)
	if got := statuses(output); got["completed"] != 2 {
		t.Errorf("statuses %v, want both completed", got)
	}
	checkSummary(t, r.stdout, map[string]int{"done before this run": 1, "completed": 1, "credits consumed": 12})
}

// With a real key and no -run, nothing is sent: the rows are checked.
func TestEnrichOnlyChecksWithoutRun(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\n,Nameless Inc\n")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-grid", "grid_001", "-in", in, "-out", out}, environ(srv), &stdout, &stderr, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := "Checked 2 rows of " + in + " against grid Lead Enrichment — Q1 (grid_001): 1 would be sent, 1 would fail.\n" +
		"  row 2: bitscale: invalid inputs: \"Full Name\" is required\n" +
		"Nothing was sent. Add -run to run the grid and spend credits.\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
	if len(srv.Runs()) != 0 {
		t.Errorf("the fake ran %d times, want none", len(srv.Runs()))
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the output was created: %v", err)
	}
}

// A journal without its output, or an output its journal does not account
// for, is refused: either way rows that ran could be sent again.
func TestEnrichRefusesAJournalThatDoesNotFitTheOutput(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\n")
	args := []string{"-grid", "grid_001", "-in", in, "-out", out}
	if r := enrichFile(t, srv, nil, args...); r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	data, _ := os.ReadFile(out)

	os.Remove(out)
	r := enrichFile(t, srv, nil, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), "records 2 rows sent for "+out+", which is missing") {
		t.Errorf("without the output: err = %v, want the journal's rows named", r.err)
	}

	os.WriteFile(out, data, 0o644)
	os.Remove(out + ".journal")
	r = enrichFile(t, srv, nil, args...)
	if r.err == nil || !strings.Contains(r.err.Error(), "does not record row 1 of "+out+", which is completed") {
		t.Errorf("without the journal: err = %v, want the row it does not record named", r.err)
	}
	if len(srv.Runs()) != 2 {
		t.Errorf("the fake ran %d times, want 2", len(srv.Runs()))
	}
}

func TestEnrichExitStatus(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	in, out := leads(t)
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"-h"}, 0, "-resend-unknown rows"},
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{"bad value", []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "0"}, 2, "enrich-csv: -concurrency must be at least 1\nRun enrich-csv -h for the flags.\n"},
		{"no such grid", []string{"-run", "-grid", "grid_404", "-in", in, "-out", out}, 1, "enrich-csv: bitscale: GET /api/v1/grids/grid_404: 404 Not Found: GRID_NOT_FOUND"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := cli(context.Background(), tt.args, environ(srv), &stdout, &stderr, nil); code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr:\n%s\nwant it to hold %q", stderr.String(), tt.stderr)
			}
		})
	}
}

// A sync row resent and completed is written even when the run that sent
// it died before it could rewrite the row: the next run writes it from the
// journal, and sends nothing.
func TestEnrichWritesAResentRowFromTheJournal(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultReset, AfterHandling: true})
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\n")
	args := []string{"-sync", "-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "1"}
	if r := enrichFile(t, srv, nil, args...); r.err != nil {
		t.Fatal(r.err)
	}
	before, _ := os.ReadFile(out) // row 1 unknown
	if r := enrichFile(t, srv, nil, append(args, "-resend-unknown", "1")...); r.err != nil {
		t.Fatal(r.err)
	}
	if err := os.WriteFile(out, before, 0o644); err != nil { // as if killed before the rewrite
		t.Fatal(err)
	}
	runs := len(srv.Runs())

	r := enrichFile(t, srv, nil, args...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := readCSV(t, out)[1][4]; got != "completed" {
		t.Errorf("row 1 is %q, want completed, as the journal records it", got)
	}
	if strings.Contains(r.stdout, "status is unknown") {
		t.Errorf("the summary still calls row 1 unknown:\n%s", r.stdout)
	}
	if len(srv.Runs()) != runs {
		t.Errorf("the fake ran %d times, want %d: nothing is sent again", len(srv.Runs()), runs)
	}
}

// A row named to resend but refused (no credits) surely did not run: the
// next run sends it, unasked.
func TestEnrichSendsAResentRowThatWasRefused(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultReset, AfterHandling: true})
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\n")
	args := []string{"-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "1"}
	if r := enrichFile(t, srv, nil, args...); r.err != nil {
		t.Fatal(r.err)
	}
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 0); err != nil {
		t.Fatal(err)
	}
	if r := enrichFile(t, srv, nil, append(args, "-resend-unknown", "1")...); !errors.Is(r.err, bitscale.ErrInsufficientCredits) {
		t.Fatalf("resend without credits: err = %v, want insufficient credits", r.err)
	}
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 1000); err != nil {
		t.Fatal(err)
	}
	if r := enrichFile(t, srv, nil, args...); r.err != nil {
		t.Fatalf("rerun: %v", r.err)
	}
	if got := readCSV(t, out)[1][4]; got != "completed" {
		t.Errorf("row 1 is %q, want completed", got)
	}
	// The first run, whose answer was lost, and the one the user asked for.
	if n := runsByName(srv, "completed")["Ada Lovelace"]; n != 2 {
		t.Errorf("Ada Lovelace completed %d runs, want 2", n)
	}
}

// A row refused for credits while a later one completed is written as not
// run; the run says it is unfinished, and the next one sends the row.
func TestEnrichSendsRowsWrittenNotRun(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	// The first row is refused after the others have started, and ends
	// after them.
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultError,
		Status: 402, Code: "INSUFFICIENT_CREDITS", Message: "no credits", Delay: 100 * time.Millisecond})
	in, out := writeInput(t, "Full Name,Company\nAda Lovelace,Analytical Engines\nGrace Hopper,Navy\nAlan Turing,Bletchley\n")
	args := []string{"-sync", "-grid", "grid_001", "-in", in, "-out", out, "-concurrency", "3"}
	r := enrichFile(t, srv, nil, args...)
	if !errors.Is(r.err, bitscale.ErrInsufficientCredits) || !strings.Contains(r.err.Error(), "run the same command again") {
		t.Errorf("err = %v, want the refusal and how to continue", r.err)
	}
	// Whichever row the fault met is refused: written not_run if a later
	// row ended, and left out if it was the last.
	output := readCSV(t, out)
	st := statuses(output)
	if st["completed"] != 2 || st[notRun]+st["completed"] != len(output)-1 {
		t.Fatalf("output = %q, want 2 rows completed and the refused one %s or left out", output, notRun)
	}
	checkSummary(t, r.stdout, map[string]int{"completed": 2, "not run yet": 1})

	if r := enrichFile(t, srv, nil, args...); r.err != nil {
		t.Fatalf("rerun: %v", r.err)
	}
	output = readCSV(t, out)
	if got := statuses(output); got["completed"] != 3 {
		t.Errorf("statuses %v, want 3 completed", got)
	}
	checkOnceEach(t, srv, readCSV(t, in)[1:])
}
