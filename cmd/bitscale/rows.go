package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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

// rowsIn is the input: its columns, by the names the input gives them,
// and each row's values in that order (nil where a JSON Lines row has
// none).
type rowsIn struct {
	header []string
	rows   [][]any
}

// readRows reads the input in format: CSV with a header naming the grid's
// input columns, or JSON Lines, one object a row keyed by column.
func readRows(r io.Reader, format string, grid *bitscale.Grid) (*rowsIn, error) {
	if format == formatJSONL {
		return readJSONL(r, grid)
	}
	return readCSV(r)
}

func readCSV(r io.Reader) (*rowsIn, error) {
	records, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("the input is empty: it needs a header naming the grid's input columns")
	}
	in := &rowsIn{header: records[0]}
	// Spreadsheets often start a UTF-8 CSV with a byte order mark.
	in.header[0] = strings.TrimPrefix(in.header[0], "\ufeff")
	for _, rec := range records[1:] {
		row := make([]any, len(rec))
		for i, s := range rec {
			row[i] = s
		}
		in.rows = append(in.rows, row)
	}
	return in, nil
}

// readJSONL reads one JSON object a line. Its columns are the keys any
// row has, in the grid's column order, then the others as they sort.
func readJSONL(r io.Reader, grid *bitscale.Grid) (*rowsIn, error) {
	var objs []map[string]any
	keys := make(map[string]bool)
	sc := bufio.NewScanner(r)
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
			return nil, fmt.Errorf("line %d is not a JSON object: %v", n, err)
		}
		for k := range obj {
			keys[k] = true
		}
		objs = append(objs, obj)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	in := &rowsIn{}
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
	for _, obj := range objs {
		row := make([]any, len(in.header))
		for i, k := range in.header {
			row[i] = obj[k]
		}
		in.rows = append(in.rows, row)
	}
	return in, nil
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
