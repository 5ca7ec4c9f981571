package mcpserver

import (
	"context"

	"github.com/bitscale/bitscale-go"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// listGridsInput is the input of list_grids.
type listGridsInput struct {
	Search      string `json:"search,omitempty" jsonschema:"keep the grids whose name contains this text, ignoring case"`
	WorkspaceID string `json:"workspace_id,omitempty" jsonschema:"the workspace to list; default the configured workspace"`
}

// gridSummary is a grid in a list.
type gridSummary struct {
	ID          string `json:"id" jsonschema:"the grid's ID, which the other tools take as grid_id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	RowCount    int    `json:"row_count"`
	ColumnCount int    `json:"column_count"`
	UpdatedAt   string `json:"updated_at,omitempty" jsonschema:"the date of the grid's last change, as YYYY-MM-DD"`
}

// listGridsOutput is the output of list_grids.
type listGridsOutput struct {
	Grids []gridSummary `json:"grids"`
	Total int           `json:"total" jsonschema:"the number of grids matching the search"`
}

// gridInput names a grid.
type gridInput struct {
	GridID      string `json:"grid_id" jsonschema:"the grid's ID, such as grid_001; list_grids lists them"`
	WorkspaceID string `json:"workspace_id,omitempty" jsonschema:"the grid's workspace; default the configured workspace"`
}

// column is a grid's column as a model needs it to run the grid.
type column struct {
	Name     string `json:"name" jsonschema:"the column's name, which run_grid takes as an input's key"`
	Type     string `json:"type" jsonschema:"the column's type: text, number, url, email, date, boolean, ai_enrichment or formula"`
	Input    bool   `json:"input" jsonschema:"whether a run takes a value for this column"`
	Output   bool   `json:"output" jsonschema:"whether a run fills this column"`
	Required bool   `json:"required" jsonschema:"whether a run must be given a value for this column"`
	ID       string `json:"id"`
}

// gridOutput is the output of get_grid.
type gridOutput struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description,omitempty"`
	RowCount       int      `json:"row_count"`
	Columns        []column `json:"columns"`
	Inputs         []string `json:"inputs" jsonschema:"the names of the input columns, the keys run_grid's inputs take"`
	RequiredInputs []string `json:"required_inputs" jsonschema:"the names of the inputs every run must give"`
	Outputs        []string `json:"outputs" jsonschema:"the names of the columns a run fills"`
}

func (t *tools) addGrids(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:        "list_grids",
		Title:       "List grids",
		Description: "List the grids of a BitScale workspace, optionally only those whose name contains search. A grid is a table whose output columns BitScale fills from its input columns.",
		Annotations: readOnly(),
	}, t.listGrids)
	add(s, t, &mcp.Tool{
		Name:        "get_grid",
		Title:       "Get a grid",
		Description: "Show a grid and its columns by name: each column's type, whether it is an input (and required) or an output. Call it before run_grid to learn the input names to give.",
		Annotations: readOnly(),
	}, t.getGrid)
}

func (t *tools) listGrids(ctx context.Context, _ *mcp.CallToolRequest, in listGridsInput) (*mcp.CallToolResult, listGridsOutput, error) {
	list, _, err := t.client.Grids.List(ctx, in.WorkspaceID, &bitscale.GridListOptions{Search: in.Search})
	if err != nil {
		return nil, listGridsOutput{}, err
	}
	out := listGridsOutput{Grids: make([]gridSummary, 0, len(list.Grids)), Total: list.Total}
	for _, g := range list.Grids {
		out.Grids = append(out.Grids, gridSummary{ID: g.ID, Name: g.Name, Description: g.Description,
			RowCount: g.RowCount, ColumnCount: g.ColumnCount, UpdatedAt: day(g.UpdatedAt)})
	}
	return nil, out, nil
}

func (t *tools) getGrid(ctx context.Context, _ *mcp.CallToolRequest, in gridInput) (*mcp.CallToolResult, gridOutput, error) {
	g, _, err := t.in(in.WorkspaceID).Grids.Get(ctx, in.GridID)
	if err != nil {
		return nil, gridOutput{}, err
	}
	return nil, newGridOutput(g), nil
}

func newGridOutput(g *bitscale.Grid) gridOutput {
	out := gridOutput{ID: g.ID, Name: g.Name, Description: g.Description, RowCount: g.RowCount,
		Columns: make([]column, 0, len(g.Columns)), Inputs: []string{}, RequiredInputs: []string{}, Outputs: []string{}}
	for _, c := range g.Columns {
		out.Columns = append(out.Columns, column{Name: c.Name, Type: string(c.Type),
			Input: c.IsInput, Output: c.IsOutput, Required: c.IsInput && c.Required, ID: c.ID})
		if c.IsInput {
			out.Inputs = append(out.Inputs, c.Name)
		}
		if c.IsInput && c.Required {
			out.RequiredInputs = append(out.RequiredInputs, c.Name)
		}
		if c.IsOutput {
			out.Outputs = append(out.Outputs, c.Name)
		}
	}
	return out
}
