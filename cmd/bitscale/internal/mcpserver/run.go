package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bitscale/bitscale-go"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// runInput is the input of run_grid.
type runInput struct {
	GridID        string         `json:"grid_id" jsonschema:"the grid to run, such as grid_001"`
	Inputs        map[string]any `json:"inputs" jsonschema:"the row to run, keyed by input column name as get_grid lists them, such as {\"Full Name\": \"Jane Doe\"}; every required input must be given; values are text, numbers or true/false as the column's type needs"`
	OutputColumns []string       `json:"output_columns,omitempty" jsonschema:"limit the outputs to these columns, by name; default all"`
	Async         bool           `json:"async,omitempty" jsonschema:"start the run and return its run_id at once, for wait_run, instead of waiting for its outputs"`
	WorkspaceID   string         `json:"workspace_id,omitempty" jsonschema:"the grid's workspace; default the configured workspace"`
}

func (t *tools) addRun(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:  "run_grid",
		Title: "Run a grid on one row",
		Description: "Run a BitScale grid on one row and return its outputs by column name, with the credits it used and those left. " +
			"It spends credits: run only when the user asked for it. Give inputs by column name (get_grid lists them); they are checked " +
			"before anything is sent. With async true it returns a run_id at once; wait_run then waits for the outputs. " +
			"If the error says the outcome is unknown, the run may have happened: do not run it again.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(true)},
	}, t.runGrid)
}

func (t *tools) runGrid(ctx context.Context, _ *mcp.CallToolRequest, in runInput) (*mcp.CallToolResult, runOutput, error) {
	c := t.in(in.WorkspaceID)
	grid, _, err := c.Grids.Get(ctx, in.GridID)
	if err != nil {
		return nil, runOutput{}, err
	}
	req, err := grid.RunRequest(in.Inputs, in.OutputColumns...)
	var inErr *bitscale.InputError
	if errors.As(err, &inErr) {
		return nil, runOutput{}, invalidInputs(grid, inErr)
	}
	if err != nil {
		return nil, runOutput{}, err
	}
	if in.Async {
		run, _, err := c.Grids.RunAsync(ctx, grid.ID, req)
		if err != nil {
			return nil, runOutput{}, t.runError(ctx, c, grid.ID, err)
		}
		out := newRunOutput(grid, run)
		out.Next = fmt.Sprintf("call wait_run with grid_id %q and run_id %q for its outputs", grid.ID, run.ID)
		return nil, out, nil
	}
	run, _, err := c.Grids.Run(ctx, grid.ID, req)
	if run != nil && errors.Is(err, bitscale.ErrRunFailed) {
		return failed(grid, run)
	}
	if err != nil {
		return nil, runOutput{}, t.runError(ctx, c, grid.ID, err)
	}
	return nil, newRunOutput(grid, run), nil
}

// runError says what is known of a run that did not return: whether it
// may have happened, and what it would take to run.
func (t *tools) runError(ctx context.Context, c *bitscale.Client, gridID string, err error) error {
	var outcome *bitscale.OutcomeError
	if errors.As(err, &outcome) && outcome.RunID != "" {
		return &ToolError{Code: CodeOutcomeUnknown, err: err, Message: fmt.Sprintf(
			"run %s was accepted and may still run and spend credits. Do not run the grid again: "+
				"call wait_run with grid_id %q and run_id %q to learn how it ended", outcome.RunID, gridID, outcome.RunID)}
	}
	if !errors.Is(err, bitscale.ErrInsufficientCredits) {
		return err
	}
	te := asToolError(err)
	if ws, _, werr := c.Workspaces.Get(ctx, c.WorkspaceID()); werr == nil {
		te.Message = fmt.Sprintf("the run was refused, and nothing was spent: workspace %s has %d credits left. "+
			"The user must add credits in BitScale before a grid can run", ws.ID, ws.Credits.Remaining)
	}
	return te
}

// failed returns a run that ended failed: an error result that still
// carries the run, its error and the credits it used.
// grid may be nil.
func failed(grid *bitscale.Grid, run *bitscale.Run) (*mcp.CallToolResult, runOutput, error) {
	out := newRunOutput(grid, run)
	code := firstOf(out.Error.Code, CodeRunFailed)
	which := "the run"
	if out.RunID != "" {
		which = "run " + out.RunID
	}
	res := &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf(
		"%s: %s of grid %s failed: %s", code, which, out.GridID, out.Error.Message)}}}
	return res, out, nil
}

// invalidInputs lists what is wrong with a run's inputs and the grid's
// input columns, so that a model can fix them all at once.
func invalidInputs(grid *bitscale.Grid, err *bitscale.InputError) *ToolError {
	problems := make([]string, len(err.Problems))
	for i, p := range err.Problems {
		problems[i] = fmt.Sprintf("%q %s", p.Column, p.Reason)
	}
	var inputs []string
	for _, c := range grid.Columns {
		if !c.IsInput {
			continue
		}
		desc := string(c.Type)
		if c.Required {
			desc += ", required"
		}
		inputs = append(inputs, fmt.Sprintf("%q (%s)", c.Name, desc))
	}
	return &ToolError{Code: CodeInvalidInputs, err: err, Message: fmt.Sprintf(
		"nothing was sent: %s. The input columns of grid %s are %s; give inputs by these names",
		strings.Join(problems, "; "), grid.ID, strings.Join(inputs, ", "))}
}
