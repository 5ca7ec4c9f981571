package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// runOutput is a run as the tools return it, its outputs by column name.
type runOutput struct {
	RunID            string         `json:"run_id"`
	GridID           string         `json:"grid_id"`
	Status           string         `json:"status" jsonschema:"queued, running, completed or failed"`
	Done             bool           `json:"done" jsonschema:"whether the run has ended, completed or failed"`
	Outputs          map[string]any `json:"outputs,omitempty" jsonschema:"the values the run filled, keyed by column name"`
	CreditsUsed      *int           `json:"credits_used,omitempty" jsonschema:"the credits the run spent"`
	CreditsRemaining *int           `json:"credits_remaining,omitempty" jsonschema:"the credits left in the workspace after the run"`
	Error            *runFailure    `json:"error,omitempty" jsonschema:"why the run failed"`
	StartedAt        string         `json:"started_at,omitempty"`
	CompletedAt      string         `json:"completed_at,omitempty"`
	Next             string         `json:"next,omitempty" jsonschema:"what to do next, when the run has not ended"`
}

// runFailure is why a run failed.
type runFailure struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// newRunOutput returns run with its outputs named by grid's columns; with
// no grid they keep their column IDs.
func newRunOutput(grid *bitscale.Grid, run *bitscale.Run) runOutput {
	out := runOutput{RunID: run.ID, GridID: run.GridID, Status: string(run.Status), Done: run.Status.Done(),
		Outputs: run.Outputs, StartedAt: stamp(run.StartedAt), CompletedAt: stamp(run.CompletedAt)}
	if grid != nil {
		out.GridID = grid.ID
		if len(run.Outputs) > 0 {
			out.Outputs = grid.OutputsByName(run)
		}
	}
	if run.Credits != nil {
		out.CreditsUsed, out.CreditsRemaining = ptr(run.Credits.Consumed), ptr(run.Credits.Remaining)
	}
	if run.Status == bitscale.RunFailed {
		out.Error = &runFailure{Message: "no reason given"}
		if run.Error != nil {
			out.Error = &runFailure{Code: run.Error.Code, Message: run.Error.Message}
		}
	}
	return out
}

// runRef names a run.
type runRef struct {
	GridID      string `json:"grid_id" jsonschema:"the run's grid"`
	RunID       string `json:"run_id" jsonschema:"the run's ID, as run_grid returned it"`
	WorkspaceID string `json:"workspace_id,omitempty" jsonschema:"the grid's workspace; default the configured workspace"`
}

// waitInput is the input of wait_run.
type waitInput struct {
	runRef
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema:"how long to wait for the run's end, in seconds, before returning it as it is (default 60, at most 300)"`
}

// Bounds of wait_run's wait: clients give up on a call that takes too
// long, and a run can be waited for again.
const (
	defaultWait = 60 * time.Second
	maxWait     = 300 * time.Second
)

func (t *tools) addRuns(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:        "get_run",
		Title:       "Get a run",
		Description: "Show a grid run started with run_grid: its status, its outputs by column name once it completed, its credits, or why it failed. It does not wait.",
		Annotations: readOnly(),
	}, t.getRun)
	add(s, t, &mcp.Tool{
		Name:  "wait_run",
		Title: "Wait for a run",
		Description: "Wait for a grid run started with run_grid to end, up to timeout_seconds, and return it: its outputs by column name, its credits, or why it failed. " +
			"If it has not ended by then, done is false: call wait_run again. It reports the run's status as progress while it waits.",
		Annotations: readOnly(),
		InputSchema: waitInputSchema(),
	}, t.waitRun)
}

// waitInputSchema is waitSchema, made once: schemas caches what it
// resolves by the schema's address.
var waitInputSchema = sync.OnceValue(waitSchema)

// waitSchema is wait_run's input schema, with the bounds of its timeout,
// so that a client sees them and the server refuses a value outside them.
func waitSchema() *jsonschema.Schema {
	s, err := jsonschema.For[waitInput](nil)
	if err != nil {
		panic(err) // waitInput is a plain struct: only a change to it can fail here
	}
	p := s.Properties["timeout_seconds"]
	p.Minimum = ptr(1.0)
	p.Maximum = ptr(maxWait.Seconds())
	p.Default = json.RawMessage(strconv.Itoa(int(defaultWait.Seconds())))
	return s
}

func (t *tools) getRun(ctx context.Context, _ *mcp.CallToolRequest, in runRef) (*mcp.CallToolResult, runOutput, error) {
	c := t.in(in.WorkspaceID)
	run, _, err := c.Runs.Get(ctx, in.GridID, in.RunID)
	if err != nil {
		return nil, runOutput{}, unknownRun(in, err)
	}
	grid := t.gridForNames(ctx, c, in.GridID)
	if run.Status == bitscale.RunFailed {
		return failed(grid, run)
	}
	return nil, newRunOutput(grid, run), nil
}

func (t *tools) waitRun(ctx context.Context, req *mcp.CallToolRequest, in waitInput) (*mcp.CallToolResult, runOutput, error) {
	c := t.in(in.WorkspaceID)
	wait := defaultWait
	if in.TimeoutSeconds > 0 {
		wait = min(time.Duration(in.TimeoutSeconds)*time.Second, maxWait)
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	p := newProgress(req)
	run, err := c.Runs.PollUntilDone(waitCtx, in.GridID, in.RunID, &bitscale.PollOptions{
		Interval: t.poll, OnUpdate: func(r *bitscale.Run) { p.update(ctx, r) }})
	grid := t.gridForNames(ctx, c, in.GridID)
	switch {
	case run != nil && errors.Is(err, bitscale.ErrRunFailed):
		return failed(grid, run)
	case err == nil:
		return nil, newRunOutput(grid, run), nil
	case waitCtx.Err() != nil && ctx.Err() == nil:
		out := runOutput{RunID: in.RunID, GridID: in.GridID}
		if run != nil {
			out = newRunOutput(grid, run)
		}
		out.Next = fmt.Sprintf("the run had not ended within timeout_seconds (%d): call wait_run again to keep waiting", int(wait.Seconds()))
		return nil, out, nil
	}
	return nil, runOutput{}, unknownRun(in.runRef, err)
}

// gridForNames returns the grid, to name a run's outputs by column, or nil
// when it cannot be read: the outputs then keep their column IDs.
func (t *tools) gridForNames(ctx context.Context, c *bitscale.Client, gridID string) *bitscale.Grid {
	g, _, err := c.Grids.Get(ctx, gridID)
	if err != nil {
		return nil
	}
	return g
}

// unknownRun says, for a run the API does not know, where run IDs come
// from.
func unknownRun(in runRef, err error) error {
	if !errors.Is(err, bitscale.ErrNotFound) || errors.Is(err, bitscale.ErrGridNotFound) {
		return err
	}
	te := asToolError(err)
	te.Message = fmt.Sprintf("grid %s has no run %q: check grid_id and run_id; run_grid with async true returns a run's ID", in.GridID, in.RunID)
	return te
}
