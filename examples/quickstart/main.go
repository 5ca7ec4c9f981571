// Quickstart walks through the BitScale API with the Go SDK: who am I, the
// workspaces, one workspace's details, its grids, one grid's columns, a
// sync run and an async run.
//
// With BITSCALE_API_KEY set it talks to the real API (BITSCALE_WORKSPACE_ID
// picks the workspace, BITSCALE_GRID_ID the grid), and runs a grid, which
// spends credits, only when -run is given. Without a key it starts the
// SDK's embedded fake BitScale server and runs everything there.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -input "Full Name=Ada Lovelace" -input "Company=Analytical Engines"
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
	fmt.Fprintln(errOut, "quickstart:", err)
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
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(out)
	spend := fs.Bool("run", false, "with BITSCALE_API_KEY set, also run the grid (spends credits); the embedded fake always runs")
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

	client, gridID, fake, closeFn, err := connect(out)
	if err != nil {
		return err
	}
	defer closeFn()
	return walk(ctx, out, client, gridID, in, fake || *spend) // the fake's credits are free
}

// connect returns a client of the real API when BITSCALE_API_KEY is set,
// and otherwise one of a fake server started here, with what closes it.
func connect(out io.Writer) (c *bitscale.Client, gridID string, fake bool, closeFn func(), err error) {
	if os.Getenv("BITSCALE_API_KEY") != "" {
		c, err := bitscale.NewClientFromEnv()
		if err != nil {
			return nil, "", false, nil, err
		}
		return c, os.Getenv("BITSCALE_GRID_ID"), false, c.CloseIdleConnections, nil
	}
	srv := startFake()
	fmt.Fprintf(out, "BITSCALE_API_KEY is not set: using the embedded fake BitScale server at %s\n\n", srv.URL())
	c = srv.Client()
	return c, "", true, func() { c.CloseIdleConnections(); srv.Close() }, nil
}

// startFake starts the embedded fake server, whose async runs take a
// moment, as real ones do, so that a person sees the run poll through its
// stages. The tests start instead a fake whose runs stay running only
// until the program has seen them so, and poll faster (pollInterval).
var startFake = func() *bitscaletest.Server {
	return bitscaletest.NewServer(bitscaletest.WithRunDurations(200*time.Millisecond, 600*time.Millisecond))
}

// pollInterval is the wait between polls of the async run, short enough
// to show a person each stage; the tests poll faster.
var pollInterval = 100 * time.Millisecond

func walk(ctx context.Context, out io.Writer, c *bitscale.Client, gridID string, in inputs, spend bool) error {
	me, _, err := c.Users.Me(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Signed in as %s <%s>, plan %s\n", me.Name, me.Email, me.Plan)

	wss, _, err := c.Workspaces.List(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d workspaces:\n", wss.Total)
	for _, ws := range wss.Workspaces {
		fmt.Fprintf(out, "  %-12s %-28s %-7s %d members\n", ws.ID, ws.Name, ws.Role, ws.MemberCount)
	}
	if c.WorkspaceID() == "" {
		if len(wss.Workspaces) == 0 {
			return errors.New("no workspace to use")
		}
		c = c.ForWorkspace(wss.Workspaces[0].ID)
	}

	ws, resp, err := c.Workspaces.Get(ctx, c.WorkspaceID())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nWorkspace %s: plan %s, %d of %d credits left, renews %s\n",
		ws.Name, ws.Plan.Name, ws.Credits.Remaining, ws.Credits.Total, ws.Plan.RenewalDate.Format(time.DateOnly))
	fmt.Fprintf(out, "Rate limit: %d of %d requests left in this window\n", resp.RateLimit.Remaining, resp.RateLimit.Limit)

	grids, _, err := c.Grids.List(ctx, "", nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d grids:\n", grids.Total)
	for _, g := range grids.Grids {
		fmt.Fprintf(out, "  %-10s %-24s %5d rows, %d columns\n", g.ID, g.Name, g.RowCount, g.ColumnCount)
	}
	if gridID == "" {
		if len(grids.Grids) == 0 {
			return errors.New("no grid to use")
		}
		gridID = grids.Grids[0].ID
	}

	grid, _, err := c.Grids.Get(ctx, gridID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nGrid %s (%s), columns:\n", grid.Name, grid.ID)
	for _, col := range grid.Columns {
		role := "output"
		if col.IsInput {
			role = "input"
			if col.Required {
				role = "input, required"
			}
		}
		fmt.Fprintf(out, "  %-16s %-14s %s\n", col.Name, col.Type, role)
	}

	if !spend {
		fmt.Fprintln(out, "\nRuns spend credits: pass -run to run the grid.")
		return nil
	}
	req, err := grid.RunRequest(in)
	if err != nil {
		return err
	}
	run, _, err := c.Grids.Run(ctx, grid.ID, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nSync run, %d credits (%d left):\n", run.Credits.Consumed, run.Credits.Remaining)
	printOutputs(out, grid.OutputsByName(run))

	fmt.Fprintln(out, "\nAsync run:")
	run, err = c.Grids.RunAndWait(ctx, grid.ID, req, &bitscale.PollOptions{
		Interval: pollInterval,
		OnUpdate: func(r *bitscale.Run) { fmt.Fprintf(out, "  %s is %s\n", r.ID, r.Status) },
	})
	if err != nil {
		return err
	}
	printOutputs(out, grid.OutputsByName(run))
	return nil
}

func printOutputs(out io.Writer, outputs map[string]any) {
	names := make([]string, 0, len(outputs))
	for name := range outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "  %-16s %v\n", name, outputs[name])
	}
}
