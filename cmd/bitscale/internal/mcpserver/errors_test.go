package mcpserver

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestNoWorkspaceSaysHowToGiveOne(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	cs := connect(t, srv.Client(bitscale.WithWorkspaceID("")), nil)
	for tool, args := range map[string]map[string]any{
		"get_workspace": {},
		"list_grids":    {},
		"get_grid":      {"grid_id": bitscaletest.SeedGridID},
		"get_run":       {"grid_id": bitscaletest.SeedGridID, "run_id": "run_1"},
	} {
		msg := callError(t, cs, tool, args)
		wantContains(t, msg, "NO_WORKSPACE: ", "workspace_id", "list_workspaces")
	}
	// Given one, the same client reaches it.
	got := call[runOutput](t, cs, "run_grid", map[string]any{
		"workspace_id": bitscaletest.SeedOtherWorkspaceID,
		"grid_id":      bitscaletest.SeedOtherGridID,
		"inputs":       map[string]any{"Company Website": "https://acme.example"},
	})
	if got.Status != "completed" || got.GridID != bitscaletest.SeedOtherGridID {
		t.Errorf("run_grid in ws_def456 = %+v, want grid_002 completed", got)
	}
}

// A key the API refuses is named as the problem, and appears neither in
// the result nor in the log.
func TestRefusedKeyStaysSecret(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	const wrong = "bsk_live_0a1b2c3d4e5f6a7b8c9d"
	c, err := bitscale.NewClient(wrong, bitscale.WithBaseURL(srv.URL()), bitscale.WithWorkspaceID(bitscaletest.SeedWorkspaceID))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	st, ct := mcp.NewInMemoryTransports()
	ss, err := New(c, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), PollInterval: time.Millisecond}).
		Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "test"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := callError(t, cs, "whoami", nil)
	cs.Close()
	ss.Wait()
	wantContains(t, msg, "INVALID_API_KEY: ", "BITSCALE_API_KEY")
	wantContains(t, logs.String(), "tool=whoami", "code=INVALID_API_KEY")
	for what, s := range map[string]string{"result": msg, "log": logs.String()} {
		if strings.Contains(s, wrong) || strings.Contains(s, wrong[9:]) {
			t.Errorf("the %s shows the API key: %s", what, s)
		}
	}
}
