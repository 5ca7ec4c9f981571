package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

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
	// The embedded fake's async run stays in each stage only until a poll
	// has seen it in it, and is polled often: the tests see every stage
	// without waiting out a person's pace.
	startFake = func() *bitscaletest.Server {
		return bitscaletest.NewServer(bitscaletest.WithPolledStages(), bitscaletest.WithRunDurations(0, 0))
	}
	pollInterval = 5 * time.Millisecond
	goleak.VerifyTestMain(m)
}

func TestQuickstartOnTheFake(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-input", "Full Name=Ada Lovelace", "-input", "Company=Analytical Engines"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"using the embedded fake BitScale server",
		"Signed in as Jane Doe <jane.doe@company.com>",
		"ws_abc123    Acme Corp — Sales",
		"65800 of 100000 credits left",
		"Full Name        text           input, required",
		"Sync run, 12 credits (65788 left)",
		"Enriched Email   ada.lovelace@analyticalengines.com",
		"is running",
		"is completed",
	} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQuickstartRefusesBadInputs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-input", "Nope=1"}, &out)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"Nope" is not a column`)) {
		t.Fatalf("err = %v, want the unknown column named", err)
	}
}

func TestQuickstartWithAKeyRunsOnlyWithRun(t *testing.T) {
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
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Runs spend credits: pass -run to run the grid.") {
		t.Errorf("output does not say how to run:\n%s", out.String())
	}
	if strings.Contains(out.String(), "embedded fake") {
		t.Errorf("started its own fake despite BITSCALE_API_KEY:\n%s", out.String())
	}
	if n := len(srv.Runs()); n != 0 {
		t.Fatalf("the server ran %d runs without -run", n)
	}

	out.Reset()
	if err := run(context.Background(), []string{"-run"}, &out); err != nil {
		t.Fatalf("run -run: %v\n%s", err, out.String())
	}
	if n := len(srv.Runs()); n != 2 {
		t.Errorf("the server ran %d runs with -run, want the sync and the async one", n)
	}
}

func TestQuickstartHelpExitsZero(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := cli(context.Background(), []string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h exited %d, want 0; stderr: %s", code, errOut.String())
	}
	for _, want := range []string{"-run", "also run the grid (spends credits)", "-input value"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("-h wrote to stderr: %s", errOut.String())
	}
	out.Reset()
	if code := cli(context.Background(), []string{"-run=maybe"}, &out, &errOut); code != 2 {
		t.Errorf("a bad flag value exited %d, want 2", code)
	}
	if code := cli(context.Background(), []string{"-input", "Nope=1"}, &out, &errOut); code != 1 {
		t.Errorf("a failed run exited %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), `quickstart: `) || !strings.Contains(errOut.String(), `"Nope" is not a column`) {
		t.Errorf("stderr %q does not say what failed", errOut.String())
	}
}
