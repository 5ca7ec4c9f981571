package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
)

// startEnrichFake starts a fake whose async runs end as soon as they are
// accepted, which spares enrich's rows a poll each.
func startEnrichFake(t *testing.T, opts ...bitscaletest.Option) *bitscaletest.Server {
	t.Helper()
	return startFake(t, append([]bitscaletest.Option{bitscaletest.WithRunDurations(0, 0)}, opts...)...)
}

// leads copies the SDK's testdata/leads.csv, 200 rows of Full Name and
// Company, to a new directory, and returns it and an output beside it.
func leads(t *testing.T) (in, out string) {
	t.Helper()
	data, err := os.ReadFile("../../testdata/leads.csv")
	if err != nil {
		t.Fatal(err)
	}
	return writeInput(t, "leads.csv", string(data))
}

// someLeads is leads with only the first n rows, for a test whose point
// holds for any number of rows: each row enriched costs CPU, the more so
// under the race detector.
func someLeads(t *testing.T, n int) (in, out string) {
	t.Helper()
	all, _ := leads(t)
	records := readCSVFile(t, all)
	if n+1 > len(records) {
		t.Fatalf("leads.csv has %d rows, want at least %d", len(records)-1, n)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.WriteAll(records[:n+1]); err != nil {
		t.Fatal(err)
	}
	return writeInput(t, "leads.csv", b.String())
}

func writeInput(t *testing.T, name, data string) (in, out string) {
	t.Helper()
	dir := tempDir(t)
	in = filepath.Join(dir, name)
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return in, filepath.Join(dir, "enriched"+filepath.Ext(name))
}

// tempDir returns a new directory, removed when t ends, in memory where
// the system has a file system there. The tests kill processes, never the
// machine, so what the journal syncs to a disk changes nothing they
// assert; on a busy disk, each sync would only make them wait.
func tempDir(t *testing.T) string {
	t.Helper()
	if dir, err := os.MkdirTemp("/dev/shm", "bitscale-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

func readCSVFile(t *testing.T, path string) [][]string {
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

// runsByName counts the fake's runs by their Full Name input.
func runsByName(srv *bitscaletest.Server) map[string]int {
	n := make(map[string]int)
	for _, r := range srv.Runs() {
		n[r.Inputs[bitscaletest.ColumnFullName].(string)]++
	}
	return n
}

// checkNoneTwice fails the test when a row of the input ran more than once.
func checkNoneTwice(t *testing.T, srv *bitscaletest.Server) map[string]int {
	t.Helper()
	runs := runsByName(srv)
	for name, n := range runs {
		if n > 1 {
			t.Errorf("%s ran %d times", name, n)
		}
	}
	return runs
}

// checkOutput checks that the output holds the input's rows in order, each
// with status want and, when completed, the fake's outputs.
func checkOutput(t *testing.T, in, out string, want string) {
	t.Helper()
	input, output := readCSVFile(t, in), readCSVFile(t, out)
	wantHeader := []string{"Full Name", "Company", "Enriched Email", "LinkedIn URL", statusColumn, errorColumn, runIDColumn}
	if !slices.Equal(output[0], wantHeader) {
		t.Fatalf("output header %q, want %q", output[0], wantHeader)
	}
	if len(output) != len(input) {
		t.Fatalf("output has %d rows, want %d", len(output)-1, len(input)-1)
	}
	for i, rec := range output[1:] {
		if !slices.Equal(rec[:2], input[i+1]) {
			t.Fatalf("row %d is %q, want the input's %q", i+1, rec[:2], input[i+1])
		}
		if rec[4] != want {
			t.Errorf("row %d ended %q (%s), want %s", i+1, rec[4], rec[5], want)
		}
		if want == "completed" && (!strings.Contains(rec[2], "@") || rec[6] == "") {
			t.Errorf("row %d has no outputs or run ID: %q", i+1, rec)
		}
	}
}

func TestEnrichCSV(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	in, out := leads(t)
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out, "--concurrency", "8")
	wantCode(t, r, exitOK)
	checkOutput(t, in, out, "completed")
	if runs := checkNoneTwice(t, srv); len(runs) != 200 {
		t.Errorf("%d rows ran, want 200", len(runs))
	}
	if _, err := os.Stat(out + ".journal"); err != nil {
		t.Errorf("no journal beside the output: %v", err)
	}
	if !strings.Contains(r.stdout, "completed          200") || !strings.Contains(r.stdout, "credits, this run  2400") {
		t.Errorf("the summary does not count 200 rows completed for 2400 credits:\n%s", r.stdout)
	}

	// Run again: every row comes from the journal, and nothing is sent.
	before, _ := os.ReadFile(out)
	r = cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out)
	wantCode(t, r, exitOK)
	if n := len(srv.Runs()); n != 200 {
		t.Errorf("the fake ran %d times after the rerun, want 200", n)
	}
	after, _ := os.ReadFile(out)
	if string(before) != string(after) {
		t.Errorf("the rerun wrote another output")
	}
	if !strings.Contains(r.stdout, "from earlier runs  200") || strings.Contains(r.stdout, "credits, this run") {
		t.Errorf("the rerun's summary does not say every row came from the journal:\n%s", r.stdout)
	}
}

func TestEnrichJSONLinesStdinStdout(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	journal := filepath.Join(t.TempDir(), "leads.journal")
	stdin := `{"Full Name": "Ada Lovelace", "Company": "Analytical Engines"}
{"Full Name": "Charles Babbage"}
{"Company": "Nobody"}
`
	r := cli(t, invocation{env: env(srv), stdin: stdin},
		"enrich", "grid_001", "-", "--in-format", "jsonl", "-o", "-", "--journal", journal, "--json")
	wantCode(t, r, exitPartial) // the third row has no Full Name
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("stdout has %d lines, want 3", len(lines))
	}
	want := []string{"completed", "completed", "failed"}
	for i, line := range lines {
		var row map[string]any
		decode(t, line, &row)
		if row[statusColumn] != want[i] {
			t.Errorf("line %d: status %v, want %s: %s", i+1, row[statusColumn], want[i], line)
		}
	}
	if !strings.HasPrefix(lines[0], `{"Full Name":"Ada Lovelace","Company":"Analytical Engines","Enriched Email":`) {
		t.Errorf("line 1 is not the input's columns, then the outputs: %s", lines[0])
	}
	// The summary goes to stderr, after the progress, as JSON.
	start := strings.Index(r.stderr, "{\n")
	if start < 0 {
		t.Fatalf("no JSON summary on stderr:\n%s", r.stderr)
	}
	var s summary
	if err := json.NewDecoder(strings.NewReader(r.stderr[start:])).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s.Completed != 2 || s.Failed != 1 || s.Rows != 3 {
		t.Errorf("summary %+v", s)
	}
	if n := len(srv.Runs()); n != 2 {
		t.Errorf("the fake ran %d times, want 2", n)
	}
}

func TestEnrichDryRun(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	in, _ := writeInput(t, "leads.csv", "Full Name,Company\nAda Lovelace,Analytical Engines\n,Nobody Ltd\nCharles Babbage,\n")
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "--dry-run")
	wantCode(t, r, exitPartial)
	want := "Checked 3 rows of " + in + " against grid grid_001 (Lead Enrichment — Q1): 2 would be sent, 1 would fail.\n" +
		"  row 2: bitscale: invalid inputs: \"Full Name\" is required\n" +
		"Nothing was sent.\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}

	r = cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "--dry-run", "--json")
	wantCode(t, r, exitPartial)
	var check struct {
		Rows      int `json:"rows"`
		WouldSend int `json:"would_send"`
		WouldFail []struct {
			Row   int    `json:"row"`
			Error string `json:"error"`
		} `json:"would_fail"`
	}
	decode(t, r.stdout, &check)
	if check.Rows != 3 || check.WouldSend != 2 || len(check.WouldFail) != 1 || check.WouldFail[0].Row != 2 {
		t.Errorf("--dry-run --json: %+v", check)
	}
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("a dry run ran %d times", n)
	}
}

func TestEnrichRefusesAHeaderThatIsNotTheGrids(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	in, out := writeInput(t, "leads.csv", "Full Name,Compnay\nAda Lovelace,Analytical Engines\n")
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out)
	wantCode(t, r, exitUsage)
	if !strings.Contains(r.stderr, `column "Compnay" is not an input of grid grid_001`) {
		t.Errorf("stderr: %s", r.stderr)
	}
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the fake ran %d times", n)
	}
}

func TestEnrichMaxCredits(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t) // a run costs 12 credits
	const rows = 40           // enough for the limit to stop the batch with rows left
	in, out := someLeads(t, rows)
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out, "--concurrency", "8", "--max-credits", "100")
	wantCode(t, r, exitPartial)
	spent := 0
	for _, run := range srv.Runs() {
		spent += run.Credits
	}
	// Rows cost 12: the most that cannot pass 100 is 8 rows, 96 credits,
	// and the batch stops only when one more row could pass it.
	if spent != 96 {
		t.Errorf("spent %d credits with --max-credits 100, want 96", spent)
	}
	if !strings.Contains(r.stderr, "--max-credits") {
		t.Errorf("stderr does not say why it stopped: %s", r.stderr)
	}

	r = cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out, "--concurrency", "8")
	wantCode(t, r, exitOK)
	checkOutput(t, in, out, "completed")
	if runs := checkNoneTwice(t, srv); len(runs) != rows {
		t.Errorf("%d rows ran, want %d", len(runs), rows)
	}
}

func TestEnrichInterruptedThenResumed(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	var started atomic.Int32
	var once sync.Once
	srv := startEnrichFake(t, bitscaletest.WithEnricher(func(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
		if started.Add(1) == 20 {
			once.Do(func() { close(stop) }) // Ctrl-C
		}
		return bitscaletest.DefaultEnricher(ctx, req)
	}))
	// Ctrl-C comes at the 20th row's run, midway: with the default
	// concurrency, 4, only a few more start, and the rest are left to the
	// command run again.
	const rows = 40
	in, out := someLeads(t, rows)
	r := cli(t, invocation{env: env(srv), stop: stop}, "enrich", "grid_001", in, "-o", out)
	wantCode(t, r, exitInterrupted)
	if !strings.Contains(r.stderr, "run the same command again to continue") {
		t.Errorf("stderr does not say how to resume: %s", r.stderr)
	}
	if n := len(srv.Runs()); n >= rows {
		t.Errorf("every row ran after the interruption")
	}

	// The rest of the rows, eight at a time.
	r = cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out, "--concurrency", "8")
	wantCode(t, r, exitOK)
	checkOutput(t, in, out, "completed")
	if runs := checkNoneTwice(t, srv); len(runs) != rows {
		t.Errorf("%d rows ran, want %d", len(runs), rows)
	}
}

func TestEnrichInsufficientCredits(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 12*10); err != nil {
		t.Fatal(err)
	}
	in, out := leads(t)
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out, "--concurrency", "1")
	wantCode(t, r, exitPartial)
	for _, want := range []string{"INSUFFICIENT_CREDITS", "has 0 credits left", "the 190 rows not run would need about 2280 (12 credits a row)",
		"run the same command again to continue"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q: %s", want, r.stderr)
		}
	}
	if n := len(runsByName(srv)); n != 10 {
		t.Errorf("%d rows ran, want 10", n)
	}
}

func TestEnrichUnknownRowIsNotResent(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	// The first run happens, but its answer is lost.
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultError, Status: 502, AfterHandling: true})
	in, out := writeInput(t, "leads.csv", "Full Name,Company\nAda Lovelace,Analytical Engines\nCharles Babbage,\n")
	inv := invocation{env: env(srv)}
	r := cli(t, inv, "enrich", "grid_001", in, "-o", out, "--concurrency", "1")
	wantCode(t, r, exitPartial)
	if !strings.Contains(r.stdout, "--resend-unknown 1") {
		t.Errorf("the summary does not say how to resend row 1:\n%s", r.stdout)
	}
	r = cli(t, inv, "enrich", "grid_001", in, "-o", out)
	wantCode(t, r, exitPartial)
	if runs := runsByName(srv); runs["Ada Lovelace"] != 1 {
		t.Errorf("the unknown row ran %d times without --resend-unknown, want once", runs["Ada Lovelace"])
	}
	r = cli(t, inv, "enrich", "grid_001", in, "-o", out, "--resend-unknown", "1")
	wantCode(t, r, exitOK)
	if runs := runsByName(srv); runs["Ada Lovelace"] != 2 || runs["Charles Babbage"] != 1 {
		t.Errorf("runs %v, want Ada Lovelace sent again on the word of --resend-unknown", runs)
	}
	checkOutput(t, in, out, "completed")

	r = cli(t, inv, "enrich", "grid_001", in, "-o", out, "--resend-unknown", "2")
	wantCode(t, r, exitUsage) // row 2 completed: sending it again would pay twice
	if runs := runsByName(srv); runs["Charles Babbage"] != 1 {
		t.Errorf("a completed row was sent again")
	}
	checkOutput(t, in, out, "completed") // left as it was
}

func TestEnrichRefusesAnotherInputsJournal(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	in, out := writeInput(t, "leads.csv", "Full Name\nAda Lovelace\n")
	wantCode(t, cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out), exitOK)
	before, _ := os.ReadFile(out)
	if err := os.WriteFile(in, []byte("Full Name\nCharles Babbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out)
	wantCode(t, r, exitUsage)
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("the fake ran %d times, want once", n)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Errorf("the refused run changed the output:\n%s", after)
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Errorf("the refused run left %s.partial behind", out)
	}
}

func TestEnrichRefusesAnOutputWithoutItsJournal(t *testing.T) {
	t.Parallel()
	srv := startEnrichFake(t)
	in, out := writeInput(t, "leads.csv", "Full Name\nAda Lovelace\n")
	wantCode(t, cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out), exitOK)
	if err := os.Remove(out + ".journal"); err != nil {
		t.Fatal(err)
	}
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out)
	wantCode(t, r, exitUsage)
	if !strings.Contains(r.stderr, "journal is empty or missing") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("the fake ran %d times, want once", n)
	}
}
