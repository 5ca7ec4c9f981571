package main

import (
	"fmt"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/spf13/cobra"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Show an async run, or wait for its end",
		Args:  nargs(0, 0),
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "get GRID RUN",
		Short: "Show an async run: its status, credits and outputs",
		Args:  nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			run, _, err := c.Runs.Get(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.printRun(a.gridForNames(cmd, c, args[0]), run)
		},
	}, &cobra.Command{
		Use:   "wait GRID RUN",
		Short: "Wait for an async run's end, showing its status as it changes",
		Args:  nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			run, err := a.wait(cmd, c, args[0], &bitscale.Run{ID: args[1], GridID: args[0]})
			if run != nil && run.Status.Done() {
				if perr := a.printRun(a.gridForNames(cmd, c, args[0]), run); perr != nil {
					return perr
				}
			}
			return err
		},
	})
	return cmd
}

// gridForNames returns the grid, to name a run's outputs by column, or nil
// when it cannot be read: the run is then shown by column ID.
func (a *app) gridForNames(cmd *cobra.Command, c *bitscale.Client, gridID string) *bitscale.Grid {
	g, _, err := c.Grids.Get(cmd.Context(), gridID)
	if err != nil {
		return nil
	}
	return g
}

// wait polls a run to its end, printing a line on stderr each time its
// status changes.
func (a *app) wait(cmd *cobra.Command, c *bitscale.Client, gridID string, run *bitscale.Run) (*bitscale.Run, error) {
	fmt.Fprintf(a.stderr, "Waiting for run %s of grid %s (Ctrl-C stops waiting; the run goes on)\n", run.ID, gridID)
	st := newStatus(a.stderr)
	opts := &bitscale.PollOptions{Interval: a.pollInterval(), OnUpdate: st.show}
	done, err := c.Runs.PollUntilDone(cmd.Context(), gridID, run.ID, opts)
	st.end()
	if err != nil && cmd.Context().Err() != nil {
		return done, withCode(exitInterrupted, err, fmt.Sprintf("the run goes on; 'bitscale runs wait %s %s' waits again", gridID, run.ID))
	}
	return done, err
}

// pollInterval is the first wait between polls: short on the fake, whose
// runs end in a fraction of a second.
func (a *app) pollInterval() time.Duration {
	switch {
	case a.poll > 0:
		return a.poll
	case a.fake:
		return 20 * time.Millisecond
	}
	return bitscale.DefaultPollInterval
}
