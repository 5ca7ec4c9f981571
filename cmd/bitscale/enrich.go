package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/spf13/cobra"
)

// enrichFlags are the flags of bitscale enrich.
type enrichFlags struct {
	out, journal        string
	inFormat, outFormat string
	concurrency         int
	maxCredits          int
	dryRun              bool
	sync                bool
	resend              string
	poll                time.Duration
}

func (a *app) enrichCommand() *cobra.Command {
	var f enrichFlags
	cmd := &cobra.Command{
		Use:   "enrich GRID IN -o OUT",
		Short: "Run a grid on every row of a CSV or JSON Lines file, resumably",
		Long: `Run a grid on every row of IN and write each row, with the grid's outputs
and how it ended (bitscale_status, bitscale_error, bitscale_run_id), to OUT,
in input order. IN and OUT are CSV or JSON Lines (.jsonl), by their names or
--in-format and --out-format; "-" is stdin or stdout. A CSV's header, or a
JSON object's keys, name the grid's input columns, by name or ID. A file
output is written as OUT.partial and renamed over OUT when the run ends, so
that OUT always holds every row of one run.

A journal records each row before its run is sent and when it ends: beside
OUT as OUT.journal, or where --journal says (required with -o -). Run the
same command again after an interruption, a crash or running out of credits,
and it continues: rows that ended are written from the journal, rows BitScale
accepted are looked up, and only rows that surely did not run are sent. No
row that may have run is sent again. Keep the journal while OUT may be
continued.

A row whose outcome is unknown may have run and spent credits; it is not sent
again, but written as unknown. Once checked in BitScale that some did not run,
send them again with --resend-unknown and their row numbers.

Ctrl-C stops starting rows: the rows running finish and are written. A second
Ctrl-C abandons them.

The summary goes to stdout, or to stderr when stdout carries the output;
with --json it is a JSON object.`,
		Example: `  bitscale enrich grid_001 leads.csv -o enriched.csv
  bitscale enrich grid_001 leads.csv --dry-run
  cat leads.jsonl | bitscale enrich grid_001 - -o - --journal leads.journal > enriched.jsonl`,
		Args: nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.graceful.Store(true)
			return a.enrich(cmd.Context(), args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "the output `file`, or - for stdout")
	fl.StringVar(&f.journal, "journal", "", "the journal `file` (default: the output's name with .journal added)")
	fl.StringVar(&f.inFormat, "in-format", "", "the input's format, csv or jsonl (default: by its name, else csv)")
	fl.StringVar(&f.outFormat, "out-format", "", "the output's format, csv or jsonl (default: by its name, else the input's)")
	fl.IntVar(&f.concurrency, "concurrency", bitscale.DefaultBatchConcurrency, "how many rows run at once")
	fl.IntVar(&f.maxCredits, "max-credits", 0, "stop before the credits this run spends could pass `n`, each row counted at the dearest seen (0: no limit)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "check every row against the grid and say what would be sent, spending nothing")
	fl.DurationVar(&f.poll, "poll", 0, "the first wait between polls of an async run (default 500ms)")
	fl.BoolVar(&f.sync, "sync", false, "run rows synchronously: fewer requests, but rows running when the program dies stay unknown")
	fl.StringVar(&f.resend, "resend-unknown", "", "send again these `rows` (numbers from 1, comma-separated) whose outcome is unknown, once checked that they did not run")
	return cmd
}

// check refuses flags that cannot work together.
func (f *enrichFlags) check(in string) error {
	switch {
	case f.concurrency < 1:
		return usageError("--concurrency must be at least 1")
	case f.maxCredits < 0:
		return usageError("--max-credits must not be negative")
	case f.dryRun:
		return nil
	case f.out == "":
		return usageError("no output: give -o FILE, or -o - for stdout (with --journal FILE)")
	case f.out == "-" && f.journal == "":
		return usageError("-o - has no file to keep the journal beside: give --journal FILE, so that a rerun sends no row twice")
	case in != "-" && filepath.Clean(in) == filepath.Clean(f.out):
		return usageError("the input and the output must be different files")
	}
	for _, format := range []string{f.inFormat, f.outFormat} {
		if format != "" && format != formatCSV && format != formatJSONL {
			return usageError("format %q: want csv or jsonl", format)
		}
	}
	if f.journal == "" {
		f.journal = f.out + ".journal"
	}
	return nil
}

// enrich runs the grid on the rows of the input.
func (a *app) enrich(ctx context.Context, gridID, in string, f enrichFlags) error {
	if err := f.check(in); err != nil {
		return err
	}
	if f.poll > 0 {
		a.poll = f.poll
	}
	resend, err := rowNumbers(f.resend)
	if err != nil {
		return usageError("--resend-unknown: %v", err)
	}
	c, err := a.connect()
	if err != nil {
		return err
	}
	grid, _, err := c.Grids.Get(ctx, gridID)
	if err != nil {
		return err
	}
	input, cols, err := a.readInput(in, firstOf(f.inFormat, formatOf(in, formatCSV)), grid)
	if err != nil {
		return err
	}
	defer input.close()
	if f.dryRun {
		return a.dryRun(grid, input, cols)
	}
	return a.runBatch(ctx, c, grid, input, cols, resend, f)
}

// readInput opens the input and returns it with the grid's input column
// each of its columns names. A header that does not fit the grid is
// refused, since every row would fail.
func (a *app) readInput(in, format string, grid *bitscale.Grid) (*input, []*bitscale.Column, error) {
	input, err := openInput(in, a.stdin, format, grid)
	if err != nil {
		return nil, nil, err
	}
	cols, err := inputColumns(grid, input.header)
	if err != nil {
		input.close()
		return nil, nil, withCode(exitUsage, fmt.Errorf("%s: %w", in, err), "nothing was sent")
	}
	return input, cols, nil
}

// dryRun says what enrich would send, spending nothing: every row is
// checked against the grid as RunBatch checks it before sending.
func (a *app) dryRun(grid *bitscale.Grid, in *input, cols []*bitscale.Column) error {
	type badRow struct {
		Row   int    `json:"row"`
		Error string `json:"error"`
	}
	var bad []badRow
	n := 0
	err := in.each(func(row []any) bool {
		n++
		if _, err := grid.RunRequest(batchRow(in.header, cols, row)); err != nil {
			bad = append(bad, badRow{n, oneLine(err.Error())})
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	if a.json {
		if err := a.printJSON(struct {
			Grid      string   `json:"grid"`
			Rows      int      `json:"rows"`
			WouldSend int      `json:"would_send"`
			WouldFail []badRow `json:"would_fail"`
		}{grid.ID, n, n - len(bad), append([]badRow{}, bad...)}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "Checked %d rows of %s against grid %s (%s): %d would be sent, %d would fail.\n",
			n, in.name, grid.ID, grid.Name, n-len(bad), len(bad))
		for _, b := range bad {
			fmt.Fprintf(a.stdout, "  row %d: %s\n", b.Row, b.Error)
		}
		fmt.Fprintln(a.stdout, "Nothing was sent.")
	}
	if len(bad) > 0 {
		return withCode(exitPartial, fmt.Errorf("rows that would fail: %d", len(bad)), "fix them, or they will be written as failed")
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
