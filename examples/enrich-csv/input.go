package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bitscale/bitscale-go"
)

// inputFile is the input CSV, read a row at a time.
type inputFile struct {
	path   string
	f      *os.File
	r      *csv.Reader
	header []string
}

// openInput opens the input and reads its header.
func openInput(path string) (*inputFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &inputFile{path: path, f: f, r: csv.NewReader(f)}
	in.header, err = in.r.Read()
	if err == io.EOF {
		err = fmt.Errorf("%s is empty: it needs a header naming the grid's input columns", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	// Spreadsheets often start a UTF-8 CSV with a byte order mark.
	in.header[0] = strings.TrimPrefix(in.header[0], "\ufeff")
	return in, nil
}

// next returns the next data row, or io.EOF after the last.
func (in *inputFile) next() ([]string, error) {
	rec, err := in.r.Read()
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", in.path, err)
	}
	return rec, err
}

func (in *inputFile) close() { in.f.Close() }

// rowSource hands the batch the rows it picked from the input, reading
// the input as the batch takes them, and keeps each row's cells until the
// writer has written it.
type rowSource struct {
	job    *job
	picked picked
	err    error // why reading stopped early; read once the batch ended

	mu    sync.Mutex
	cells map[int][]string // by batch index, rows taken and not yet written
}

// rows yields the rows picked, in order, as RunBatchSeq asks for them. It
// runs on the batch's goroutine.
func (s *rowSource) rows(yield func(map[string]any) bool) {
	in, err := openInput(s.job.in)
	if err != nil {
		s.err = err
		return
	}
	defer in.close()
	k := 0 // the batch index of the next row picked
	for i := 0; k < s.picked.len(); i++ {
		rec, err := in.next()
		if err == io.EOF {
			err = fmt.Errorf("%s has %d rows now, fewer than the %d it had when this run started", s.job.in, i, s.job.rows)
		}
		if err != nil {
			s.err = err
			return
		}
		if i != s.picked.input(k) {
			continue
		}
		s.mu.Lock()
		if s.cells == nil {
			s.cells = make(map[int][]string)
		}
		s.cells[k] = rec
		s.mu.Unlock()
		if !yield(inputs(s.job.header, s.job.cols, rec)) {
			return
		}
		k++
	}
}

// take returns the cells of the batch's row k, and forgets them.
func (s *rowSource) take(k int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.cells[k]
	delete(s.cells, k)
	return rec
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
	status    rowStatuses // of each data row written, in order
}

func (p *previous) len() int { return len(p.status.rows) }

// rowStatuses hold the status of each row, a byte a row: an index into
// the names of the statuses seen, which are few.
type rowStatuses struct {
	names []string
	rows  []uint8
}

func (s *rowStatuses) add(name string) error {
	i := slices.Index(s.names, name)
	if i < 0 {
		if len(s.names) > 255 {
			return fmt.Errorf("more than 256 different values of %s", statusColumn)
		}
		i = len(s.names)
		s.names = append(s.names, strings.Clone(name))
	}
	s.rows = append(s.rows, uint8(i))
	return nil
}

func (s *rowStatuses) at(i int) string { return s.names[s.rows[i]] }

// scan reads the input through, counting its rows, and beside it what
// earlier runs wrote to the output, checking that it is the output of
// this input and grid, so that rows of different files are never mixed.
func scan(j *job, out string) (previous, error) {
	prev, o, err := openPrevious(out, j.outHeader)
	if err != nil {
		return previous{}, err
	}
	if o != nil {
		defer o.Close()
	}
	in, err := openInput(j.in)
	if err != nil {
		return previous{}, err
	}
	defer in.close()
	var r *csv.Reader
	if o != nil {
		r = csv.NewReader(o)
		r.Read() // the header, checked
	}
	status := slices.Index(j.outHeader, statusColumn)
	for j.rows = 0; ; j.rows++ {
		rec, err := in.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return previous{}, err
		}
		if r == nil {
			continue
		}
		written, err := r.Read()
		if err == io.EOF {
			r = nil
			continue
		}
		if err != nil {
			return previous{}, fmt.Errorf("%s: %w", out, err)
		}
		if !slices.Equal(written[:len(rec)], rec) {
			return previous{}, fmt.Errorf("row %d of %s is not row %d of the input: it is not this input's output", j.rows+1, out, j.rows+1)
		}
		if err := prev.status.add(written[status]); err != nil {
			return previous{}, fmt.Errorf("%s: %w", out, err)
		}
	}
	if r != nil {
		if n, err := countRecords(r); err != nil || n > 0 {
			return previous{}, fmt.Errorf("%s has %d rows, more than the input's %d: it is not this input's output", out, prev.len()+n, j.rows)
		}
	}
	return prev, nil
}

// openPrevious opens the output that earlier runs wrote, if there is one,
// and checks its header and that it does not end in the middle of a row.
func openPrevious(path string, header []string) (previous, *os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return previous{}, nil, nil
	}
	if err != nil {
		return previous{}, nil, err
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 { // created, but stopped before its header
		f.Close()
		return previous{}, nil, err
	}
	// Every row is written whole with its line end; a file that ends
	// otherwise was cut short while a row was being written.
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		f.Close()
		return previous{}, nil, err
	}
	if last[0] != '\n' {
		f.Close()
		return previous{}, nil, fmt.Errorf("%s ends in the middle of a row: check its last line, remove it, and run again", path)
	}
	got, err := csv.NewReader(f).Read()
	if err == nil && !slices.Equal(got, header) {
		err = fmt.Errorf("%s has the columns %q, not the %q this run writes: choose another -out, or remove it to start over",
			path, got, header)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return previous{}, nil, err
	}
	return previous{hasHeader: true}, f, nil
}

// countRecords reads r through and returns how many records were left.
func countRecords(r *csv.Reader) (int, error) {
	for n := 0; ; n++ {
		if _, err := r.Read(); err != nil {
			if err == io.EOF {
				err = nil
			}
			return n, err
		}
	}
}

// openJournal opens the output's journal. It refuses a journal without
// its output: rows that ran could be sent again.
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
	return j, nil
}

// settlement is what a run does with the rows of the output.
type settlement struct {
	revisit []int // rows to settle again, by input index: looked up, or sent
	before  done  // the others, and the credits the journal records for them
	unknown []int // rows of the output written unknown, by input index
}

// settle decides, from the journal, which rows of the output to settle
// again: unknown rows whose run ID the journal knows, which are looked up,
// and the rows to resend, which must be unknown. It refuses an output whose
// rows the journal does not account for: it is not this output's journal,
// and rows that ran could be sent again.
func (p previous) settle(j *bitscale.JournalFile, out string, resend []int) (settlement, error) {
	want := make(map[int]bool) // rows to resend, by input index
	for _, n := range resend {
		want[n-1] = true
	}
	var s settlement
	for i := range p.len() {
		st := p.status.at(i)
		e, ok := j.Last(i)
		if !ok && st != string(bitscale.OutcomeFailed) {
			return settlement{}, fmt.Errorf("%s.journal does not record row %d of %s, which is %s: it is not this output's journal; "+
				"restore the journal, or move %s away to start over", out, i+1, out, st, out)
		}
		if st == string(bitscale.OutcomeUnknown) {
			s.unknown = append(s.unknown, i)
		}
		if settleAgain(st, e) || want[i] && st == string(bitscale.OutcomeUnknown) {
			s.revisit = append(s.revisit, i)
			continue
		}
		s.before.add(st, e.Credits)
	}
	for _, n := range resend {
		if err := p.resendable(j, n); err != nil {
			return settlement{}, fmt.Errorf("-resend-unknown: %w", err)
		}
	}
	return s, nil
}

// resendable says why row n, from 1, may not be sent again, or nil.
func (p previous) resendable(j *bitscale.JournalFile, n int) error {
	if n > p.len() {
		return fmt.Errorf("row %d is not in the output yet", n)
	}
	st := p.status.at(n - 1)
	if st != string(bitscale.OutcomeUnknown) {
		return fmt.Errorf("row %d is %s, not unknown", n, st)
	}
	if e, _ := j.Last(n - 1); settleAgain(st, e) {
		return fmt.Errorf("row %d is settled without it: its run ID is looked up, "+
			"or the journal records how it ended", n)
	}
	return nil
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
	picked picked
}

func (ij inputJournal) Last(row int) (bitscale.JournalEntry, bool) {
	e, ok := ij.j.Last(ij.picked.input(row))
	e.Row = row
	return e, ok
}

func (ij inputJournal) Record(e bitscale.JournalEntry) error {
	e.Row = ij.picked.input(e.Row)
	return ij.j.Record(e)
}
