package main

import (
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

func TestRunSync(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "--input", "Full Name=Jane Doe", "-i", "Company=Acme Corp")
	wantCode(t, r, exitOK)
	golden(t, "run-sync.golden", hideRunID(r.stdout, srv))
	runs := srv.Runs()
	if len(runs) != 1 || runs[0].Mode != "sync" || runs[0].Inputs[bitscaletest.ColumnFullName] != "Jane Doe" ||
		runs[0].Inputs[bitscaletest.ColumnCompany] != "Acme Corp" {
		t.Errorf("the fake ran %+v, want one sync run of Jane Doe at Acme Corp", runs)
	}
}

// hideRunID replaces the IDs of the fake's runs, which are random, in out.
func hideRunID(out string, srv *bitscaletest.Server) string {
	for _, r := range srv.Runs() {
		out = strings.ReplaceAll(out, r.ID, "run_ID")
	}
	return out
}

func TestRunByColumnIDAndJSON(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "--json", "--input", bitscaletest.ColumnFullName+"=Ada Lovelace")
	wantCode(t, r, exitOK)
	var run struct {
		Status        string         `json:"status"`
		OutputsByName map[string]any `json:"outputs_by_name"`
		Credits       struct {
			Consumed int `json:"consumed"`
		} `json:"credits"`
	}
	decode(t, r.stdout, &run)
	if run.Status != "completed" || run.OutputsByName["Enriched Email"] == nil || run.Credits.Consumed == 0 {
		t.Errorf("run --json: %+v", run)
	}
}

func TestRunRefusesBadInputsBeforeSending(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	for _, args := range [][]string{
		{"--input", "Nmae=Jane Doe"},
		{"--input", "Company=Acme"}, // Full Name is required
		{"--input", "no equals sign"},
		{},
	} {
		r := cli(t, invocation{env: env(srv)}, append([]string{"run", "grid_001"}, args...)...)
		wantCode(t, r, exitUsage)
		if strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: stderr is not one line: %q", args, r.stderr)
		}
	}
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the fake ran %d times, want none", n)
	}
	for _, req := range srv.Requests() {
		if req.Method != "GET" {
			t.Errorf("%s %s was sent", req.Method, req.Path)
		}
	}
}

func TestRunAsync(t *testing.T) {
	t.Parallel()
	srv := startFake(t, bitscaletest.WithRunDurations(time.Hour, time.Hour))
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "--async", "--json", "-i", "Full Name=Jane Doe")
	wantCode(t, r, exitOK)
	var run bitscale.Run
	decode(t, r.stdout, &run)
	runs := srv.Runs()
	if len(runs) != 1 || runs[0].Mode != "async" || run.ID != runs[0].ID || run.Status != bitscale.RunQueued {
		t.Errorf("run --async printed %+v; the fake has %+v", run, runs)
	}
}

func TestRunAsyncWait(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "--async", "--wait", "-i", "Full Name=Jane Doe")
	wantCode(t, r, exitOK)
	runs := srv.Runs()
	if len(runs) != 1 {
		t.Fatalf("the fake ran %d times, want once", len(runs))
	}
	if !strings.Contains(r.stderr, runs[0].ID+"  completed\n") {
		t.Errorf("stderr does not show the run completing: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "jane.doe@") {
		t.Errorf("stdout has no outputs: %q", r.stdout)
	}
}

func TestRunInsufficientCredits(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 5); err != nil {
		t.Fatal(err)
	}
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "-i", "Full Name=Jane Doe")
	wantCode(t, r, exitError)
	if !strings.Contains(r.stderr, "INSUFFICIENT_CREDITS") || !strings.Contains(r.stderr, "has 5 credits left") {
		t.Errorf("stderr does not give the code and the balance: %q", r.stderr)
	}
}

func TestRunOutcomeUnknownIsNotResent(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: bitscaletest.FaultError, Status: 502, AfterHandling: true})
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "-i", "Full Name=Jane Doe")
	wantCode(t, r, exitError)
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("the fake ran %d times, want once", n)
	}
	if !strings.Contains(r.stderr, "may have happened") {
		t.Errorf("stderr does not say the run may have happened: %q", r.stderr)
	}
}

func TestRunsGetAndWait(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	inv := invocation{env: env(srv)}
	var run bitscale.Run
	decode(t, cli(t, inv, "run", "grid_001", "--async", "--json", "-i", "Full Name=Jane Doe").stdout, &run)

	r := cli(t, inv, "runs", "wait", "grid_001", run.ID)
	wantCode(t, r, exitOK)
	if !strings.Contains(r.stderr, run.ID+"  completed\n") {
		t.Errorf("runs wait does not show the status: %q", r.stderr)
	}

	r = cli(t, inv, "runs", "get", "grid_001", run.ID)
	wantCode(t, r, exitOK)
	golden(t, "runs-get.golden", hideRunID(r.stdout, srv))

	r = cli(t, inv, "runs", "get", "grid_001", "run_nope")
	wantCode(t, r, exitError)
}

func TestRunWithWebhookURLIsAsync(t *testing.T) {
	t.Parallel()
	srv := startFake(t, bitscaletest.WithRunDurations(time.Hour, time.Hour))
	r := cli(t, invocation{env: env(srv)}, "run", "grid_001", "-i", "Full Name=Jane Doe", "--webhook-url", "https://hooks.example.com/bitscale")
	wantCode(t, r, exitOK)
	runs := srv.Runs()
	if len(runs) != 1 || runs[0].Mode != "async" || !strings.HasPrefix(runs[0].WebhookURL, "https://hooks.example.com/bitscale?bitscale_ref=") {
		t.Errorf("the fake ran %+v, want one async run reporting to the webhook", runs)
	}
	if !strings.Contains(r.stdout, runs[0].ID) {
		t.Errorf("stdout does not give the run's ID: %s", r.stdout)
	}
}
