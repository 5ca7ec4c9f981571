package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"

	"github.com/bitscale/bitscale-go"
)

// The columns the output adds after the grid's outputs.
const (
	statusColumn = "bitscale_status"
	errorColumn  = "bitscale_error"
	runIDColumn  = "bitscale_run_id"
)

// rowWriter writes each row of the input with the grid's outputs and how
// it ended, in input order, flushing each row so that a reader of stdout
// sees it at once.
type rowWriter struct {
	w       *bufio.Writer
	format  string
	outputs []string // the grid's output columns, by name
	columns []string // every column written
	csv     *csv.Writer
	err     error // the first write error
}

func newRowWriter(w io.Writer, format string, header []string, grid *bitscale.Grid) *rowWriter {
	rw := &rowWriter{w: bufio.NewWriter(w), format: format}
	for _, col := range grid.Columns {
		if col.IsOutput {
			rw.outputs = append(rw.outputs, col.Name)
		}
	}
	rw.columns = slices.Concat(header, rw.outputs, []string{statusColumn, errorColumn, runIDColumn})
	if format == formatCSV {
		rw.csv = csv.NewWriter(rw.w)
	}
	return rw
}

// header writes the CSV header; JSON Lines has none.
func (rw *rowWriter) header() error {
	if rw.csv != nil {
		rw.csv.Write(rw.columns)
	}
	return rw.flush()
}

// write writes one row's result, after the row's values in the input.
func (rw *rowWriter) write(res bitscale.BatchResult, row []any) error {
	if rw.err != nil {
		return rw.err
	}
	values := slices.Clone(row)
	for _, name := range rw.outputs {
		values = append(values, res.Outputs[name])
	}
	why, runID := "", ""
	if res.Err != nil {
		why = oneLine(res.Err.Error())
	}
	if res.Run != nil {
		runID = res.Run.ID
	}
	values = append(values, string(res.Outcome), why, runID)
	if rw.csv != nil {
		cells := make([]string, len(values))
		for i, v := range values {
			cells[i] = text(v)
		}
		rw.csv.Write(cells)
	} else {
		rw.writeObject(values)
	}
	return rw.flush()
}

// writeObject writes values as one JSON object, its keys in column order.
func (rw *rowWriter) writeObject(values []any) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(rw.columns[i])
		val, err := json.Marshal(v)
		if err != nil {
			val, _ = json.Marshal(text(v))
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteString("}\n")
	rw.w.Write(b.Bytes())
}

func (rw *rowWriter) flush() error {
	if rw.csv != nil {
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil && rw.err == nil {
			rw.err = err
		}
	}
	if err := rw.w.Flush(); err != nil && rw.err == nil {
		rw.err = err
	}
	return rw.err
}
