package mcpserver

import (
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
)

func TestWhoami(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	got := call[whoamiOutput](t, cs, "whoami", nil)
	want := whoamiOutput{ID: bitscaletest.SeedUserID, Name: "Jane Doe", Email: "jane.doe@company.com",
		Plan: "enterprise", WorkspaceID: bitscaletest.SeedWorkspaceID}
	if got != want {
		t.Errorf("whoami = %+v, want %+v", got, want)
	}
}

func TestListWorkspacesMarksTheConfiguredOne(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	got := call[workspacesOutput](t, cs, "list_workspaces", map[string]any{})
	if got.Total != 2 || len(got.Workspaces) != 2 {
		t.Fatalf("list_workspaces = %+v, want the 2 seeded workspaces", got)
	}
	for _, ws := range got.Workspaces {
		if want := ws.ID == bitscaletest.SeedWorkspaceID; ws.Current != want {
			t.Errorf("workspace %s: current = %v, want %v", ws.ID, ws.Current, want)
		}
	}
}

func TestGetWorkspaceShowsCredits(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	got := call[workspaceOutput](t, cs, "get_workspace", map[string]any{})
	if got.ID != bitscaletest.SeedWorkspaceID || got.CreditsRemaining != 65800 || got.CreditsTotal != 100000 ||
		got.Plan != "Enterprise" || got.RenewalDate != "2026-04-01" || !got.ConfiguredWorkspace {
		t.Errorf("get_workspace = %+v, want ws_abc123 with 65800 of 100000 credits left on Enterprise", got)
	}
	other := call[workspaceOutput](t, cs, "get_workspace", map[string]any{"workspace_id": bitscaletest.SeedOtherWorkspaceID})
	if other.ID != bitscaletest.SeedOtherWorkspaceID || other.CreditsRemaining != 20200 || other.ConfiguredWorkspace {
		t.Errorf("get_workspace ws_def456 = %+v, want 20200 credits left, not the configured workspace", other)
	}
}

func TestGetWorkspaceUnknown(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	msg := callError(t, cs, "get_workspace", map[string]any{"workspace_id": "ws_nope"})
	wantContains(t, msg, "WORKSPACE_NOT_FOUND: ", "list_workspaces")
}
