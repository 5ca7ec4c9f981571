package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bitscale/bitscale-go"
	"github.com/spf13/cobra"
)

// runFlags are the flags of bitscale run.
type runFlags struct {
	inputs     []string // "Column=value", in the order given
	async      bool
	wait       bool
	webhookURL string
	outputs    []string
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run GRID --input COLUMN=VALUE ...",
		Short: "Run a grid on one row",
		Long: `Run a grid on one row given with --input, by column name or ID. The inputs
are checked against the grid before anything is sent.

A run is sync by default: the command waits for its outputs. --async returns
the run's ID at once; --wait then waits for its end, showing its status as
it changes. --webhook-url has BitScale post the result there (async).

A run spends credits. One whose answer is lost is reported as unknown, never
sent again: check it before running it again.`,
		Example: `  bitscale run grid_001 --input "Full Name=Jane Doe" --input Company=Acme
  bitscale run grid_001 --input "Full Name=Jane Doe" --async --wait`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.inputs, "input", "i", nil, "an input as `COLUMN=VALUE`, the column by name or ID (repeat for each)")
	fl.BoolVar(&f.async, "async", false, "start the run and print its ID without waiting")
	fl.BoolVar(&f.wait, "wait", false, "with --async, wait for the run's end, showing its status as it changes")
	fl.StringVar(&f.webhookURL, "webhook-url", "", "have BitScale post the result to this public https:// `URL` (an async run)")
	fl.StringSliceVar(&f.outputs, "output", nil, "limit the outputs to these `columns`, by name or ID")
	return cmd
}

func (a *app) run(cmd *cobra.Command, gridID string, f runFlags) error {
	values := make(map[string]string, len(f.inputs))
	for _, in := range f.inputs {
		k, v, ok := strings.Cut(in, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return usageError("--input %q: want COLUMN=VALUE", in)
		}
		values[k] = v
	}
	if len(values) == 0 {
		return usageError("no inputs: give each as --input COLUMN=VALUE; 'bitscale grids get %s' lists the grid's inputs", gridID)
	}
	c, err := a.connect()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	grid, _, err := c.Grids.Get(ctx, gridID)
	if err != nil {
		return err
	}
	typed := make(map[string]any, len(values))
	for k, v := range values {
		t := bitscale.ColumnText
		if col, ok := grid.Column(k); ok {
			t = col.Type
		}
		typed[k] = value(t, v)
	}
	req, err := grid.RunRequest(typed, f.outputs...)
	if err != nil {
		return withCode(exitUsage, err, "nothing was sent; 'bitscale grids get "+grid.ID+"' lists the grid's inputs")
	}
	req.WebhookURL = f.webhookURL

	var run *bitscale.Run
	switch {
	case f.async || f.wait || f.webhookURL != "":
		run, _, err = c.Grids.RunAsync(ctx, grid.ID, req)
		if err == nil && f.wait {
			run, err = a.wait(cmd, c, grid.ID, run)
		}
	default:
		run, _, err = c.Grids.Run(ctx, grid.ID, req)
	}
	if run != nil && (err == nil || errors.Is(err, bitscale.ErrRunFailed)) {
		if perr := a.printRun(grid, run); perr != nil {
			return perr
		}
	}
	return a.creditsError(cmd, c, err)
}

// creditsError adds the workspace's balance to an error for a run refused
// for lack of credits.
func (a *app) creditsError(cmd *cobra.Command, c *bitscale.Client, err error) error {
	if !errors.Is(err, bitscale.ErrInsufficientCredits) || c.WorkspaceID() == "" {
		return err
	}
	ws, _, werr := c.Workspaces.Get(cmd.Context(), c.WorkspaceID())
	if werr != nil {
		return err
	}
	return withCode(exitError, err, fmt.Sprintf("the workspace has %d credits left; add credits in BitScale", ws.Credits.Remaining))
}

// runView is a run as --json prints it: the API's run, and its outputs by
// column name.
type runView struct {
	*bitscale.Run
	OutputsByName map[string]any `json:"outputs_by_name,omitempty"`
}

// printRun prints a run: its ID, status, credits and outputs by name.
func (a *app) printRun(grid *bitscale.Grid, run *bitscale.Run) error {
	var byName map[string]any
	if grid != nil && len(run.Outputs) > 0 {
		byName = grid.OutputsByName(run)
	}
	if a.json {
		return a.printJSON(runView{Run: run, OutputsByName: byName})
	}
	t := newTable(a.stdout)
	t.row("RUN", firstOf(run.ID, "-"))
	t.row("STATUS", string(run.Status))
	if run.Credits != nil {
		t.row("CREDITS", fmt.Sprintf("%d (%d left)", run.Credits.Consumed, run.Credits.Remaining))
	}
	if run.Error != nil {
		t.row("ERROR", run.Error.Error())
	}
	if byName == nil {
		byName = run.Outputs
	}
	for _, name := range outputOrder(grid, byName) {
		t.row(name, text(byName[name]))
	}
	return t.flush()
}

// outputOrder returns the keys of outputs in the grid's column order, then
// any others as they sort.
func outputOrder(grid *bitscale.Grid, outputs map[string]any) []string {
	var keys []string
	seen := make(map[string]bool)
	if grid != nil {
		for _, col := range grid.Columns {
			if _, ok := outputs[col.Name]; ok && !seen[col.Name] {
				keys = append(keys, col.Name)
				seen[col.Name] = true
			}
		}
	}
	var rest []string
	for k := range outputs {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}
