package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/bitscale/bitscale-go"
)

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

// rowWriter writes the batch's results to the output, as RunBatchSeq hands
// them over with BatchOptions.Ordered: the rows of the output revisited
// first, whose new cells wait in a file of their own to rewrite the output
// with, then the others, appended in input order.
type rowWriter struct {
	csv  *csv.Writer
	path string // the output
	job  *job
	src  *rowSource
	fail func() // stops the batch after a write error

	held    []heldRow   // rows not settled, waiting for a later row
	side    *os.File    // the revised rows' new cells, until the rewrite
	sideCSV *csv.Writer // each record: the input index, then the cells after the input's
	revised []int       // rows of the output revised, by input index, ascending
	err     error       // the first write error

	completed, failed, unknown int   // rows written, by status
	credits                    int   // consumed by the rows written
	unknownRows                []int // input indexes of the rows written unknown
}

// heldRow is a row's result and its input cells.
type heldRow struct {
	res   bitscale.BatchResult
	cells []string
}

func newRowWriter(f *os.File, path string, j *job, src *rowSource, fail func()) (*rowWriter, error) {
	w := &rowWriter{csv: csv.NewWriter(f), path: path, job: j, src: src, fail: fail}
	if len(src.picked.revisit) > 0 {
		side, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".revised-*")
		if err != nil {
			return nil, err
		}
		// Unnamed at once where the system allows, so that a kill leaves
		// nothing behind; elsewhere close removes it.
		os.Remove(side.Name())
		w.side, w.sideCSV = side, csv.NewWriter(side)
	}
	return w, nil
}

// close removes the file of the revised rows.
func (w *rowWriter) close() {
	if w.side != nil {
		w.side.Close()
		os.Remove(w.side.Name()) // gone already, where the system allowed
	}
}

// add takes the next row's result. RunBatchSeq calls it in row order, from
// one goroutine at a time.
//
// A row whose outcome is not settled is held until a later row's is: the
// output must hold the first rows of the input and nothing else, so that
// the next run knows where to continue. Held rows left at the end are not
// written, and the next run sends them.
func (w *rowWriter) add(res bitscale.BatchResult) {
	cells := w.src.take(res.Index)
	if w.err != nil {
		return
	}
	if res.Index < len(w.src.picked.revisit) {
		if settled(res) {
			w.revise(res)
		}
		return
	}
	if !settled(res) {
		w.held = append(w.held, heldRow{res, cells})
		return
	}
	for _, h := range w.held {
		w.write(h)
	}
	w.held = w.held[:0]
	w.write(heldRow{res, cells})
}

// settled reports whether a row's outcome is final. A row that was
// skipped, or refused with every other (for lack of credits, a run quota,
// a bad key, a missing grid), did not run: the next run can send it at no
// extra cost.
func settled(res bitscale.BatchResult) bool {
	return res.Outcome != bitscale.OutcomeSkipped && res.Outcome != bitscale.OutcomeRefused
}

// record returns the cells of a result after the input's, and counts it.
func (w *rowWriter) record(res bitscale.BatchResult) []string {
	status, why := string(res.Outcome), ""
	if res.Err != nil {
		why = res.Err.Error()
	}
	if !settled(res) { // not run, but a later row was
		status, why = notRun, "not run: "+why
	}
	rec := make([]string, 0, len(w.job.outputs)+2)
	for _, name := range w.job.outputs {
		rec = append(rec, cell(res.Outputs[name]))
	}
	switch bitscale.Outcome(status) {
	case bitscale.OutcomeCompleted:
		w.completed++
	case bitscale.OutcomeUnknown:
		w.unknown++
		w.unknownRows = append(w.unknownRows, w.src.picked.input(res.Index))
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
func (w *rowWriter) write(h heldRow) {
	w.csv.Write(slices.Concat(h.cells, w.record(h.res)))
	w.csv.Flush()
	if w.err = w.csv.Error(); w.err != nil {
		w.fail()
	}
}

// revise keeps the new cells of a row of the output for the rewrite.
func (w *rowWriter) revise(res bitscale.BatchResult) {
	i := w.src.picked.input(res.Index)
	w.sideCSV.Write(append([]string{strconv.Itoa(i)}, w.record(res)...))
	w.revised = append(w.revised, i)
	if w.err = w.sideCSV.Error(); w.err != nil {
		w.fail()
	}
}

// rewrite replaces the rows of the output revised, copying the output a
// row at a time into a new file beside it and renaming it over the old, so
// that a crash leaves one or the other whole.
func (w *rowWriter) rewrite() error {
	if len(w.revised) == 0 {
		return nil
	}
	w.sideCSV.Flush()
	if err := w.sideCSV.Error(); err != nil {
		return err
	}
	if _, err := w.side.Seek(0, io.SeekStart); err != nil {
		return err
	}
	revised := csv.NewReader(w.side)
	revised.FieldsPerRecord = -1
	old, err := os.Open(w.path)
	if err != nil {
		return err
	}
	defer old.Close()
	tmp, err := os.CreateTemp(filepath.Dir(w.path), filepath.Base(w.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	cw := csv.NewWriter(tmp)
	err = copyRevised(cw, csv.NewReader(old), revised, len(w.job.header))
	cw.Flush()
	if err := errors.Join(err, cw.Error(), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("rewriting %s: %w", w.path, err)
	}
	return os.Rename(tmp.Name(), w.path)
}

// copyRevised copies the records of old to w, the header first, replacing
// the cells after the input's first n of the rows revised lists, in order.
func copyRevised(w *csv.Writer, old, revised *csv.Reader, n int) error {
	next, err := revised.Read()
	for i := -1; ; i++ { // -1: the header
		rec, rerr := old.Read()
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if err == nil && next[0] == strconv.Itoa(i) {
			rec = append(rec[:n], next[1:]...)
			next, err = revised.Read()
		}
		if err != nil && err != io.EOF {
			return err
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
}

// unknownRows returns the input indexes of the rows of the output whose
// status is unknown once this run's rows are in: those that were, unless
// revised, and those written unknown.
func unknownRows(before, revised, written []int) []int {
	var rows []int
	for _, i := range before {
		if _, ok := slices.BinarySearch(revised, i); !ok {
			rows = append(rows, i)
		}
	}
	rows = append(rows, written...)
	slices.Sort(rows)
	return slices.Compact(rows)
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
