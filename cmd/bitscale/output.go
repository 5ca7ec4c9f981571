package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/bitscale/bitscale-go"
)

// output is where enrich writes its rows: stdout, or a file written
// beside the output and renamed over it once whole, so that the output is
// always the whole result of one run, never a run's first rows, whatever
// stops the run.
type output struct {
	io.Writer
	file *os.File // the file being written, or nil for stdout
	path string   // the output's path
}

// openOutput opens the output, refusing to replace one that records rows
// sent when the journal records none: the journal was lost, and every row
// the output holds would be sent, and paid for, again.
func openOutput(path string, stdout io.Writer, journal *bitscale.JournalFile) (*output, error) {
	if path == "-" {
		return &output{Writer: stdout}, nil
	}
	if journal.Len() == 0 && recordsRuns(path) {
		return nil, usageError("%s holds rows that ran, but its journal is empty or missing: restore the journal, "+
			"or move %s away to start over (its rows would then be sent, and paid for, again)", path, path)
	}
	// One name, not a random one, so that runs killed on the way leave
	// one file behind at most.
	file, err := os.Create(path + ".partial")
	if err != nil {
		return nil, err
	}
	return &output{Writer: file, file: file, path: path}, nil
}

// commit puts the file written in place of the output.
func (o *output) commit() error {
	if o.file == nil {
		return nil
	}
	err := errors.Join(o.file.Sync(), o.file.Close())
	if err == nil {
		err = os.Rename(o.file.Name(), o.path)
	}
	o.file = nil
	return err
}

// discard removes the file written, unless it was committed.
func (o *output) discard() {
	if o.file != nil {
		o.file.Close()
		os.Remove(o.file.Name())
	}
}

// recordsRuns reports whether an earlier output at path has a row that
// was sent: completed, submitted or unknown. An output that cannot be read
// as CSV or JSON Lines is taken to have one, to be safe.
func recordsRuns(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var statuses []string
	if records, err := csv.NewReader(bytes.NewReader(data)).ReadAll(); err == nil && len(records) > 0 {
		col := slices.Index(records[0], statusColumn)
		for _, rec := range records[1:] {
			if col >= 0 && col < len(rec) {
				statuses = append(statuses, rec[col])
			}
		}
	} else {
		for line := range bytes.Lines(data) {
			var row map[string]any
			if json.Unmarshal(line, &row) != nil {
				return true
			}
			statuses = append(statuses, fmt.Sprint(row[statusColumn]))
		}
	}
	for _, st := range statuses {
		switch bitscale.Outcome(st) {
		case bitscale.OutcomeCompleted, bitscale.OutcomeSubmitted, bitscale.OutcomeUnknown:
			return true
		}
	}
	return false
}
