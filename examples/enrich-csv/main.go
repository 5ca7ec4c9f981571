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
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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

	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr, stop)
	cancel()
	os.Exit(code)
}

// errUsage marks a command line that was refused; why has been printed.
var errUsage = errors.New("usage")

// cli runs the program and returns its exit status: 0 when it did its work
// or printed the help -h asked for, 2 for a bad command line, and 1
// otherwise, rows left to do included.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	err := run(ctx, args, stdout, stderr, stop)
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer, stop <-chan struct{}) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	c, fake, closeFn, err := connect(stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	if !fake && !opts.run {
		return check(ctx, c, opts, stdout)
	}
	return enrich(ctx, c, opts, stdout, stderr, stop)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("enrich-csv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.grid, "grid", os.Getenv("BITSCALE_GRID_ID"),
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
	if opts.grid == "" && os.Getenv("BITSCALE_API_KEY") == "" {
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
// and otherwise one of a fake server started here, with what closes it.
func connect(stderr io.Writer) (c *bitscale.Client, fake bool, closeFn func(), err error) {
	if os.Getenv("BITSCALE_API_KEY") != "" {
		c, err := bitscale.NewClientFromEnv()
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
// what earlier runs left in the output.
type job struct {
	header    []string
	rows      [][]string
	grid      *bitscale.Grid
	cols      []*bitscale.Column
	outputs   []string // the names of the grid's output columns
	outHeader []string
}

// prepare reads the input and the grid and checks that they fit.
func prepare(ctx context.Context, c *bitscale.Client, opts options) (*job, error) {
	header, rows, err := readInput(opts.in)
	if err != nil {
		return nil, err
	}
	grid, _, err := c.Grids.Get(ctx, opts.grid)
	if err != nil {
		return nil, err
	}
	cols, err := inputColumns(grid, header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.in, err)
	}
	outputs := outputNames(grid)
	return &job{
		header: header, rows: rows, grid: grid, cols: cols, outputs: outputs,
		outHeader: slices.Concat(header, outputs, []string{statusColumn, errorColumn}),
	}, nil
}

// check says what a run would send, spending nothing: every row is checked
// against the grid as RunBatch checks it before sending.
func check(ctx context.Context, c *bitscale.Client, opts options, stdout io.Writer) error {
	j, err := prepare(ctx, c, opts)
	if err != nil {
		return err
	}
	var bad []string
	for i, rec := range j.rows {
		if _, err := j.grid.RunRequest(inputs(j.header, j.cols, rec)); err != nil {
			bad = append(bad, fmt.Sprintf("  row %d: %v", i+1, err))
		}
	}
	fmt.Fprintf(stdout, "Checked %d rows of %s against grid %s (%s): %d would be sent, %d would fail.\n",
		len(j.rows), opts.in, j.grid.Name, j.grid.ID, len(j.rows)-len(bad), len(bad))
	for _, line := range bad {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, "Nothing was sent. Add -run to run the grid and spend credits.")
	return nil
}

// enrich runs the grid on the rows of the input that the output does not
// hold yet, and appends them to it; it also settles the rows of the output
// that it can: unknown rows whose run ID is known, and rows to resend.
func enrich(ctx context.Context, c *bitscale.Client, opts options, stdout, stderr io.Writer, stop <-chan struct{}) error {
	j, err := prepare(ctx, c, opts)
	if err != nil {
		return err
	}
	prev, err := readOutput(opts.out, j.outHeader, j.rows)
	if err != nil {
		return err
	}
	journal, err := openJournal(opts.out, prev)
	if err != nil {
		return err
	}
	defer journal.Close()
	revisit, err := prev.revisit(journal, opts.resend)
	if err != nil {
		return err
	}
	f, err := openOutput(opts.out, j.outHeader, prev.hasHeader)
	if err != nil {
		return err
	}
	defer f.Close() // on early returns; the end checks Close's error

	// The batch: the output's rows to revisit, then the rows not written.
	picked := slices.Clone(revisit)
	for i := len(prev.status); i < len(j.rows); i++ {
		picked = append(picked, i)
	}
	fmt.Fprintf(stderr, "Enriching %s into %s with grid %s (%s): %d rows", opts.in, opts.out, j.grid.Name, j.grid.ID, len(j.rows))
	if len(prev.status) > 0 {
		fmt.Fprintf(stderr, ", %d done before, %d to go", len(prev.status), len(j.rows)-len(prev.status))
	}
	if len(revisit) > 0 {
		fmt.Fprintf(stderr, ", %d of the output's to settle", len(revisit))
	}
	fmt.Fprintln(stderr)

	// On the first write error, start no more rows; those running end and
	// are recorded in the journal, which the next run writes them from.
	halt, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	var haltOnce sync.Once
	w := newRowWriter(f, j, picked, len(revisit), func() { haltOnce.Do(func() { close(halt) }) })
	go func() {
		select {
		case <-stop:
			haltOnce.Do(func() { close(halt) })
		case <-halt:
		case <-finished:
		}
	}()
	report := &bitscale.BatchReport{}
	if len(picked) > 0 {
		batch := make([]map[string]any, len(picked))
		for k, i := range picked {
			batch[k] = inputs(j.header, j.cols, j.rows[i])
		}
		p := &progress{w: stderr, tty: isTerminal(stderr), every: opts.every, total: len(j.rows),
			before: prev.done(journal, revisit)}
		bo := &bitscale.BatchOptions{
			Grid:        j.grid,
			Concurrency: opts.concurrency,
			MinCredits:  opts.minCredits,
			Async:       !opts.sync,
			Poll:        &bitscale.PollOptions{Interval: opts.poll},
			Journal:     inputJournal{journal, picked},
			Resend:      batchIndexes(picked, opts.resend),
			Ordered:     true,
			OnResult:    w.add,
			OnProgress:  p.update,
			Stop:        halt,
		}
		report, err = c.Grids.RunBatch(ctx, j.grid.ID, batch, bo)
		p.end()
		if report == nil { // the batch could not start
			return err
		}
	}
	if w.err != nil {
		return fmt.Errorf("writing %s: %w", opts.out, w.err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := rewrite(opts.out, w.revised); err != nil {
		return err
	}

	sum := summary{total: len(j.rows), resumed: len(prev.status) - len(revisit), completed: w.completed, failed: w.failed,
		unknown: w.unknown, credits: w.credits}
	for _, i := range unknownRows(prev.status, w.revised, w.unknownRows) {
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

// batchIndexes returns the batch's indexes of the input rows numbered rows.
func batchIndexes(picked []int, rows []int) []int {
	var idx []int
	for _, n := range rows {
		if k := slices.Index(picked, n-1); k >= 0 {
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

// readInput returns the header and the data rows of the input CSV.
func readInput(path string) (header []string, rows [][]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(records) == 0 {
		return nil, nil, fmt.Errorf("%s is empty: it needs a header naming the grid's input columns", path)
	}
	header = records[0]
	// Spreadsheets often start a UTF-8 CSV with a byte order mark.
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	return header, records[1:], nil
}

// inputColumns returns the grid's input column that each header names. It
// refuses a header that names a column twice, a column that is not an
// input, or that lacks a required input, since every row would fail.
func inputColumns(grid *bitscale.Grid, header []string) ([]*bitscale.Column, error) {
	cols := make([]*bitscale.Column, len(header))
	seen := make(map[string]string) // column ID → the header naming it
	for i, h := range header {
		col, ok := grid.Column(h)
		if !ok || !col.IsInput {
			return nil, fmt.Errorf("column %q is not an input of grid %s, whose inputs are %s", h, grid.ID, inputNames(grid))
		}
		if first, dup := seen[col.ID]; dup {
			return nil, fmt.Errorf("columns %q and %q both name the grid's column %q", first, h, col.Name)
		}
		seen[col.ID] = h
		cols[i] = col
	}
	for _, col := range grid.Columns {
		if _, ok := seen[col.ID]; col.IsInput && col.Required && !ok {
			return nil, fmt.Errorf("the grid's required input %q has no column", col.Name)
		}
	}
	return cols, nil
}

func inputNames(grid *bitscale.Grid) string {
	var names []string
	for _, col := range grid.Columns {
		if col.IsInput {
			names = append(names, strconv.Quote(col.Name))
		}
	}
	return strings.Join(names, ", ")
}

// outputNames returns the names of the grid's output columns, in its order.
func outputNames(grid *bitscale.Grid) []string {
	var names []string
	for _, col := range grid.Columns {
		if col.IsOutput {
			names = append(names, col.Name)
		}
	}
	return names
}

// inputs returns a CSV row as a run's inputs, keyed as the header names the
// columns. An empty cell is left out: an optional input is then not given,
// and a missing required one is reported as such.
func inputs(header []string, cols []*bitscale.Column, rec []string) map[string]any {
	row := make(map[string]any, len(rec))
	for i, s := range rec {
		if s != "" {
			row[header[i]] = value(cols[i].Type, s)
		}
	}
	return row
}

// value converts a cell for a column of type t. CSV holds only text, but a
// number or boolean column wants a JSON number or boolean; text that does
// not convert is left as it is, for the SDK to refuse with its reason.
func value(t bitscale.ColumnType, s string) any {
	switch t {
	case bitscale.ColumnNumber:
		// ParseFloat refuses what is not one number, json.Valid what JSON
		// cannot carry (NaN, hex floats).
		if _, err := strconv.ParseFloat(s, 64); err == nil && json.Valid([]byte(s)) {
			return json.Number(s)
		}
	case bitscale.ColumnBoolean:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

// previous is what earlier runs left in the output.
type previous struct {
	hasHeader bool
	status    []string // the status of each data row written, in order
}

// readOutput reads what earlier runs wrote to the output, and checks that
// it is the output of this input and grid, so that rows of different files
// are never mixed.
func readOutput(path string, header []string, input [][]string) (previous, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return previous{}, nil
	case err != nil:
		return previous{}, err
	case len(data) == 0:
		return previous{}, nil // created, but stopped before its header
	}
	// Every row is written whole with its line end; a file that ends
	// otherwise was cut short while a row was being written.
	if data[len(data)-1] != '\n' {
		return previous{}, fmt.Errorf("%s ends in the middle of a row: check its last line, remove it, and run again", path)
	}
	records, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		return previous{}, fmt.Errorf("%s: %w", path, err)
	}
	if !slices.Equal(records[0], header) {
		return previous{}, fmt.Errorf("%s has the columns %q, not the %q this run writes: choose another -out, or remove it to start over",
			path, records[0], header)
	}
	if len(records)-1 > len(input) {
		return previous{}, fmt.Errorf("%s has %d rows, more than the input's %d: it is not this input's output", path, len(records)-1, len(input))
	}
	prev := previous{hasHeader: true}
	status := slices.Index(header, statusColumn)
	for i, rec := range records[1:] {
		if !slices.Equal(rec[:len(input[i])], input[i]) {
			return previous{}, fmt.Errorf("row %d of %s is not row %d of the input: it is not this input's output", i+1, path, i+1)
		}
		prev.status = append(prev.status, rec[status])
	}
	return prev, nil
}

// openJournal opens the output's journal. It refuses a journal without
// its output, and an output whose rows the journal does not account for:
// either way, rows that ran could be sent again.
func openJournal(out string, prev previous) (*bitscale.JournalFile, error) {
	path := out + ".journal"
	j, err := bitscale.OpenJournalFile(path)
	if err != nil {
		return nil, err
	}
	// Rows are sent only once the output has its header.
	if !prev.hasHeader && j.Len() > 0 {
		j.Close()
		return nil, fmt.Errorf("%s records %d rows sent for %s, which is missing: restore %s, or remove %s too to start over "+
			"(the rows it records as sent would then be sent, and paid for, again)", path, j.Len(), out, out, path)
	}
	for i, st := range prev.status {
		if _, ok := j.Last(i); !ok && st != string(bitscale.OutcomeFailed) {
			j.Close()
			return nil, fmt.Errorf("%s does not record row %d of %s, which is %s: it is not this output's journal; "+
				"restore the journal, or move %s away to start over", path, i+1, out, st, out)
		}
	}
	return j, nil
}

// revisit returns the rows of the output, by input index, to settle again:
// unknown rows whose run ID the journal knows, which are looked up, and
// the rows to resend, which must be unknown.
func (p previous) revisit(j *bitscale.JournalFile, resend []int) ([]int, error) {
	var rows []int
	for i, st := range p.status {
		if e, _ := j.Last(i); settleAgain(st, e) {
			rows = append(rows, i)
		}
	}
	for _, n := range resend {
		switch {
		case n > len(p.status):
			return nil, fmt.Errorf("-resend-unknown: row %d is not in the output yet", n)
		case p.status[n-1] != string(bitscale.OutcomeUnknown):
			return nil, fmt.Errorf("-resend-unknown: row %d is %s, not unknown", n, p.status[n-1])
		case slices.Contains(rows, n-1):
			return nil, fmt.Errorf("-resend-unknown: row %d is settled without it: its run ID is looked up, "+
				"or the journal records how it ended", n)
		}
		rows = append(rows, n-1)
	}
	slices.Sort(rows)
	return slices.Compact(rows), nil
}

// done counts the rows of the output that are not revisited, and the
// credits the journal records for them.
func (p previous) done(j *bitscale.JournalFile, revisit []int) done {
	var d done
	for i, st := range p.status {
		if slices.Contains(revisit, i) {
			continue
		}
		d.rows++
		if st == string(bitscale.OutcomeFailed) {
			d.failed++
		}
		if e, ok := j.Last(i); ok {
			d.credits += e.Credits
		}
	}
	return d
}

// settleAgain reports whether a row of the output, of status st, is to be
// settled again by this run, given the journal's last entry for it, e: a
// row written not run is sent; an unknown row is looked up by its run ID,
// or written as the journal says it ended when a run stopped before it
// could rewrite the row.
func settleAgain(st string, e bitscale.JournalEntry) bool {
	switch st {
	case notRun:
		return true
	case string(bitscale.OutcomeUnknown):
		return e.RunID != "" || e.State == bitscale.JournalEnded && e.Outcome != bitscale.OutcomeUnknown
	}
	return false
}

// inputJournal is the output's journal, which records rows by their index
// in the input, seen from a batch of the input rows picked.
type inputJournal struct {
	j      *bitscale.JournalFile
	picked []int // batch index → input index
}

func (ij inputJournal) Last(row int) (bitscale.JournalEntry, bool) {
	e, ok := ij.j.Last(ij.picked[row])
	e.Row = row
	return e, ok
}

func (ij inputJournal) Record(e bitscale.JournalEntry) error {
	e.Row = ij.picked[e.Row]
	return ij.j.Record(e)
}

// openOutput opens the output for appending, and writes its header first
// when it has none.
func openOutput(path string, header []string, hasHeader bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if !hasHeader {
		w := csv.NewWriter(f)
		w.Write(header)
		w.Flush()
		if err := w.Error(); err != nil { // Error reports Write's errors too
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// rowWriter writes the batch's results to the output, as RunBatch hands
// them over with BatchOptions.Ordered: the rows of the output revisited
// first, kept to rewrite the output with, then the others, appended in
// input order.
type rowWriter struct {
	csv     *csv.Writer
	job     *job
	picked  []int  // batch index → input index
	revisit int    // the first rows of the batch are the output's
	fail    func() // stops the batch after a write error

	held    []bitscale.BatchResult // rows not settled, waiting for a later row
	revised map[int][]string       // rows of the output to rewrite, by input index
	err     error                  // the first write error

	completed, failed, unknown int   // rows written, by status
	credits                    int   // consumed by the rows written
	unknownRows                []int // input indexes of the rows written unknown
}

func newRowWriter(f *os.File, j *job, picked []int, revisit int, fail func()) *rowWriter {
	return &rowWriter{csv: csv.NewWriter(f), job: j, picked: picked, revisit: revisit, fail: fail, revised: make(map[int][]string)}
}

// add takes the next row's result. RunBatch calls it in row order, from
// one goroutine at a time.
//
// A row whose outcome is not settled is held until a later row's is: the
// output must hold the first rows of the input and nothing else, so that
// the next run knows where to continue. Held rows left at the end are not
// written, and the next run sends them.
func (w *rowWriter) add(res bitscale.BatchResult) {
	if w.err != nil {
		return
	}
	if res.Index < w.revisit {
		if settled(res) {
			w.revised[w.picked[res.Index]] = w.record(res)
		}
		return
	}
	if !settled(res) {
		w.held = append(w.held, res)
		return
	}
	for _, h := range w.held {
		w.write(h)
	}
	w.held = w.held[:0]
	w.write(res)
}

// settled reports whether a row's outcome is final. A row that was
// skipped, or refused with every other (for lack of credits, a run quota,
// a bad key, a missing grid), did not run: the next run can send it at no
// extra cost.
func settled(res bitscale.BatchResult) bool {
	return res.Outcome != bitscale.OutcomeSkipped && res.Outcome != bitscale.OutcomeRefused
}

// record returns the output row of a result, and counts it.
func (w *rowWriter) record(res bitscale.BatchResult) []string {
	status, why := string(res.Outcome), ""
	if res.Err != nil {
		why = res.Err.Error()
	}
	if !settled(res) { // not run, but a later row was
		status, why = notRun, "not run: "+why
	}
	i := w.picked[res.Index]
	rec := slices.Clone(w.job.rows[i])
	for _, name := range w.job.outputs {
		rec = append(rec, cell(res.Outputs[name]))
	}
	switch bitscale.Outcome(status) {
	case bitscale.OutcomeCompleted:
		w.completed++
	case bitscale.OutcomeUnknown:
		w.unknown++
		w.unknownRows = append(w.unknownRows, i)
	case bitscale.OutcomeFailed:
		w.failed++
	}
	if !res.Resumed {
		w.credits += res.Credits
	}
	return append(rec, status, why)
}

// write appends one row to the output and flushes it, so that the file
// holds every row written even if the program is killed right after.
func (w *rowWriter) write(res bitscale.BatchResult) {
	w.csv.Write(w.record(res))
	w.csv.Flush()
	if w.err = w.csv.Error(); w.err != nil {
		w.fail()
	}
}

// rewrite replaces rows of the output, by input index, writing a new file
// beside it and renaming it over the old, so that a crash leaves one or
// the other whole.
func rewrite(path string, revised map[int][]string) error {
	if len(revised) == 0 {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i, rec := range revised {
		records[i+1] = rec
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	cw := csv.NewWriter(tmp)
	cw.WriteAll(records)
	if err := errors.Join(cw.Error(), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// unknownRows returns the input indexes of the rows of the output whose
// status is unknown once this run's rows are in.
func unknownRows(before []string, revised map[int][]string, written []int) []int {
	var rows []int
	for i, st := range before {
		if rec, ok := revised[i]; ok {
			st = rec[len(rec)-2]
		}
		if st == string(bitscale.OutcomeUnknown) {
			rows = append(rows, i)
		}
	}
	for _, i := range written {
		if i >= len(before) {
			rows = append(rows, i)
		}
	}
	return rows
}

// cell formats an output value: text as it is, objects and lists as JSON,
// anything else as fmt.Sprint prints it.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]any, []any:
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// progress shows how far the batch got, counting from the first row of
// the input: a bar redrawn in place on a terminal, and otherwise a line
// every few rows, which suits a log.
type progress struct {
	w      io.Writer
	tty    bool
	every  int
	total  int  // rows in the input
	before done // rows of the output not in the batch
}

// done counts rows that ended and what they cost.
type done struct{ rows, failed, credits int }

func (p *progress) update(b bitscale.BatchProgress) {
	n, failed, credits := p.before.rows+b.Done, p.before.failed+b.Failed, p.before.credits+b.Credits
	switch {
	case p.tty:
		const width = 30
		filled := width * n / p.total
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d rows, %d failed, %d credits",
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, p.total, failed, credits)
	case n%p.every == 0 || b.Done == b.Total:
		fmt.Fprintf(p.w, "%d/%d rows, %d failed, %d credits\n", n, p.total, failed, credits)
	}
}

// end ends the bar's line, so that what follows starts on its own.
func (p *progress) end() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// summary counts the rows of the input by how they ended.
type summary struct {
	total, resumed             int
	completed, failed, unknown int // rows written or settled by this run
	credits                    int // consumed by this run
	// The output's unknown rows, by input index: those whose run ID is
	// known, which the next run looks up, and the others.
	lookUp, blind []int
}

func (s summary) notRunYet() int {
	return s.total - s.resumed - s.completed - s.failed - s.unknown
}

func (s summary) print(w io.Writer, out string) {
	for _, line := range []struct {
		label string
		n     int
	}{
		{"rows in the input", s.total},
		{"done before this run", s.resumed},
		{"completed", s.completed},
		{"failed", s.failed},
		{"unknown", s.unknown},
		{"not run yet", s.notRunYet()},
		{"credits consumed", s.credits},
	} {
		fmt.Fprintf(w, "%-22s %6d\n", line.label, line.n)
	}
	if len(s.lookUp) > 0 {
		fmt.Fprintf(w, "\nRows of %s whose status is unknown, but whose run BitScale accepted: %d\n"+
			"(rows %s). Run the same command again to look them up; nothing is sent for them.\n",
			out, len(s.lookUp), rowList(s.lookUp, ", "))
	}
	if len(s.blind) > 0 {
		fmt.Fprintf(w, "\nRows of %s whose status is unknown: %d (rows %s).\n"+
			"They may have run and spent credits, but no answer came back, and BitScale cannot\n"+
			"look them up. They are not sent again. Check them in BitScale; to send again those\n"+
			"that did not run, add\n  -resend-unknown %s\n",
			out, len(s.blind), rowList(s.blind, ", "), rowList(s.blind, ","))
	}
}

// rowList returns row numbers, from 1, of input indexes.
func rowList(rows []int, sep string) string {
	nums := make([]string, len(rows))
	for k, i := range rows {
		nums[k] = strconv.Itoa(i + 1)
	}
	return strings.Join(nums, sep)
}
