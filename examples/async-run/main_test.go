package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The program reads BITSCALE_* from the environment. They are cleared
	// once, here, so that every test starts as on a machine with no key,
	// on the embedded fake; the tests that need a key set it themselves
	// and are not run in parallel.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "BITSCALE_") {
			os.Unsetenv(name)
		}
	}
	// The embedded fake's runs stay in each stage only until a poll has
	// seen them in it, and are polled often: the tests see every stage
	// without waiting out a person's pace.
	startFake = func() *bitscaletest.Server {
		return bitscaletest.NewServer(bitscaletest.WithPolledStages(), bitscaletest.WithRunDurations(0, 0))
	}
	pollOptions.Interval, pollOptions.MaxInterval = 5*time.Millisecond, 20*time.Millisecond
	goleak.VerifyTestMain(m)
}

func TestAsyncRunOnTheFake(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	assertLines(t, out.String(),
		"using the embedded fake BitScale server",
		"Running grid Lead Enrichment — Q1 (grid_001) on:",
		"Full Name        Jane Doe",
		" queued",
		" running",
		" completed",
		"Enriched Email   jane.doe@acmecorp.com",
		"LinkedIn URL     https://linkedin.com/in/janedoe",
		"Credits: 12 consumed, 65788 left in the workspace",
	)
}

func TestAsyncRunWithAKeyUsesTheEnvironment(t *testing.T) {
	// A fake standing in for the real API, configured as users configure
	// the client. Its runs end at once: the test waits only for their end,
	// and runs alone.
	srv := bitscaletest.NewServer(bitscaletest.WithRunDurations(0, 0))
	defer srv.Close()
	t.Setenv("BITSCALE_API_KEY", srv.APIKey())
	t.Setenv("BITSCALE_BASE_URL", srv.URL())
	t.Setenv("BITSCALE_WORKSPACE_ID", bitscaletest.SeedWorkspaceID)
	t.Setenv("BITSCALE_GRID_ID", bitscaletest.SeedGridID)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-run"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "embedded fake") {
		t.Errorf("started its own fake despite BITSCALE_API_KEY:\n%s", out.String())
	}
	assertLines(t, out.String(), " completed", "Enriched Email   jane.doe@acmecorp.com")
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("the server ran %d runs, want 1", n)
	}
}

func TestAsyncRunWithAKeyRunsOnlyWithRun(t *testing.T) {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	t.Setenv("BITSCALE_API_KEY", srv.APIKey())
	t.Setenv("BITSCALE_BASE_URL", srv.URL())
	t.Setenv("BITSCALE_WORKSPACE_ID", bitscaletest.SeedWorkspaceID)
	t.Setenv("BITSCALE_GRID_ID", "")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-grid", bitscaletest.SeedGridID}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	assertLines(t, out.String(),
		"Grid Lead Enrichment — Q1 (grid_001) takes the row:",
		"Full Name        Jane Doe",
		"Runs spend credits: pass -run to run the grid.",
	)
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the server ran %d runs without -run", n)
	}
	for _, r := range srv.Requests() {
		if r.Method != "GET" {
			t.Errorf("without -run, sent %s %s", r.Method, r.Path)
		}
	}

	// With a key, the fake's grid is no default: the user's grid is needed.
	err := run(context.Background(), []string{"-run"}, &out)
	if err == nil || err.Error() != "no grid to run: pass -grid or set BITSCALE_GRID_ID" {
		t.Errorf("err = %v, want the missing grid named", err)
	}
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the server ran %d runs with no grid given", n)
	}
}

func TestAsyncRunHelpExitsZero(t *testing.T) {
	t.Setenv("BITSCALE_API_KEY", "bsk_live_not_a_real_key")
	t.Setenv("BITSCALE_GRID_ID", "grid_from_env")
	var out, errOut bytes.Buffer
	if code := cli(context.Background(), []string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h exited %d, want 0; stderr: %s", code, errOut.String())
	}
	assertLines(t, out.String(),
		"-grid ID",
		"(default $BITSCALE_GRID_ID, or the embedded fake's grid_001 without BITSCALE_API_KEY)",
		"-run",
		"run the grid (spends credits)",
	)
	if strings.Contains(out.String(), `(default "grid_`) {
		t.Errorf("-h shows a fixed grid as the default:\n%s", out.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("-h wrote to stderr: %s", errOut.String())
	}
	out.Reset()
	if code := cli(context.Background(), []string{"-grid"}, &out, &errOut); code != 2 {
		t.Errorf("a flag without its value exited %d, want 2", code)
	}
	assertLines(t, out.String(), "flag needs an argument: -grid")
}

func TestAsyncRunTakesInputs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	args := []string{"-grid", "grid_001", "-input", "Full Name=Ada Lovelace", "-input", "Company=Analytical Engines"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	assertLines(t, out.String(), "Enriched Email   ada.lovelace@analyticalengines.com")
}

func TestAsyncRunRefusesBadInputs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-input", "Nope=1"}, &out)
	if err == nil || !strings.Contains(err.Error(), `"Nope" is not a column`) {
		t.Fatalf("err = %v, want the unknown column named", err)
	}
}

func TestAsyncRunThatFails(t *testing.T) {
	t.Parallel()
	srv := bitscaletest.NewServer(
		bitscaletest.WithRunDurations(5*time.Millisecond, 5*time.Millisecond),
		bitscaletest.WithEnricher(func(context.Context, bitscaletest.EnrichRequest) (map[string]any, error) {
			return nil, &bitscaletest.RunError{Code: "PROVIDER_DOWN", Message: "the email provider did not answer"}
		}),
	)
	defer srv.Close()
	c := srv.Client()
	defer c.CloseIdleConnections()

	var out bytes.Buffer
	err := runGrid(context.Background(), &out, c, bitscaletest.SeedGridID, map[string]any{"Full Name": "Jane Doe"}, true)
	if !errors.Is(err, bitscale.ErrRunFailed) {
		t.Fatalf("err = %v, want one matching ErrRunFailed", err)
	}
	assertLines(t, out.String(),
		" failed",
		"failed: the email provider did not answer (PROVIDER_DOWN)",
	)
	if strings.Contains(out.String(), "Outputs:") {
		t.Errorf("a failed run printed outputs:\n%s", out.String())
	}
}

// assertLines checks that out holds each of want, in that order.
func assertLines(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("output lacks %q after what came before:\n%s", w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}
