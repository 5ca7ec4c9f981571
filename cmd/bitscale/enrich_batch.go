package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bitscale/bitscale-go"
)

// runBatch runs the rows through RunBatchSeq with the journal, reading
// each row as the batch takes it and writing each to the output as it
// ends, in input order, so that it holds about as many rows as run at
// once. The output is written whole on every run: rows that ended before
// come from the journal, and nothing is sent for them.
func (a *app) runBatch(ctx context.Context, c *bitscale.Client, grid *bitscale.Grid, input *input,
	cols []*bitscale.Column, resend []int, f enrichFlags) error {
	in, rows := input.name, input.rows
	journal, err := bitscale.OpenJournalFile(f.journal)
	if err != nil {
		return err
	}
	defer journal.Close()
	resendIdx, err := resendable(journal, resend, rows)
	if err != nil {
		return err
	}
	out, err := openOutput(f.out, a.stdout, journal)
	if err != nil {
		return err
	}
	defer out.discard()
	w := newRowWriter(out, firstOf(f.outFormat, formatOf(f.out, ""), input.format), input.header, grid)
	if err := w.header(); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Enriching %d rows of %s with grid %s (%s)", rows, in, grid.ID, grid.Name)
	if journal.Len() > 0 {
		fmt.Fprintf(a.stderr, ", continuing from %s", f.journal)
	}
	fmt.Fprintln(a.stderr)

	// A row that ended but cannot be written is kept by the journal; stop
	// at once, rather than run rows whose results cannot be written.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &summary{In: in, Out: f.out, Rows: rows, LookUp: []int{}, Blind: []int{}}
	p := newProgress(a.stderr, rows, a.progressEvery)
	src := newRowSource(input, cols)
	report, err := c.Grids.RunBatchSeq(ctx, grid.ID, src.rows, &bitscale.BatchOptions{
		Grid:        grid,
		Concurrency: f.concurrency,
		Async:       !f.sync,
		Poll:        &bitscale.PollOptions{Interval: a.pollInterval()},
		Journal:     journal,
		MaxCredits:  f.maxCredits,
		Resend:      resendIdx,
		Ordered:     true,
		Stop:        a.stop,
		OnProgress: func(bp bitscale.BatchProgress) {
			bp.Total = rows // RunBatchSeq cannot know it ahead
			p.update(bp)
		},
		OnResult: func(res bitscale.BatchResult) {
			s.add(res)
			if w.write(res, src.take(res.Index)) != nil {
				cancel()
			}
		},
	})
	p.finish()
	if report == nil { // the batch could not start
		var argErr *bitscale.ArgumentError
		switch {
		case errors.Is(err, bitscale.ErrJournalMismatch):
			return mismatch(err, f)
		case errors.As(err, &argErr):
			return withCode(exitUsage, err, "")
		}
		return err
	}
	if errors.Is(report.Stopped, bitscale.ErrJournalMismatch) {
		// The output is not replaced: the rows before the one refused
		// are in the journal, and the rows after it were not sent.
		return mismatch(report.Stopped, f)
	}
	if src.err != nil {
		return src.err
	}
	if w.err != nil {
		return fmt.Errorf("writing %s: %w", f.out, w.err)
	}
	if err := out.commit(); err != nil {
		return err
	}
	s.Resumed, s.Credits = report.Resumed, report.Credits
	// Rows the batch did not take from the input, having stopped, are not
	// reported; they were not attempted either.
	s.NotAttempted += rows - (s.Completed + s.Submitted + s.Failed + s.Refused + s.Unknown + s.NotAttempted)
	if err := a.printSummary(s, f.out == "-"); err != nil {
		return err
	}
	return a.batchError(ctx, c, report, s)
}

// mismatch is the error of a journal that records other rows than the
// input's.
func mismatch(err error, f enrichFlags) error {
	return withCode(exitUsage, err, fmt.Sprintf("%s belongs to another input or grid: give each input its own output and journal", f.journal))
}

// resendable returns the batch indexes of rows, numbered from 1, after
// checking that the journal records each as unknown without a run ID: a
// row that completed, or whose run can be looked up, is never resent.
func resendable(journal *bitscale.JournalFile, rows []int, n int) ([]int, error) {
	var idx []int
	for _, row := range rows {
		e, ok := journal.Last(row - 1)
		unknown := e.State == bitscale.JournalSending || e.State == bitscale.JournalEnded && e.Outcome == bitscale.OutcomeUnknown
		if row > n || !ok || !unknown || e.RunID != "" {
			return nil, usageError("--resend-unknown: row %d is not unknown without a run ID; only such rows can be resent", row)
		}
		idx = append(idx, row-1)
	}
	return idx, nil
}

// batchError returns the error that ends the command after a batch: why it
// stopped, or the rows that did not complete.
func (a *app) batchError(ctx context.Context, c *bitscale.Client, report *bitscale.BatchReport, s *summary) error {
	const again = "run the same command again to continue"
	why := report.Stopped
	switch {
	case why == nil:
	case errors.Is(why, bitscale.ErrBatchStopped), errors.Is(why, context.Canceled):
		return withCode(exitInterrupted, errors.New("interrupted"), fmt.Sprintf("rows not attempted: %d; %s", s.NotAttempted, again))
	case errors.Is(why, bitscale.ErrCreditLimit):
		return withCode(exitPartial, fmt.Errorf("stopped at --max-credits: %d credits spent by this run", s.CreditsNow),
			fmt.Sprintf("rows not attempted: %d; %s with a higher --max-credits", s.NotAttempted, again))
	case errors.Is(why, bitscale.ErrInsufficientCredits):
		balance := -1 // not known
		if ws, _, err := c.Workspaces.Get(ctx, c.WorkspaceID()); err == nil {
			balance = ws.Credits.Remaining
		}
		return insufficientCredits(why, balance, s.NotAttempted+s.Refused, s.perRow)
	default:
		return withCode(exitPartial, why, fmt.Sprintf("rows not attempted: %d; once fixed, %s", s.NotAttempted, again))
	}
	if s.Failed+s.Unknown+s.Refused+s.NotAttempted > 0 {
		return withCode(exitPartial, fmt.Errorf("not every row completed: %d failed, %d unknown", s.Failed+s.Refused, s.Unknown),
			"see "+statusColumn+" and "+errorColumn+" in the output")
	}
	return nil
}

// summary counts the rows of a batch by how they ended.
type summary struct {
	In           string `json:"input"`
	Out          string `json:"output"`
	Rows         int    `json:"rows"`
	Completed    int    `json:"completed"`
	Submitted    int    `json:"submitted"`
	Failed       int    `json:"failed"`
	Refused      int    `json:"refused"`
	Unknown      int    `json:"unknown"`
	NotAttempted int    `json:"not_attempted"`
	Resumed      int    `json:"resumed"`     // rows sent by earlier runs
	Credits      int    `json:"credits"`     // by every row, earlier runs included
	CreditsNow   int    `json:"credits_now"` // by the rows this run sent
	// Rows, numbered from 1, whose outcome is unknown: those with a run
	// ID, which the next run looks up, and the others.
	LookUp []int `json:"unknown_with_run_id"`
	Blind  []int `json:"unknown_without_run_id"`

	perRow int // the most a row cost
}

func (s *summary) add(res bitscale.BatchResult) {
	switch res.Outcome {
	case bitscale.OutcomeCompleted:
		s.Completed++
	case bitscale.OutcomeSubmitted:
		s.Submitted++
	case bitscale.OutcomeFailed:
		s.Failed++
	case bitscale.OutcomeRefused:
		s.Refused++
	case bitscale.OutcomeSkipped:
		s.NotAttempted++
	case bitscale.OutcomeUnknown:
		s.Unknown++
		var oe *bitscale.OutcomeError
		if errors.As(res.Err, &oe) && oe.RunID != "" || res.Run != nil && res.Run.ID != "" {
			s.LookUp = append(s.LookUp, res.Index+1)
		} else {
			s.Blind = append(s.Blind, res.Index+1)
		}
	}
	if !res.Resumed {
		s.CreditsNow += res.Credits
	}
	s.perRow = max(s.perRow, res.Credits)
}

// printSummary prints the summary on stdout, or on stderr when stdout
// carries the output.
func (a *app) printSummary(s *summary, toStderr bool) error {
	w := a.stdout
	if toStderr {
		w = a.stderr
	}
	if a.json {
		return writeJSON(w, s)
	}
	t := newTable(w)
	for _, line := range []struct {
		label string
		n     int
	}{
		{"rows", s.Rows}, {"completed", s.Completed}, {"submitted", s.Submitted}, {"failed", s.Failed + s.Refused},
		{"unknown", s.Unknown}, {"not attempted", s.NotAttempted}, {"from earlier runs", s.Resumed},
		{"credits, this run", s.CreditsNow}, {"credits, all runs", s.Credits},
	} {
		if line.n > 0 || line.label == "rows" || line.label == "completed" {
			t.row(line.label, fmt.Sprint(line.n))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	printUnknown(w, s)
	return nil
}

// printUnknown says what to do about rows whose outcome is unknown.
func printUnknown(w io.Writer, s *summary) {
	if len(s.LookUp) > 0 {
		fmt.Fprintf(w, "\nUnknown, but accepted by BitScale: rows %s. Run the same command again to look them up.\n",
			rowList(s.LookUp, ", "))
	}
	if len(s.Blind) > 0 {
		fmt.Fprintf(w, "\nUnknown: rows %s. They may have run and spent credits, and BitScale cannot look them up,\n"+
			"so they are not sent again. Check them in BitScale; to send again those that did not run, add\n"+
			"  --resend-unknown %s\n", rowList(s.Blind, ", "), rowList(s.Blind, ","))
	}
}

// rowList joins row numbers with sep.
func rowList(rows []int, sep string) string {
	nums := make([]string, len(rows))
	for i, n := range rows {
		nums[i] = strconv.Itoa(n)
	}
	return strings.Join(nums, sep)
}
