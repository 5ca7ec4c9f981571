package mcpserver

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startRun starts an async run of grid_001 through the fake's own client.
func startRun(t *testing.T, srv *bitscaletest.Server) string {
	t.Helper()
	c := srv.Client()
	g, _, err := c.Grids.Get(context.Background(), bitscaletest.SeedGridID)
	if err != nil {
		t.Fatal(err)
	}
	req, err := g.RunRequest(map[string]any{"Full Name": "Jane Doe"})
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := c.Grids.RunAsync(context.Background(), g.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func TestGetRun(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	id := startRun(t, srv)
	if _, err := srv.Client().Runs.PollUntilDone(context.Background(), bitscaletest.SeedGridID, id, &bitscale.PollOptions{Interval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	got := call[runOutput](t, cs, "get_run", map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": id})
	if got.RunID != id || got.GridID != bitscaletest.SeedGridID || got.Status != "completed" || !got.Done {
		t.Errorf("get_run = %+v, want run %s of grid_001 completed", got, id)
	}
	if _, ok := got.Outputs["LinkedIn URL"]; !ok {
		t.Errorf("outputs = %v, want them by column name", got.Outputs)
	}
	for name := range got.Outputs {
		if !slices.Contains([]string{"Full Name", "Company", "Enriched Email", "LinkedIn URL"}, name) {
			t.Errorf("output %q is not named by its column", name)
		}
	}
}

func TestGetRunQueued(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	if err := srv.SetGridRunDurations(bitscaletest.SeedGridID, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	id := startRun(t, srv)
	got := call[runOutput](t, cs, "get_run", map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": id})
	if got.RunID != id || got.Status != "queued" || got.Done || len(got.Outputs) != 0 {
		t.Errorf("get_run = %+v, want run %s queued, with no outputs yet", got, id)
	}
}

func TestGetRunUnknown(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	for _, tool := range []string{"get_run", "wait_run"} {
		msg := callError(t, cs, tool, map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": "run_nope"})
		wantContains(t, msg, "RUN_NOT_FOUND: ", `grid grid_001 has no run "run_nope"`, "run_grid with async true")
	}
}

// A run still going when the wait ends is returned as it is, not as an
// error: it can be waited for again.
func TestWaitRunTimeout(t *testing.T) {
	t.Parallel()
	srv, cs := session(t)
	if err := srv.SetGridRunDurations(bitscaletest.SeedGridID, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	id := startRun(t, srv)
	got := call[runOutput](t, cs, "wait_run", map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": id, "timeout_seconds": 1})
	if got.Done || got.Status != "queued" || got.RunID != id || got.Next != "the run had not ended within timeout_seconds (1): call wait_run again to keep waiting" {
		t.Errorf("wait_run = %+v, want run %s still queued, to wait for again", got, id)
	}
}

func TestWaitRunRefusesTimeoutOutOfBounds(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	for _, secs := range []int{0, 301} {
		_, err := cs.CallTool(context.Background(), mcpParams("wait_run",
			map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": "run_1", "timeout_seconds": secs}))
		if err == nil || !strings.Contains(err.Error(), "timeout_seconds") {
			t.Errorf("timeout_seconds %d: err = %v, want it refused", secs, err)
		}
	}
}

// wait_run tells each change of the run's status as a progress
// notification, to a client that sent a progress token.
func TestWaitRunReportsProgress(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	notes := make(chan *mcp.ProgressNotificationParams, 16)
	cs := connect(t, srv.Client(), &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			notes <- req.Params
		},
	})
	id := startRun(t, srv)
	params := mcpParams("wait_run", map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": id})
	// Set in Meta: this version of the MCP SDK's SetProgressToken drops a
	// token given to params that have no Meta yet.
	params.Meta = mcp.Meta{"progressToken": "wait-1"}
	res := callRaw(t, cs, params)
	if got := structured[runOutput](t, res); got.Status != "completed" {
		t.Fatalf("wait_run = %+v, want completed", got)
	}
	// The server sent the notifications before its result; wait for the
	// one of the run's end.
	last := 0.0
	for n := range notes {
		if n.ProgressToken != "wait-1" || n.Progress <= last {
			t.Errorf("notification %+v: want token wait-1 and progress above %v", n, last)
		}
		last = n.Progress
		if n.Message == "run "+id+" is completed" {
			break
		}
	}
}

func TestWaitRunFailed(t *testing.T) {
	t.Parallel()
	srv, cs := session(t, bitscaletest.WithEnricher(func(context.Context, bitscaletest.EnrichRequest) (map[string]any, error) {
		return nil, &bitscaletest.RunError{Code: "ENRICHMENT_FAILED", Message: "no such person"}
	}))
	id := startRun(t, srv)
	for _, tool := range []string{"wait_run", "get_run"} {
		res := callRaw(t, cs, mcpParams(tool, map[string]any{"grid_id": bitscaletest.SeedGridID, "run_id": id}))
		if !res.IsError {
			t.Fatalf("%s: a failed run is not an error result", tool)
		}
		wantContains(t, text(res), "ENRICHMENT_FAILED: run "+id+" of grid grid_001 failed: no such person")
		got := structured[runOutput](t, res)
		if got.Status != "failed" || got.RunID != id || got.Error == nil || got.Error.Code != "ENRICHMENT_FAILED" {
			t.Errorf("%s = %+v, want run %s failed with its error", tool, got, id)
		}
	}
}
