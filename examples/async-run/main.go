// Async-run runs a grid on one row in BitScale's async mode: it starts the
// run, polls it until it ends, printing each status it passes through, and
// prints the outputs by column name and the credits the run cost.
//
// With BITSCALE_API_KEY set it talks to the real API (BITSCALE_WORKSPACE_ID
// picks the workspace, BITSCALE_GRID_ID or -grid the grid) and runs the
// grid, which spends credits, only when -run is given; without it, it
// checks the row against the grid and stops. Without a key it starts the
// SDK's embedded fake BitScale server and runs there.
//
//	go run ./examples/async-run
//	go run ./examples/async-run -grid grid_001 -input "Full Name=Ada Lovelace" -input "Company=Analytical Engines"
//	BITSCALE_API_KEY=... go run ./examples/async-run -grid GRID_ID -run
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
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command line the flags refused; they printed why.
var errUsage = errors.New("usage")

// cli runs the program and returns its exit status: 0 when it did its work
// or printed the help -h asked for, 2 for a bad command line, 1 otherwise.
func cli(ctx context.Context, args []string, out, errOut io.Writer) int {
	err := run(ctx, args, out)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(errOut, "async-run:", err)
	return 1
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
	gridID := fs.String("grid", "", "the `ID` of the grid to run (default $BITSCALE_GRID_ID, or the embedded fake's "+bitscaletest.SeedGridID+" without BITSCALE_API_KEY)")
	spend := fs.Bool("run", false, "with BITSCALE_API_KEY set, run the grid (spends credits); the embedded fake always runs")
	in := inputs{}
	fs.Var(in, "input", `an input as "Column Name=value" (repeatable; default: the reference's example row)`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(in) == 0 {
		in["Full Name"], in["Company"] = "Jane Doe", "Acme Corp"
	}
	if *gridID == "" {
		*gridID = os.Getenv("BITSCALE_GRID_ID")
	}

	client, fake, closeFn, err := connect(out)
	if err != nil {
		return err
	}
	defer closeFn()
	if *gridID == "" {
		if !fake {
			return errors.New("no grid to run: pass -grid or set BITSCALE_GRID_ID")
		}
		*gridID = bitscaletest.SeedGridID
	}
	return runGrid(ctx, out, client, *gridID, in, fake || *spend) // the fake's credits are free
}

// connect returns a client of the real API when BITSCALE_API_KEY is set,
// and otherwise one of a fake server started here, with whether it is the
// fake and what closes it.
func connect(out io.Writer) (c *bitscale.Client, fake bool, closeFn func(), err error) {
	if os.Getenv("BITSCALE_API_KEY") != "" {
		c, err := bitscale.NewClientFromEnv()
		if err != nil {
			return nil, false, nil, err
		}
		return c, false, c.CloseIdleConnections, nil
	}
	srv := startFake()
	fmt.Fprintf(out, "BITSCALE_API_KEY is not set: using the embedded fake BitScale server at %s\n\n", srv.URL())
	c = srv.Client()
	return c, true, func() { c.CloseIdleConnections(); srv.Close() }, nil
}

// startFake starts the embedded fake server. Its runs stay queued, then
// running, long enough that the polling below shows a person each stage.
// The tests start instead a fake whose runs stay running only until the
// program has seen them so, rather than wait at a person's pace.
var startFake = func() *bitscaletest.Server {
	return bitscaletest.NewServer(bitscaletest.WithRunDurations(300*time.Millisecond, time.Second))
}

// pollOptions polls often at first, for a short run, then backs off, for
// a long one.
var pollOptions = bitscale.PollOptions{
	Interval:    100 * time.Millisecond,
	MaxInterval: 2 * time.Second,
}

// runGrid runs a grid on the row in, given by column names, and waits for
// the run to end; unless spend is false, when it only checks the row. A
// run that fails is reported on out and returned as an error matching
// bitscale.ErrRunFailed.
func runGrid(ctx context.Context, out io.Writer, c *bitscale.Client, gridID string, in map[string]any, spend bool) error {
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
	if !spend {
		fmt.Fprintf(out, "Grid %s (%s) takes the row:\n", grid.Name, grid.ID)
		printValues(out, in)
		fmt.Fprintln(out, "\nRuns spend credits: pass -run to run the grid.")
		return nil
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
