package mcpserver

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// schema is the part of a JSON schema the tests check.
type schema struct {
	Type       string                     `json:"type"`
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
}

// A model fills a tool's arguments from its input schema: each tool must
// offer the properties it needs, and mark those it cannot do without.
func TestToolInputSchemas(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	want := map[string]struct{ required, optional []string }{
		"whoami":          {},
		"list_workspaces": {},
		"get_workspace":   {optional: []string{"workspace_id"}},
		"list_grids":      {optional: []string{"search", "workspace_id"}},
		"get_grid":        {required: []string{"grid_id"}, optional: []string{"workspace_id"}},
		"run_grid":        {required: []string{"grid_id", "inputs"}, optional: []string{"output_columns", "async", "workspace_id"}},
		"get_run":         {required: []string{"grid_id", "run_id"}, optional: []string{"workspace_id"}},
		"wait_run":        {required: []string{"grid_id", "run_id"}, optional: []string{"timeout_seconds", "workspace_id"}},
	}
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tool := range res.Tools {
		seen[tool.Name] = true
		w, ok := want[tool.Name]
		if !ok {
			t.Errorf("unexpected tool %q", tool.Name)
			continue
		}
		if tool.Description == "" || tool.OutputSchema == nil {
			t.Errorf("%s: description %q, output schema %v: want both", tool.Name, tool.Description, tool.OutputSchema)
		}
		var s schema
		b, _ := json.Marshal(tool.InputSchema)
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: input schema %s: %v", tool.Name, b, err)
		}
		if s.Type != "object" {
			t.Errorf("%s: input schema type %q, want object", tool.Name, s.Type)
		}
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		wantProps := slices.Sorted(slices.Values(append(slices.Clone(w.required), w.optional...)))
		if !slices.Equal(props, wantProps) {
			t.Errorf("%s: properties %q, want %q", tool.Name, props, wantProps)
		}
		required := slices.Sorted(slices.Values(s.Required))
		if !slices.Equal(required, slices.Sorted(slices.Values(w.required))) {
			t.Errorf("%s: required %q, want %q", tool.Name, required, w.required)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("tool %q is missing", name)
		}
	}
}

func TestWaitRunSchemaBoundsTheWait(t *testing.T) {
	t.Parallel()
	_, cs := session(t)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Tools, func(tool *mcp.Tool) bool { return tool.Name == "wait_run" })
	if i < 0 {
		t.Fatal("no wait_run")
	}
	var s struct {
		Properties map[string]struct {
			Type    string   `json:"type"`
			Minimum *float64 `json:"minimum"`
			Maximum *float64 `json:"maximum"`
			Default *float64 `json:"default"`
		} `json:"properties"`
	}
	b, _ := json.Marshal(res.Tools[i].InputSchema)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	p := s.Properties["timeout_seconds"]
	if p.Type != "integer" || p.Minimum == nil || *p.Minimum != 1 || p.Maximum == nil || *p.Maximum != 300 ||
		p.Default == nil || *p.Default != 60 {
		t.Errorf("timeout_seconds schema %s, want an integer from 1 to 300, default 60", b)
	}
}
