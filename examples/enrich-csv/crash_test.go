package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
)

// TestEnrichSurvivesSIGKILL runs the real program on the 200 rows of
// testdata/leads.csv, kills it with SIGKILL at random moments, starting it
// again after each kill, then lets it finish, and checks from the fake's
// records that no row ran twice and that every row written as completed
// ran exactly once.
func TestEnrichSurvivesSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a Unix signal")
	}
	bin := filepath.Join(t.TempDir(), "enrich-csv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, mode := range []struct {
		name string
		args []string
		fake bitscaletest.Option
	}{
		{"async", []string{"-poll", "20ms"}, bitscaletest.WithRunDurations(50*time.Millisecond, 200*time.Millisecond)},
		{"sync", []string{"-sync"}, bitscaletest.WithSyncLatency(250 * time.Millisecond)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			srv := bitscaletest.NewServer(fakeOptions(mode.fake)...)
			t.Cleanup(srv.Close)
			env := append(os.Environ(), "BITSCALE_API_KEY="+srv.APIKey(), "BITSCALE_BASE_URL="+srv.URL(),
				"BITSCALE_WORKSPACE_ID="+bitscaletest.SeedWorkspaceID, "BITSCALE_GRID_ID=")
			in, out := leads(t)
			args := append([]string{"-run", "-concurrency", "8", "-grid", "grid_001", "-in", in, "-out", out}, mode.args...)
			const kills = 20
			midway := 0 // kills that came before the last row was written
			for k := range kills {
				killAfter(t, bin, args, env, time.Duration(50+rand.N(250))*time.Millisecond)
				written := 0
				if _, err := os.Stat(out); err == nil {
					written = len(readCSV(t, out)) - 1
				}
				if written < 200 {
					midway++
				}
				t.Logf("kill %d: %d runs on the fake, %d rows written", k+1, len(srv.Runs()), written)
			}
			if midway < kills/2 {
				t.Fatalf("only %d kills of %d came before the last row was written: the program got faster than this test", midway, kills)
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

// killAfter starts the program with env and kills it with SIGKILL after d, or lets
// it end first.
func killAfter(t *testing.T, bin string, args, env []string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...) // killed with SIGKILL when ctx ends
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("starting %s: %v", bin, err)
	}
	if ctx.Err() == nil && err != nil {
		t.Fatalf("the program failed before it was killed: %v\n%s", err, stderr.String())
	}
}
