package main

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/crashtest"
)

// asCommand, set in the environment, makes the test binary the program
// itself, as main makes it, so that the crash test need not build it.
const asCommand = "BITSCALE_TEST_AS_COMMAND"

func init() {
	if os.Getenv(asCommand) != "1" {
		return
	}
	if path := os.Getenv(heapReport); path != "" {
		os.Exit(runReportingPeakHeap(path))
	}
	main() // exits
}

// TestEnrichSurvivesSIGKILL runs the real program on the 200 rows of
// testdata/leads.csv, kills it with SIGKILL at random moments, starting it
// again after each kill, then lets it finish, and checks from the fake's
// records that no row ran twice and that every row written as completed
// ran exactly once.
//
// The kills are timed by the fake: each comes a random time, within one
// run's latency, after a random number of runs ended on the fake since the
// program started, so that every kill finds the program mid-batch however
// fast or slow the machine is, and in any of its steps. Now and then one
// comes instead at a random time after the start, which may find the
// program still reading its files.
func TestEnrichSurvivesSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a Unix signal")
	}
	t.Parallel()
	bin, err := os.Executable() // the program itself, with asCommand set
	if err != nil {
		t.Fatal(err)
	}
	const latency = 10 * time.Millisecond // of a run on the fake
	for _, mode := range []struct {
		name string
		args []string
		fake bitscaletest.Option
	}{
		{"async", []string{"-poll", "2ms"}, bitscaletest.WithRunDurations(latency/5, latency)},
		{"sync", []string{"-sync"}, bitscaletest.WithSyncLatency(latency)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			k := &crashtest.Killer{Latency: latency}
			srv := bitscaletest.NewServer(fakeOptions(mode.fake, bitscaletest.WithEnricher(k.Enrich))...)
			t.Cleanup(srv.Close)
			env := append(os.Environ(), "BITSCALE_API_KEY="+srv.APIKey(), "BITSCALE_BASE_URL="+srv.URL(),
				"BITSCALE_WORKSPACE_ID="+bitscaletest.SeedWorkspaceID, "BITSCALE_GRID_ID=", asCommand+"=1", crashtest.NoRaceSleep())
			in, out := leads(t)
			args := append([]string{"-run", "-concurrency", "8", "-grid", "grid_001", "-in", in, "-out", out}, mode.args...)
			const kills = 20
			midway := 0 // kills that came before the program ended
			for i := range kills {
				if k.Run(t, bin, args, env) {
					midway++
				}
				written := 0
				if _, err := os.Stat(out); err == nil {
					written = len(readCSV(t, out)) - 1
				}
				t.Logf("kill %d: %d runs on the fake, %d rows written", i+1, len(srv.Runs()), written)
			}
			if midway < kills/2 {
				t.Fatalf("only %d kills of %d came before the program ended", midway, kills)
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("the last run: %v\n%s%s", err, stdout.String(), stderr.String())
			}

			input, output := readCSV(t, in)[1:], readCSV(t, out)[1:]
			if len(output) != len(input) {
				t.Fatalf("the output has %d rows, want %d", len(output), len(input))
			}
			runs := runsByName(srv, "")
			unknown := 0
			for i, rec := range output {
				switch {
				case runs[rec[0]] > 1:
					t.Errorf("row %d (%s) ran %d times", i+1, rec[0], runs[rec[0]])
				case rec[4] == "unknown":
					unknown++
				case rec[4] != "completed" || runs[rec[0]] != 1:
					t.Errorf("row %d (%s) is %q %q after %d runs, want completed after 1", i+1, rec[0], rec[4], rec[5], runs[rec[0]])
				}
			}
			t.Logf("%s: %d rows, %d runs on the fake, %d left unknown, after %d kills (%d mid-batch)",
				mode.name, len(input), len(srv.Runs()), unknown, kills, midway)
		})
	}
}
