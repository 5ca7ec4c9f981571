// Enrich-csv runs a BitScale grid on every row of a CSV file and writes the
// rows, with the grid's outputs, to another CSV file.
//
//	go run ./examples/enrich-csv -grid grid_001 -in leads.csv -out enriched.csv
//
// The input's header names the grid's input columns, by name or ID, and
// each data row is one run. The output keeps the input's columns and
// appends the grid's output columns and two more: bitscale_status, how the
// row ended (completed, failed or unknown), and bitscale_error, why.
//
// Rows are written in input order as they end, so the output always holds
// the first rows of the input. Run the same command again after an
// interruption, a crash or running out of credits, and it continues after
// the last row written: no row is sent twice, so none is paid for twice. A
// row whose outcome is unknown may have run and spent credits; it is not
// sent again, so check it in BitScale.
//
// Ctrl-C stops starting rows: the rows running finish and are written. A
// second Ctrl-C abandons them.
//
// With BITSCALE_API_KEY set it uses the real API, and spends credits:
// BITSCALE_WORKSPACE_ID picks the workspace, and -grid (or
// BITSCALE_GRID_ID) the grid. Without a key it starts the SDK's embedded
// fake BitScale server and runs grid grid_001 there.
package main

import (
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

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

// The columns the output adds after the grid's outputs.
const (
	statusColumn = "bitscale_status"
	errorColumn  = "bitscale_error"
)

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

	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, stop)
	if err != nil && !errors.Is(err, flag.ErrHelp) { // -h printed the usage
		fmt.Fprintln(os.Stderr, "enrich-csv:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	grid        string
	in, out     string
	concurrency int
	every       int
	minCredits  int
}

// run enriches the file the flags name. Closing stop ends it gracefully:
// no row starts after it, and the rows running finish and are written.
// Cancelling ctx abandons the rows running too.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, stop <-chan struct{}) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	c, closeFn, err := connect(stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	return enrich(ctx, c, opts, stdout, stderr, stop)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("enrich-csv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	grid := os.Getenv("BITSCALE_GRID_ID")
	if grid == "" && os.Getenv("BITSCALE_API_KEY") == "" {
		grid = bitscaletest.SeedGridID // the embedded fake's grid
	}
	fs.StringVar(&opts.grid, "grid", grid, "the `ID` of the grid to run; $BITSCALE_GRID_ID sets the default")
	fs.StringVar(&opts.in, "in", "", "the input CSV `file`; its header names the grid's input columns")
	fs.StringVar(&opts.out, "out", "", "the output CSV `file`; if it exists, the run continues after its last row")
	fs.IntVar(&opts.concurrency, "concurrency", bitscale.DefaultBatchConcurrency, "how many rows run at once")
	fs.IntVar(&opts.every, "every", 50, "when stderr is not a terminal, print progress every `n` rows")
	fs.IntVar(&opts.minCredits, "min-credits", 0, "refuse to start when the workspace has fewer credits left")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	switch {
	case fs.NArg() > 0:
		return opts, fmt.Errorf("unexpected arguments %q", fs.Args())
	case opts.in == "" || opts.out == "":
		return opts, errors.New("-in and -out are required")
	case filepath.Clean(opts.in) == filepath.Clean(opts.out):
		return opts, errors.New("-in and -out must be different files")
	case opts.grid == "":
		return opts, errors.New("-grid is required with BITSCALE_API_KEY")
	case opts.concurrency < 1:
		return opts, errors.New("-concurrency must be at least 1")
	case opts.every < 1:
		return opts, errors.New("-every must be at least 1")
	}
	return opts, nil
}

// connect returns a client of the real API when BITSCALE_API_KEY is set,
// and otherwise one of a fake server started here, with what closes it.
func connect(stderr io.Writer) (*bitscale.Client, func(), error) {
	if os.Getenv("BITSCALE_API_KEY") != "" {
		c, err := bitscale.NewClientFromEnv()
		if err != nil {
			return nil, nil, err
		}
		return c, c.CloseIdleConnections, nil
	}
	srv := bitscaletest.NewServer()
	fmt.Fprintf(stderr, "BITSCALE_API_KEY is not set: using the embedded fake BitScale server at %s\n", srv.URL())
	c := srv.Client()
	return c, func() { c.CloseIdleConnections(); srv.Close() }, nil
}

// enrich runs the grid on the rows of the input that the output does not
// hold yet, and appends them to it.
func enrich(ctx context.Context, c *bitscale.Client, opts options, stdout, stderr io.Writer, stop <-chan struct{}) error {
	header, rows, err := readInput(opts.in)
	if err != nil {
		return err
	}
	grid, _, err := c.Grids.Get(ctx, opts.grid)
	if err != nil {
		return err
	}
	cols, err := inputColumns(grid, header)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.in, err)
	}
	outputs := outputNames(grid)
	outHeader := slices.Concat(header, outputs, []string{statusColumn, errorColumn})
	prev, err := readOutput(opts.out, outHeader, rows)
	if err != nil {
		return err
	}
	f, err := openOutput(opts.out, outHeader, prev.hasHeader)
	if err != nil {
		return err
	}
	defer f.Close() // on early returns; the end checks Close's error

	sum := summary{total: len(rows), resumed: prev.rows, unknownBefore: prev.unknown}
	todo := rows[prev.rows:]
	fmt.Fprintf(stderr, "Enriching %s into %s with grid %s (%s): %d rows", opts.in, opts.out, grid.Name, grid.ID, len(rows))
	if prev.rows > 0 {
		fmt.Fprintf(stderr, ", %d done before, %d to go", prev.rows, len(todo))
	}
	fmt.Fprintln(stderr)

	// A row that ends but cannot be written would be paid for and lost:
	// stop everything on the first write error.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newRowWriter(f, todo, outputs, cancel)
	report := &bitscale.BatchReport{}
	if len(todo) > 0 {
		batch := make([]map[string]any, len(todo))
		for i, rec := range todo {
			batch[i] = inputs(header, cols, rec)
		}
		p := &progress{w: stderr, tty: isTerminal(stderr), every: opts.every, before: prev.rows, total: len(rows)}
		report, err = c.Grids.RunBatch(ctx, grid.ID, batch, &bitscale.BatchOptions{
			Grid:        grid,
			Concurrency: opts.concurrency,
			MinCredits:  opts.minCredits,
			Ordered:     true,
			OnResult:    w.add,
			OnProgress:  p.update,
			Stop:        stop,
		})
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

	sum.completed, sum.failed, sum.unknown = w.completed, w.failed, w.unknown
	sum.credits = report.Credits
	sum.print(stdout, opts.out)
	if sum.notAttempted() > 0 {
		return unfinished(report.Stopped)
	}
	return nil
}

// unfinished returns the error of a run that left rows for the next.
func unfinished(why error) error {
	const again = "run the same command again to continue with the rows not attempted"
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
	rows      int // data rows written
	unknown   int // rows of them whose outcome is unknown
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
	prev := previous{hasHeader: true, rows: len(records) - 1}
	if prev.rows > len(input) {
		return previous{}, fmt.Errorf("%s has %d rows, more than the input's %d: it is not this input's output", path, prev.rows, len(input))
	}
	status := slices.Index(header, statusColumn)
	for i, rec := range records[1:] {
		if !slices.Equal(rec[:len(input[i])], input[i]) {
			return previous{}, fmt.Errorf("row %d of %s is not row %d of the input: it is not this input's output", i+1, path, i+1)
		}
		if rec[status] == string(bitscale.OutcomeUnknown) {
			prev.unknown++
		}
	}
	return prev, nil
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

// rowWriter writes the batch's results to the output in input order, as
// RunBatch hands them over with BatchOptions.Ordered.
type rowWriter struct {
	csv     *csv.Writer
	rows    [][]string // the input rows of the batch, by batch index
	outputs []string   // the names of the grid's output columns
	fail    func()     // ends the batch after a write error

	held []bitscale.BatchResult // rows not settled, waiting for a later row
	err  error                  // the first write error

	completed, failed, unknown int // rows written, by status
}

func newRowWriter(f *os.File, rows [][]string, outputs []string, fail func()) *rowWriter {
	return &rowWriter{csv: csv.NewWriter(f), rows: rows, outputs: outputs, fail: fail}
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

// write appends one row to the output and flushes it, so that the file
// holds every row written even if the program is killed right after.
func (w *rowWriter) write(res bitscale.BatchResult) {
	status, why := res.Outcome, ""
	if res.Err != nil {
		why = res.Err.Error()
	}
	if !settled(res) { // not run, but a later row was
		status, why = bitscale.OutcomeFailed, "not run: "+why
	}
	rec := slices.Clone(w.rows[res.Index])
	for _, name := range w.outputs {
		rec = append(rec, cell(res.Outputs[name]))
	}
	rec = append(rec, string(status), why)
	w.csv.Write(rec)
	w.csv.Flush()
	if w.err = w.csv.Error(); w.err != nil {
		w.fail()
		return
	}
	switch status {
	case bitscale.OutcomeCompleted:
		w.completed++
	case bitscale.OutcomeUnknown:
		w.unknown++
	default:
		w.failed++
	}
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

// progress shows how far the batch got: a bar redrawn in place on a
// terminal, and otherwise a line every few rows, which suits a log.
type progress struct {
	w      io.Writer
	tty    bool
	every  int
	before int // rows done before this run
	total  int // rows in the input
}

func (p *progress) update(b bitscale.BatchProgress) {
	done := p.before + b.Done
	switch {
	case p.tty:
		const width = 30
		filled := width * done / p.total
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d rows, %d failed, %d credits",
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, p.total, b.Failed, b.Credits)
	case done%p.every == 0 || b.Done == b.Total:
		fmt.Fprintf(p.w, "%d/%d rows, %d failed, %d credits\n", done, p.total, b.Failed, b.Credits)
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
	completed, failed, unknown int // rows written by this run
	credits                    int // consumed by this run
	unknownBefore              int // rows of earlier runs whose outcome is unknown
}

func (s summary) notAttempted() int {
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
		{"not attempted", s.notAttempted()},
		{"credits consumed", s.credits},
	} {
		fmt.Fprintf(w, "%-22s %6d\n", line.label, line.n)
	}
	if n := s.unknownBefore + s.unknown; n > 0 {
		fmt.Fprintf(w, "\nRows of %s whose status is unknown: %d. They may have run and spent credits, but no\n"+
			"result came back. They are not sent again: check them in BitScale, and run by hand\n"+
			"those that did not run.\n", out, n)
	}
}
