// Enrich-csv runs a BitScale grid on every row of a CSV file and writes the
// rows, with the grid's outputs, to another CSV file.
//
//	go run ./examples/enrich-csv -grid grid_001 -in leads.csv -out enriched.csv
//
// The input's header names the grid's input columns, by name or ID, and
// each data row is one run. The output keeps the input's columns and
// appends the grid's output columns and two more: bitscale_status, how the
// row ended (completed, failed, unknown, or not_run for a row that surely
// did not run, which the next run sends), and bitscale_error, why.
//
// Rows are written in input order as they end, so the output always holds
// the first rows of the input. Beside the output, a journal (the output's
// name with .journal added) records each row before its run is sent, when
// BitScale accepts it, and when it ends. Run the same command again after
// an interruption, a crash, even a kill -9, or running out of credits, and
// it continues: rows that ended are written from the journal, rows
// accepted are looked up by their run ID, and only rows that surely did
// not run are sent. No row that may have run is sent again, so none is
// paid for twice. Keep the journal while the output may be continued.
//
// Rows run asynchronously by default: a row is then unknown only when the
// program dies in the moment between sending it and BitScale's answer, and
// a row accepted is always found again by its run ID. With -sync a row is
// answered only when it ends, and every row running when the program dies
// is unknown for good, since the API cannot look up a sync run.
//
// A row whose outcome is unknown may have run and spent credits; it is not
// sent again, but written as unknown with the row number to check. Once
// you have checked in BitScale that some did not run, send them again with
// -resend-unknown and their row numbers.
//
// Ctrl-C stops starting rows: the rows running finish and are written. A
// second Ctrl-C abandons them.
//
// With BITSCALE_API_KEY set it uses the real API: BITSCALE_WORKSPACE_ID
// picks the workspace, and -grid (or BITSCALE_GRID_ID) the grid. It then
// spends credits only when given -run; without it, it checks every row
// against the grid and says what it would send. Without a key it starts
// the SDK's embedded fake BitScale server and runs grid grid_001 there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

// The columns the output adds after the grid's outputs.
const (
	statusColumn = "bitscale_status"
	errorColumn  = "bitscale_error"
)

// notRun is the status of a row that surely did not run (refused with
// every other, or skipped) but is written because a later row ended: the
// next run sends it.
const notRun = "not_run"

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	interrupts := make(chan os.Signal, 2)
	signal.Notify(interrupts, os.Interrupt)
	go func() {
		<-interrupts
		fmt.Fprintln(os.Stderr, "\nStopping: the rows running will finish and be written. Ctrl-C again abandons them.")
		close(stop)
		<-interrupts
		fmt.Fprintln(os.Stderr, "\nAbandoning the rows running.")
		cancel()
		signal.Reset(os.Interrupt) // a third Ctrl-C ends the program at once
	}()

	code := cli(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, stop)
	cancel()
	os.Exit(code)
}

// errUsage marks a command line that was refused; why has been printed.
var errUsage = errors.New("usage")

// cli runs the program and returns its exit status: 0 when it did its work
// or printed the help -h asked for, 2 for a bad command line, and 1
// otherwise, rows left to do included. getenv gives the environment, as
// os.Getenv does.
func cli(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	err := run(ctx, args, getenv, stdout, stderr, stop)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "enrich-csv:", err)
	return 1
}

// options are the command's flags.
type options struct {
	grid        string
	in, out     string
	concurrency int
	every       int
	minCredits  int
	run         bool          // spend credits with a real key
	sync        bool          // sync runs instead of async
	poll        time.Duration // the first wait between polls of an async run
	resend      []int         // input row numbers, from 1, to send again
}

// run enriches the file the flags name. Closing stop ends it gracefully:
// no row starts after it, and the rows running finish and are written.
// Cancelling ctx abandons the rows running too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, stop <-chan struct{}) error {
	opts, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	c, fake, closeFn, err := connect(getenv, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	if !fake && !opts.run {
		return check(ctx, c, opts, stdout)
	}
	return enrich(ctx, c, opts, stdout, stderr, stop)
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("enrich-csv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.grid, "grid", getenv("BITSCALE_GRID_ID"),
		"the `ID` of the grid to run (default $BITSCALE_GRID_ID; grid_001 on the embedded fake)")
	fs.StringVar(&opts.in, "in", "", "the input CSV `file`; its header names the grid's input columns")
	fs.StringVar(&opts.out, "out", "", "the output CSV `file`; if it exists, the run continues it (with `file`.journal beside it)")
	fs.IntVar(&opts.concurrency, "concurrency", bitscale.DefaultBatchConcurrency, "how many rows run at once")
	fs.IntVar(&opts.every, "every", 50, "when stderr is not a terminal, print progress every `n` rows")
	fs.IntVar(&opts.minCredits, "min-credits", 0, "refuse to start when the workspace has fewer credits left")
	fs.BoolVar(&opts.run, "run", false, "with BITSCALE_API_KEY set, run the grid and spend credits; without it, only check the rows")
	fs.BoolVar(&opts.sync, "sync", false, "run rows synchronously: fewer requests, but rows running when the program dies stay unknown")
	fs.DurationVar(&opts.poll, "poll", bitscale.DefaultPollInterval, "the first wait between polls of an async run")
	resend := fs.String("resend-unknown", "", "send again these `rows` (numbers, comma-separated) of the output whose status is unknown, once checked that they did not run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, err
		}
		return opts, errUsage // the flag package said why
	}
	if opts.grid == "" && getenv("BITSCALE_API_KEY") == "" {
		opts.grid = bitscaletest.SeedGridID // the embedded fake's grid
	}
	err := checkFlags(fs, &opts, *resend)
	if err != nil {
		fmt.Fprintf(stderr, "enrich-csv: %v\nRun enrich-csv -h for the flags.\n", err)
		return opts, fmt.Errorf("%w: %w", errUsage, err)
	}
	return opts, nil
}

// checkFlags refuses flags that do not make a run.
func checkFlags(fs *flag.FlagSet, opts *options, resend string) error {
	var err error
	if opts.resend, err = rowNumbers(resend); err != nil {
		return fmt.Errorf("-resend-unknown: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case opts.in == "" || opts.out == "":
		return errors.New("-in and -out are required")
	case filepath.Clean(opts.in) == filepath.Clean(opts.out):
		return errors.New("-in and -out must be different files")
	case opts.grid == "":
		return errors.New("-grid is required with BITSCALE_API_KEY")
	case opts.concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	case opts.every < 1:
		return errors.New("-every must be at least 1")
	case opts.poll <= 0:
		return errors.New("-poll must be positive")
	}
	return nil
}

// rowNumbers parses a comma-separated list of row numbers, from 1.
func rowNumbers(list string) ([]int, error) {
	var rows []int
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a row number", f)
		}
		rows = append(rows, n)
	}
	return rows, nil
}

// connect returns a client of the real API when BITSCALE_API_KEY is set,
// configured as bitscale.NewClientFromEnv configures one, and otherwise one
// of a fake server started here, with what closes it.
func connect(getenv func(string) string, stderr io.Writer) (c *bitscale.Client, fake bool, closeFn func(), err error) {
	if key := getenv("BITSCALE_API_KEY"); key != "" {
		var opts []bitscale.Option
		if ws := getenv("BITSCALE_WORKSPACE_ID"); ws != "" {
			opts = append(opts, bitscale.WithWorkspaceID(ws))
		}
		if u := getenv("BITSCALE_BASE_URL"); u != "" {
			opts = append(opts, bitscale.WithBaseURL(u))
		}
		c, err := bitscale.NewClient(key, opts...)
		if err != nil {
			return nil, false, nil, err
		}
		return c, false, c.CloseIdleConnections, nil
	}
	srv := bitscaletest.NewServer()
	fmt.Fprintf(stderr, "BITSCALE_API_KEY is not set: using the embedded fake BitScale server at %s\n", srv.URL())
	c = srv.Client()
	return c, true, func() { c.CloseIdleConnections(); srv.Close() }, nil
}

// job is what one run of the command works on: the input, the grid, and
// the output's columns.
type job struct {
	in        string // the input's path
	header    []string
	rows      int // data rows in the input, once counted
	grid      *bitscale.Grid
	cols      []*bitscale.Column
	outputs   []string // the names of the grid's output columns
	outHeader []string
}

// prepare reads the input's header and the grid and checks that they fit.
func prepare(ctx context.Context, c *bitscale.Client, opts options) (*job, error) {
	in, err := openInput(opts.in)
	if err != nil {
		return nil, err
	}
	in.close()
	grid, _, err := c.Grids.Get(ctx, opts.grid)
	if err != nil {
		return nil, err
	}
	cols, err := inputColumns(grid, in.header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.in, err)
	}
	outputs := outputNames(grid)
	return &job{
		in: opts.in, header: in.header, grid: grid, cols: cols, outputs: outputs,
		outHeader: slices.Concat(in.header, outputs, []string{statusColumn, errorColumn}),
	}, nil
}

// check says what a run would send, spending nothing: every row is checked
// against the grid as RunBatch checks it before sending.
func check(ctx context.Context, c *bitscale.Client, opts options, stdout io.Writer) error {
	j, err := prepare(ctx, c, opts)
	if err != nil {
		return err
	}
	in, err := openInput(j.in)
	if err != nil {
		return err
	}
	defer in.close()
	var bad []string
	for {
		rec, err := in.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		j.rows++
		if _, err := j.grid.RunRequest(inputs(j.header, j.cols, rec)); err != nil {
			bad = append(bad, fmt.Sprintf("  row %d: %v", j.rows, err))
		}
	}
	fmt.Fprintf(stdout, "Checked %d rows of %s against grid %s (%s): %d would be sent, %d would fail.\n",
		j.rows, opts.in, j.grid.Name, j.grid.ID, j.rows-len(bad), len(bad))
	for _, line := range bad {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, "Nothing was sent. Add -run to run the grid and spend credits.")
	return nil
}

// enrich runs the grid on the rows of the input that the output does not
// hold yet, and appends them to it; it also settles the rows of the output
// that it can: unknown rows whose run ID is known, and rows to resend.
//
// It reads the input twice, a row at a time: once to count its rows and
// check the output against it, and once as the batch takes the rows. Each
// row is written as it ends, so that however large the files, it holds
// about as many rows as run at once, a byte for each row of the output (its
// status) and 8 for each row of the journal (where its last entry is).
func enrich(ctx context.Context, c *bitscale.Client, opts options, stdout, stderr io.Writer, stop <-chan struct{}) error {
	j, err := prepare(ctx, c, opts)
	if err != nil {
		return err
	}
	prev, err := scan(j, opts.out)
	if err != nil {
		return err
	}
	journal, err := openJournal(opts.out, prev)
	if err != nil {
		return err
	}
	defer journal.Close()
	s, err := prev.settle(journal, opts.out, opts.resend)
	if err != nil {
		return err
	}
	f, err := openOutput(opts.out, j.outHeader, prev.hasHeader)
	if err != nil {
		return err
	}
	defer f.Close() // on early returns; the end checks Close's error

	// The batch: the output's rows to revisit, then the rows not written.
	picked := picked{revisit: s.revisit, from: prev.len(), to: j.rows}
	fmt.Fprintf(stderr, "Enriching %s into %s with grid %s (%s): %d rows", opts.in, opts.out, j.grid.Name, j.grid.ID, j.rows)
	if prev.len() > 0 {
		fmt.Fprintf(stderr, ", %d done before, %d to go", prev.len(), j.rows-prev.len())
	}
	if len(s.revisit) > 0 {
		fmt.Fprintf(stderr, ", %d of the output's to settle", len(s.revisit))
	}
	fmt.Fprintln(stderr)

	// On the first write error, start no more rows; those running end and
	// are recorded in the journal, which the next run writes them from.
	halt, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	var haltOnce sync.Once
	src := &rowSource{job: j, picked: picked}
	w, err := newRowWriter(f, opts.out, j, src, func() { haltOnce.Do(func() { close(halt) }) })
	if err != nil {
		return err
	}
	defer w.close()
	go func() {
		select {
		case <-stop:
			haltOnce.Do(func() { close(halt) })
		case <-halt:
		case <-finished:
		}
	}()
	report := &bitscale.BatchReport{}
	if picked.len() > 0 {
		p := &progress{w: stderr, tty: isTerminal(stderr), every: opts.every, total: j.rows, before: s.before}
		bo := &bitscale.BatchOptions{
			Grid:        j.grid,
			Concurrency: opts.concurrency,
			MinCredits:  opts.minCredits,
			Async:       !opts.sync,
			Poll:        &bitscale.PollOptions{Interval: opts.poll},
			Journal:     inputJournal{journal, picked},
			Resend:      picked.batchIndexes(opts.resend),
			Ordered:     true,
			OnResult:    w.add,
			OnProgress:  p.update,
			Stop:        halt,
		}
		report, err = c.Grids.RunBatchSeq(ctx, j.grid.ID, src.rows, bo)
		p.end()
		if report == nil { // the batch could not start
			return err
		}
		if src.err != nil {
			return src.err
		}
	}
	if w.err != nil {
		return fmt.Errorf("writing %s: %w", opts.out, w.err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := w.rewrite(); err != nil {
		return err
	}

	sum := summary{total: j.rows, resumed: prev.len() - len(s.revisit), completed: w.completed, failed: w.failed,
		unknown: w.unknown, credits: w.credits}
	for _, i := range unknownRows(s.unknown, w.revised, w.unknownRows) {
		if e, _ := journal.Last(i); e.RunID != "" {
			sum.lookUp = append(sum.lookUp, i)
		} else {
			sum.blind = append(sum.blind, i)
		}
	}
	sum.print(stdout, opts.out)
	if sum.notRunYet() > 0 {
		return unfinished(report.Stopped)
	}
	return nil
}

// picked are the rows of the input a batch runs, in input order: the rows
// of the output to settle again, then the rows from one index to another.
type picked struct {
	revisit  []int // input indexes, ascending, all below from
	from, to int
}

// len returns the rows in the batch.
func (p picked) len() int { return len(p.revisit) + p.to - p.from }

// input returns the input index of the batch's row k.
func (p picked) input(k int) int {
	if k < len(p.revisit) {
		return p.revisit[k]
	}
	return p.from + k - len(p.revisit)
}

// batchIndexes returns the batch's indexes of the input rows numbered rows,
// which are rows to revisit.
func (p picked) batchIndexes(rows []int) []int {
	var idx []int
	for _, n := range rows {
		if k, ok := slices.BinarySearch(p.revisit, n-1); ok {
			idx = append(idx, k)
		}
	}
	return idx
}

// unfinished returns the error of a run that left rows for the next.
func unfinished(why error) error {
	const again = "run the same command again to continue with the rows not run yet"
	if errors.Is(why, bitscale.ErrBatchStopped) || errors.Is(why, context.Canceled) {
		return errors.New("interrupted: " + again)
	}
	return fmt.Errorf("stopped: %w: %s", why, again)
}
