package mcpserver

import (
	"slices"
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
)

func TestListGridsSearch(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	got := call[listGridsOutput](t, cs, "list_grids", map[string]any{"search": "lead"})
	if got.Total != 1 || len(got.Grids) != 1 || got.Grids[0].ID != bitscaletest.SeedGridID || got.Grids[0].Name != "Lead Enrichment — Q1" {
		t.Errorf("list_grids search lead = %+v, want grid_001 alone", got)
	}
	none := call[listGridsOutput](t, cs, "list_grids", map[string]any{"search": "no such grid"})
	if none.Total != 0 || none.Grids == nil || len(none.Grids) != 0 {
		t.Errorf("list_grids with no match = %+v, want an empty list", none)
	}
	other := call[listGridsOutput](t, cs, "list_grids", map[string]any{"workspace_id": bitscaletest.SeedOtherWorkspaceID})
	if len(other.Grids) != 1 || other.Grids[0].ID != bitscaletest.SeedOtherGridID {
		t.Errorf("list_grids of ws_def456 = %+v, want grid_002", other)
	}
}

func TestGetGridNamesInputsAndOutputs(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	got := call[gridOutput](t, cs, "get_grid", map[string]any{"grid_id": bitscaletest.SeedGridID})
	if !slices.Equal(got.Inputs, []string{"Full Name", "Company"}) ||
		!slices.Equal(got.RequiredInputs, []string{"Full Name"}) ||
		!slices.Equal(got.Outputs, []string{"Enriched Email", "LinkedIn URL"}) {
		t.Errorf("get_grid: inputs %q, required %q, outputs %q", got.Inputs, got.RequiredInputs, got.Outputs)
	}
	want := []column{
		{Name: "Full Name", Type: "text", Input: true, Required: true},
		{Name: "Company", Type: "text", Input: true},
		{Name: "Enriched Email", Type: "ai_enrichment", Output: true},
		{Name: "LinkedIn URL", Type: "url", Output: true},
	}
	if len(got.Columns) != len(want) {
		t.Fatalf("get_grid columns = %+v, want %d", got.Columns, len(want))
	}
	for i, c := range got.Columns {
		if c.ID == "" {
			t.Errorf("column %q has no ID", c.Name)
		}
		c.ID = ""
		if c != want[i] {
			t.Errorf("column %d = %+v, want %+v", i, c, want[i])
		}
	}
}

func TestGetGridUnknown(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	msg := callError(t, cs, "get_grid", map[string]any{"grid_id": "grid_nope"})
	wantContains(t, msg, "GRID_NOT_FOUND: ", "list_grids")
}
