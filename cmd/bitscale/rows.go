package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bitscale/bitscale-go"
)

// The file formats enrich reads and writes.
const (
	formatCSV   = "csv"
	formatJSONL = "jsonl"
)

// formatOf returns the format of a file by its name, or def for "-" and
// names that do not tell.
func formatOf(name, def string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return formatCSV
	case ".jsonl", ".ndjson":
		return formatJSONL
	}
	return def
}

// input is the input file, read a row at a time, as often as needed: it
// is read through once when opened, to learn its columns and count its
// rows, and again as the batch takes the rows.
type input struct {
	name   string   // as given; "-" for stdin
	f      *os.File // the file, or stdin kept in a temporary file
	format string
	header []string // the columns, by the names the input gives them
	rows   int
}

// openInput opens the input name in format, or reads stdin through into an
// unnamed temporary file for "-", and reads it through. A CSV's header
// names the grid's input columns; a JSON Lines row is one object keyed by
// column, and the columns are the keys any row has, in the grid's column
// order, then the others as they sort.
func openInput(name string, stdin io.Reader, format string, grid *bitscale.Grid) (*input, error) {
	in := &input{name: name, format: format}
	var err error
	if name == "-" {
		in.f, err = spool(stdin)
	} else {
		in.f, err = os.Open(name)
	}
	if err != nil {
		return nil, err
	}
	if err := in.scan(grid); err != nil {
		in.f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return in, nil
}

// spool copies r into a temporary file, unnamed where the system allows,
// so that it can be read more than once without being held in memory.
func spool(r io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", "bitscale-stdin-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // gone when closed; where it cannot be yet, close removes it
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// close closes the input, and removes it if it is stdin's copy.
func (in *input) close() {
	in.f.Close()
	if in.name == "-" {
		os.Remove(in.f.Name())
	}
}

// scan reads the input through once: its columns and how many rows.
func (in *input) scan(grid *bitscale.Grid) error {
	if in.format != formatJSONL {
		return in.each(func(row []any) bool { in.rows++; return true })
	}
	keys := make(map[string]bool)
	err := in.eachObject(func(obj map[string]any) bool {
		for k := range obj {
			keys[k] = true
		}
		in.rows++
		return true
	})
	if err != nil {
		return err
	}
	for _, col := range grid.Columns {
		for k := range keys {
			if c, ok := grid.Column(k); ok && c.ID == col.ID {
				in.header = append(in.header, k)
			}
		}
	}
	var rest []string
	for k := range keys {
		if !slices.Contains(in.header, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	in.header = append(in.header, rest...)
	return nil
}

// each calls f with each row's values, in the order of the header (nil
// where a JSON Lines row has none), from the first row, until f returns
// false.
func (in *input) each(f func(row []any) bool) error {
	if _, err := in.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if in.format == formatJSONL {
		return in.eachObject(func(obj map[string]any) bool {
			row := make([]any, len(in.header))
			for i, k := range in.header {
				row[i] = obj[k]
			}
			return f(row)
		})
	}
	r := csv.NewReader(bufio.NewReader(in.f))
	header, err := r.Read()
	if err == io.EOF {
		return fmt.Errorf("the input is empty: it needs a header naming the grid's input columns")
	}
	if err != nil {
		return err
	}
	// Spreadsheets often start a UTF-8 CSV with a byte order mark.
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	in.header = header
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		row := make([]any, len(rec))
		for i, s := range rec {
			row[i] = s
		}
		if !f(row) {
			return nil
		}
	}
}

// eachObject calls f with each JSON object of a JSON Lines input, from the
// first line, until f returns false.
func (in *input) eachObject(f func(map[string]any) bool) error {
	if _, err := in.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(in.f)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return fmt.Errorf("line %d is not a JSON object: %v", n, err)
		}
		if !f(obj) {
			return nil
		}
	}
	return sc.Err()
}

// rowSource hands a batch the rows of the input as it takes them, and
// keeps each row's values until the row is written.
type rowSource struct {
	in   *input
	cols []*bitscale.Column
	err  error // why reading stopped early; read once the batch ended

	mu     sync.Mutex
	values map[int][]any // rows taken and not yet written, by index
}

func newRowSource(in *input, cols []*bitscale.Column) *rowSource {
	return &rowSource{in: in, cols: cols, values: make(map[int][]any)}
}

// rows yields the input's rows as RunBatchSeq asks for them. It runs on
// the batch's goroutine.
func (s *rowSource) rows(yield func(map[string]any) bool) {
	i, more := 0, true
	err := s.in.each(func(row []any) bool {
		if i == s.in.rows {
			return false // rows added since the run started are not this run's
		}
		s.mu.Lock()
		s.values[i] = row
		s.mu.Unlock()
		i++
		more = yield(batchRow(s.in.header, s.cols, row))
		return more
	})
	if err == nil && more && i < s.in.rows {
		err = fmt.Errorf("it has %d rows now, fewer than the %d it had when the run started", i, s.in.rows)
	}
	if err != nil {
		s.err = fmt.Errorf("%s: %w", s.in.name, err)
	}
}

// take returns the values of row i, and forgets them.
func (s *rowSource) take(i int) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.values[i]
	delete(s.values, i)
	return row
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

// batchRow returns a row as a run's inputs, keyed as the header names the
// columns. An empty cell or a null is left out: an optional input is then
// not given, and a missing required one is reported as such.
func batchRow(header []string, cols []*bitscale.Column, row []any) map[string]any {
	m := make(map[string]any, len(row))
	for i, v := range row {
		switch v := v.(type) {
		case nil:
		case string:
			if v != "" {
				m[header[i]] = value(cols[i].Type, v)
			}
		default:
			m[header[i]] = v
		}
	}
	return m
}
