package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/bitscale/bitscale-go"
)

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

// add counts a row of status st that cost credits.
func (d *done) add(st string, credits int) {
	d.rows++
	if st == string(bitscale.OutcomeFailed) {
		d.failed++
	}
	d.credits += credits
}

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
