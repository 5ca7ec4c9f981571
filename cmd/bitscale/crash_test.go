package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/crashtest"
)

// asCommand, set in the environment, makes the test binary the command
// itself, as main makes it, so that the crash test need not build it.
const asCommand = "BITSCALE_TEST_AS_COMMAND"

func init() {
	if os.Getenv(asCommand) == "1" {
		main() // exits
	}
}

// TestEnrichSurvivesSIGKILL builds the command, runs enrich on the 200 rows
// of testdata/leads.csv and kills it with SIGKILL at random moments,
// starting it again after each kill, then lets it finish, and checks from
// the fake's records that no row ran twice and that every row written as
// completed ran exactly once.
//
// The kills are timed by the fake: each comes a random time, within one
// run's latency, after a random number of runs ended on the fake since the
// command started, so that every kill finds the command mid-batch however
// fast or slow the machine is, and in any of its steps. Now and then one
// comes instead at a random time after the start, which may find the
// command still reading its files.
func TestEnrichSurvivesSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a Unix signal")
	}
	if testing.Short() {
		t.Skip("builds the command and runs it many times")
	}
	t.Parallel()
	bin, err := os.Executable() // the command itself, with asCommand set
	if err != nil {
		t.Fatal(err)
	}
	const latency = 10 * time.Millisecond // of a run on the fake
	for _, mode := range []struct {
		name string
		args []string
		fake bitscaletest.Option
	}{
		{"async", []string{"--poll", "2ms"}, bitscaletest.WithRunDurations(latency/5, latency)},
		{"sync", []string{"--sync"}, bitscaletest.WithSyncLatency(latency)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			k := &crashtest.Killer{Latency: latency}
			srv := startFake(t, mode.fake, bitscaletest.WithEnricher(k.Enrich))
			in, out := leads(t)
			args := append([]string{"enrich", "grid_001", in, "-o", out, "--concurrency", "8"}, mode.args...)
			const kills = 12
			midway := 0 // kills that came before the command ended
			for i := range kills {
				if k.Run(t, bin, args, environ(srv), exitPartial) {
					midway++
				}
				t.Logf("kill %d: %d runs on the fake", i+1, len(srv.Runs()))
			}
			if midway < kills/2 {
				t.Fatalf("only %d kills of %d came before the command ended", midway, kills)
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = environ(srv)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == exitPartial) {
				t.Fatalf("the last run: %v\n%s%s", err, stdout.String(), stderr.String())
			}

			input, output := readCSVFile(t, in)[1:], readCSVFile(t, out)[1:]
			if len(output) != len(input) {
				t.Fatalf("the output has %d rows, want %d", len(output), len(input))
			}
			if _, err := os.Stat(out + ".partial"); err == nil {
				t.Errorf("the last run left %s.partial behind", out)
			}
			runs := runsByName(srv)
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
			if unknown > 0 && exit == nil {
				t.Errorf("%d rows are unknown, but the command exited 0", unknown)
			}
			t.Logf("%s: %d rows, %d runs on the fake, %d left unknown, after %d kills (%d mid-batch)",
				mode.name, len(input), len(srv.Runs()), unknown, kills, midway)
		})
	}
}

// environ is the environment of the command, pointed at srv.
func environ(srv *bitscaletest.Server) []string {
	e := append(os.Environ(), asCommand+"=1", crashtest.NoRaceSleep())
	for k, v := range env(srv) {
		e = append(e, k+"="+v)
	}
	return e
}
