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

// TestEnrichSurvivesSIGKILL builds the command, runs enrich on the 200 rows
// of testdata/leads.csv and kills it with SIGKILL at random moments,
// starting it again after each kill, then lets it finish, and checks from
// the fake's records that no row ran twice and that every row written as
// completed ran exactly once.
func TestEnrichSurvivesSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a Unix signal")
	}
	if testing.Short() {
		t.Skip("builds the command and runs it many times")
	}
	bin := filepath.Join(t.TempDir(), "bitscale")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, mode := range []struct {
		name string
		args []string
		fake bitscaletest.Option
	}{
		{"async", []string{"--poll", "20ms"}, bitscaletest.WithRunDurations(50*time.Millisecond, 200*time.Millisecond)},
		{"sync", []string{"--sync"}, bitscaletest.WithSyncLatency(250 * time.Millisecond)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := startFake(t, mode.fake)
			in, out := leads(t)
			args := append([]string{"enrich", "grid_001", in, "-o", out, "--concurrency", "8"}, mode.args...)
			const kills = 12
			midway := 0 // kills that came before the command ended
			for k := range kills {
				if killAfter(t, srv, bin, args, time.Duration(100+rand.N(300))*time.Millisecond) {
					midway++
				}
				t.Logf("kill %d: %d runs on the fake", k+1, len(srv.Runs()))
			}
			if midway < kills/2 {
				t.Fatalf("only %d kills of %d came before the command ended: it got faster than this test", midway, kills)
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
	e := os.Environ()
	for k, v := range env(srv) {
		e = append(e, k+"="+v)
	}
	return e
}

// killAfter starts the command and kills it with SIGKILL after d, or lets
// it end first, and reports whether it killed it.
func killAfter(t *testing.T, srv *bitscaletest.Server, bin string, args []string, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...) // killed with SIGKILL when ctx ends
	cmd.Env = environ(srv)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("starting %s: %v", bin, err)
	}
	if ctx.Err() == nil && err != nil && exit.ExitCode() != exitPartial {
		t.Fatalf("the command failed before it was killed: %v\n%s", err, stderr.String())
	}
	return ctx.Err() != nil && err != nil
}
