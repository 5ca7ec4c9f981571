// Async-run runs a grid on one row in BitScale's async mode: it starts the
// run, polls it until it ends, printing each status it passes through, and
// prints the outputs by column name and the credits the run cost.
//
// With BITSCALE_API_KEY set it talks to the real API (BITSCALE_WORKSPACE_ID
// picks the workspace, BITSCALE_GRID_ID or -grid the grid) and spends
// credits. Without a key it starts the SDK's embedded fake BitScale server
// and runs there.
//
//	go run ./examples/async-run
//	go run ./examples/async-run -grid grid_001 -input "Full Name=Ada Lovelace" -input "Company=Analytical Engines"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) { // -h printed the usage
		fmt.Fprintln(os.Stderr, "async-run:", err)
		os.Exit(1)
	}
}

// inputs collects repeated -input "Column Name=value" flags.
type inputs map[string]any

func (in inputs) String() string { return fmt.Sprint(map[string]any(in)) }

func (in inputs) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New(`want "Column Name=value"`)
	}
	in[strings.TrimSpace(name)] = value
	return nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("async-run", flag.ContinueOnError)
	fs.SetOutput(out)
	gridID := fs.String("grid", defaultGrid(), "the `ID` of the grid to run; $BITSCALE_GRID_ID sets the default")
	in := inputs{}
	fs.Var(in, "input", `an input as "Column Name=value" (repeatable; default: the reference's example row)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(in) == 0 {
		in["Full Name"], in["Company"] = "Jane Doe", "Acme Corp"
	}

	client, closeFn, err := connect(out)
	if err != nil {
		return err
	}
	defer closeFn()
	return runGrid(ctx, out, client, *gridID, in)
}

func defaultGrid() string {
	if id := os.Getenv("BITSCALE_GRID_ID"); id != "" {
		return id
	}
	return bitscaletest.SeedGridID
}

// connect returns a client of the real API when BITSCALE_API_KEY is set,
// and otherwise one of a fake server started here, with what closes it.
func connect(out io.Writer) (*bitscale.Client, func(), error) {
	if os.Getenv("BITSCALE_API_KEY") != "" {
		c, err := bitscale.NewClientFromEnv()
		if err != nil {
			return nil, nil, err
		}
		return c, c.CloseIdleConnections, nil
	}
	// Slow enough stages that the polling below sees each one.
	srv := bitscaletest.NewServer(bitscaletest.WithRunDurations(300*time.Millisecond, time.Second))
	fmt.Fprintf(out, "BITSCALE_API_KEY is not set: using the embedded fake BitScale server at %s\n\n", srv.URL())
	c := srv.Client()
	return c, func() { c.CloseIdleConnections(); srv.Close() }, nil
}

// pollOptions polls often at first, for a short run, then backs off, for
// a long one.
var pollOptions = bitscale.PollOptions{
	Interval:    100 * time.Millisecond,
	MaxInterval: 2 * time.Second,
}

// runGrid runs a grid on the row in, given by column names, and waits for
// the run to end. A run that fails is reported on out and returned as an
// error matching bitscale.ErrRunFailed.
func runGrid(ctx context.Context, out io.Writer, c *bitscale.Client, gridID string, in map[string]any) error {
	grid, _, err := c.Grids.Get(ctx, gridID)
	if err != nil {
		return err
	}
	// The API keys inputs by column ID; RunRequest maps names to IDs and
	// checks the values against the columns before anything is sent.
	req, err := grid.RunRequest(in)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Running grid %s (%s) on:\n", grid.Name, grid.ID)
	printValues(out, in)

	fmt.Fprintln(out, "\nProgress:")
	start := time.Now()
	opts := pollOptions
	opts.OnUpdate = func(r *bitscale.Run) {
		fmt.Fprintf(out, "  %5.1fs  %s %s\n", time.Since(start).Seconds(), r.ID, r.Status)
	}
	run, err := c.Grids.RunAndWait(ctx, grid.ID, req, &opts)
	if errors.Is(err, bitscale.ErrRunFailed) {
		fmt.Fprintf(out, "\nRun %s failed: %s\n", run.ID, reason(err))
		return err
	}
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "\nOutputs:")
	printValues(out, grid.OutputsByName(run))
	if run.Credits != nil {
		fmt.Fprintf(out, "\nCredits: %d consumed, %d left in the workspace\n", run.Credits.Consumed, run.Credits.Remaining)
	}
	return nil
}

// reason says why a run failed, from the error the API gave for it.
func reason(err error) string {
	var re *bitscale.RunError
	if !errors.As(err, &re) {
		return err.Error()
	}
	if re.Code == "" {
		return re.Message
	}
	return re.Message + " (" + re.Code + ")"
}

func printValues(out io.Writer, values map[string]any) {
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "  %-16s %v\n", name, values[name])
	}
}
