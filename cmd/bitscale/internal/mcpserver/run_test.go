package mcpserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

func TestRunGridSync(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	got := call[runOutput](t, cs, "run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Full Name": "Jane Doe", "company": "Acme"},
	})
	if got.Status != "completed" || !got.Done || got.GridID != bitscaletest.SeedGridID {
		t.Errorf("run_grid = %+v, want a completed run of grid_001", got)
	}
	for _, name := range []string{"Enriched Email", "LinkedIn URL"} {
		if v, ok := got.Outputs[name].(string); !ok || v == "" {
			t.Errorf("output %q = %v, want a value by column name; outputs %v", name, got.Outputs[name], got.Outputs)
		}
	}
	if got.CreditsUsed == nil || *got.CreditsUsed != fakeserver.DefaultRunCost ||
		got.CreditsRemaining == nil || *got.CreditsRemaining != 65800-fakeserver.DefaultRunCost {
		t.Errorf("credits used %v, remaining %v; want %d and %d", got.CreditsUsed, got.CreditsRemaining,
			fakeserver.DefaultRunCost, 65800-fakeserver.DefaultRunCost)
	}
	runs := srv.Runs()
	if len(runs) != 1 {
		t.Fatalf("the fake ran %d runs, want 1", len(runs))
	}
	sent := runs[0].Inputs
	if sent[fakeserver.ColumnFullName] != "Jane Doe" || sent[fakeserver.ColumnCompany] != "Acme" || len(sent) != 2 {
		t.Errorf("inputs sent = %v, want Full Name and Company by column ID", sent)
	}
}

func TestRunGridOutputColumns(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	got := call[runOutput](t, cs, "run_grid", map[string]any{
		"grid_id":        bitscaletest.SeedGridID,
		"inputs":         map[string]any{"Full Name": "Jane Doe"},
		"output_columns": []string{"LinkedIn URL"},
	})
	if _, ok := got.Outputs["LinkedIn URL"]; !ok || len(got.Outputs) != 1 {
		t.Errorf("outputs = %v, want LinkedIn URL alone", got.Outputs)
	}
	if cols := srv.Runs()[0].OutputColumns; len(cols) != 1 || cols[0] != fakeserver.ColumnLinkedInURL {
		t.Errorf("output columns sent = %q, want LinkedIn URL's ID", cols)
	}
}

func TestRunGridUnknownColumn(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	msg := callError(t, cs, "run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Full Name": "Jane Doe", "Full Nmae": "Jane"},
	})
	wantContains(t, msg, "INVALID_INPUTS: ", "nothing was sent", `"Full Nmae" is not a column of grid grid_001`,
		`"Full Name" (text, required)`, `"Company" (text)`)
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the fake ran %d runs, want none", n)
	}
}

func TestRunGridMissingRequired(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	msg := callError(t, cs, "run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Company": "Acme"},
	})
	wantContains(t, msg, "INVALID_INPUTS: ", `"Full Name" is required`)
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the fake ran %d runs, want none", n)
	}
}

func TestRunGridInsufficientCredits(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 0); err != nil {
		t.Fatal(err)
	}
	msg := callError(t, cs, "run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Full Name": "Jane Doe"},
	})
	wantContains(t, msg, "INSUFFICIENT_CREDITS: ", "has 0 credits left", "add credits")
}

func TestRunGridFailed(t *testing.T) {
	t.Parallel()
	_, cs := session(t, bitscaletest.WithEnricher(func(context.Context, bitscaletest.EnrichRequest) (map[string]any, error) {
		return nil, &bitscaletest.RunError{Code: "ENRICHMENT_FAILED", Message: "no such person"}
	}))
	res := callRaw(t, cs, mcpParams("run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Full Name": "Jane Doe"},
	}))
	if !res.IsError {
		t.Fatal("a failed run is not an error result")
	}
	wantContains(t, text(res), "ENRICHMENT_FAILED: the run of grid grid_001 failed: no such person")
	got := structured[runOutput](t, res)
	if got.Status != "failed" || !got.Done || got.Error == nil || got.Error.Code != "ENRICHMENT_FAILED" {
		t.Errorf("failed run = %+v, want status failed with its error", got)
	}
}

// A run whose answer is lost may have happened: the server says so, and
// sends it once only.
func TestRunGridOutcomeUnknown(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	srv.InjectFault(bitscaletest.Fault{Method: "POST", Path: "grids/" + bitscaletest.SeedGridID + "/run",
		Kind: bitscaletest.FaultReset, AfterHandling: true, Times: -1})
	msg := callError(t, cs, "run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Full Name": "Jane Doe"},
	})
	wantContains(t, msg, "OUTCOME_UNKNOWN: ", "may or may not have happened", "Do not run it again")
	if n := runRequests(srv); n != 1 {
		t.Errorf("the run was sent %d times, want once", n)
	}
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("the fake ran %d runs, want the 1 whose answer was lost", n)
	}
}

// An async run accepted but not seen to end is reported with its ID, so
// that it can be waited for instead of run again.
func TestRunGridAsyncThenWait(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	started := call[runOutput](t, cs, "run_grid", map[string]any{
		"grid_id": bitscaletest.SeedGridID,
		"inputs":  map[string]any{"Full Name": "Jane Doe"},
		"async":   true,
	})
	if started.RunID == "" || started.Done || !strings.Contains(started.Next, "wait_run") {
		t.Fatalf("async run_grid = %+v, want a run ID and a pointer to wait_run", started)
	}
	done := call[runOutput](t, cs, "wait_run", map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": started.RunID})
	if done.Status != "completed" || !done.Done || done.RunID != started.RunID {
		t.Errorf("wait_run = %+v, want run %s completed", done, started.RunID)
	}
	if _, ok := done.Outputs["Enriched Email"]; !ok {
		t.Errorf("wait_run outputs = %v, want them by column name", done.Outputs)
	}
}

func TestRunErrorNamesAcceptedRun(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	tl := &tools{client: srv.Client()}
	err := tl.runError(context.Background(), tl.client, bitscaletest.SeedGridID,
		outcome("run_123"))
	var te *ToolError
	if !errors.As(err, &te) || te.Code != CodeOutcomeUnknown {
		t.Fatalf("runError = %v, want an OUTCOME_UNKNOWN tool error", err)
	}
	wantContains(t, te.Message, "run_123 was accepted", `run_id "run_123"`, "wait_run", "Do not run the grid again")
}

// runRequests counts the run requests the fake received.
func runRequests(srv *bitscaletest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/run") {
			n++
		}
	}
	return n
}
