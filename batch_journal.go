package bitscale

import (
	"context"
	"errors"
	"fmt"
)

// runJournaled runs a row of a batch that has a journal: it settles the row
// from what the journal recorded when it can, and otherwise records the row
// before sending it and again when it ends.
func (b *batch) runJournaled(ctx context.Context, i int, req *RunRequest) BatchResult {
	key, err := journalKey(b.grid.ID, req)
	if err != nil {
		return BatchResult{Index: i, Outcome: OutcomeFailed, Err: err}
	}
	if e, ok := b.opts.Journal.Last(i); ok {
		if e.Key != key {
			err := mismatch(i, b.grid.ID, e)
			b.stop(err)
			return BatchResult{Index: i, Outcome: OutcomeSkipped, Err: err}
		}
		if res, settled := b.resume(ctx, i, key, e); settled {
			return res
		}
	}
	if res, ok := b.withinBudget(ctx, i); !ok {
		return res // before it is recorded as being sent
	}
	// A run whose result goes to a webhook is recorded with its ref, so
	// that should its answer be lost, its delivery can still be told.
	ref := ""
	if b.opts.Async && b.opts.WebhookURL != "" {
		ref = newWebhookRef()
	}
	if err := b.note(JournalEntry{Row: i, Key: key, State: JournalSending, WebhookRef: ref}); err != nil {
		return b.spend(BatchResult{Index: i, Outcome: OutcomeSkipped, Err: err})
	}
	run, err := b.send(ctx, req, ref, func(id string) error {
		return b.note(JournalEntry{Row: i, Key: key, State: JournalAccepted, RunID: id, WebhookRef: ref})
	})
	return b.spend(b.ended(key, b.result(ctx, i, run, err)))
}

// resume settles a row from its journal entry, e, and reports whether it
// did; a row it does not settle is to be sent.
func (b *batch) resume(ctx context.Context, i int, key string, e JournalEntry) (BatchResult, bool) {
	switch {
	case e.State == JournalEnded && (e.Outcome == OutcomeSkipped || e.Outcome == OutcomeRefused):
		return BatchResult{}, false // it did not run
	case e.RunID != "" && (e.State == JournalAccepted || e.Outcome == OutcomeUnknown):
		res := b.ended(key, b.follow(ctx, i, e.RunID))
		res.Resumed = true
		return res, true
	case b.resend[i]:
		return BatchResult{}, false // the caller says it did not run
	case e.State == JournalEnded:
		return b.replay(e), true
	}
	// Sent, and neither an answer nor an end recorded: it may have run.
	return BatchResult{Index: i, Outcome: OutcomeUnknown, Resumed: true, Err: &OutcomeError{
		Err:        fmt.Errorf("bitscale: row %d was being sent when an earlier batch with this journal ended", i),
		note:       "not sent again: it may or may not have run; check it, then list it in BatchOptions.Resend if it did not",
		WebhookRef: e.WebhookRef,
	}}, true
}

// follow finds out how a run that an earlier batch sent ended: it waits
// for the run as the batch waits for its rows or, when a webhook takes the
// results, looks it up once.
func (b *batch) follow(ctx context.Context, i int, runID string) BatchResult {
	accepted := &Run{ID: runID, GridID: b.grid.ID}
	if b.opts.Async && b.opts.WebhookURL != "" {
		run, _, err := b.client.Runs.Get(ctx, b.grid.ID, runID)
		switch {
		case err != nil:
			run, err = accepted, &OutcomeError{Err: err, RunID: runID}
		case run.Status == RunFailed:
			err = run.failure()
		}
		return b.result(ctx, i, run, err)
	}
	run, err := b.client.Grids.wait(ctx, b.grid.ID, accepted, b.opts.Poll)
	return b.result(ctx, i, run, err)
}

// replay reports a row as the journal recorded its end.
func (b *batch) replay(e JournalEntry) BatchResult {
	res := BatchResult{Index: e.Row, Outcome: e.Outcome, Run: e.Run, Credits: e.Credits, Resumed: true}
	if e.Run != nil {
		e.Run.WebhookRef = e.WebhookRef // not part of the run's JSON
		res.Outputs = b.grid.OutputsByName(e.Run)
	}
	switch {
	case e.Outcome == OutcomeUnknown:
		res.Err = &OutcomeError{Err: errors.New(e.Error), WebhookRef: e.WebhookRef,
			note: "recorded by an earlier batch with this journal; not sent again"}
	case e.Run != nil && e.Run.Status == RunFailed:
		res.Err = e.Run.failure()
	case e.Error != "":
		res.Err = errors.New(e.Error)
	}
	return res
}

// ended records how a row ended and returns its result.
func (b *batch) ended(key string, res BatchResult) BatchResult {
	e := JournalEntry{Row: res.Index, Key: key, State: JournalEnded, Outcome: res.Outcome, Run: res.Run, Credits: res.Credits}
	if res.Run != nil {
		e.RunID, e.WebhookRef = res.Run.ID, res.Run.WebhookRef
	}
	if res.Err != nil {
		e.Error = res.Err.Error()
		var oe *OutcomeError
		if errors.As(res.Err, &oe) && oe.WebhookRef != "" {
			e.WebhookRef = oe.WebhookRef
		}
	}
	b.note(e) // on failure the batch stops; the result is still reported
	return res
}

// note records e in the journal. When it cannot, the batch stops: a row
// must not be sent unrecorded, and a journal that missed an entry may be
// behind what happened.
func (b *batch) note(e JournalEntry) error {
	if err := b.opts.Journal.Record(e); err != nil {
		err = fmt.Errorf("bitscale: batch journal: %w", err)
		b.stop(err)
		return err
	}
	return nil
}

// checkJournal refuses, before anything is sent, a journal that recorded
// other rows than the batch's, and rows to resend that the journal does
// not record as unknown.
func (b *batch) checkJournal(rows []map[string]any) error {
	j := b.opts.Journal
	if j == nil {
		return nil
	}
	for i, row := range rows {
		e, ok := j.Last(i)
		if !ok {
			continue
		}
		req, err := b.grid.RunRequest(row, b.opts.OutputColumns...)
		key := ""
		if err == nil {
			key, err = journalKey(b.grid.ID, req)
		}
		if err != nil || key != e.Key {
			return mismatch(i, b.grid.ID, e)
		}
	}
	return b.checkResend(len(rows))
}

// mismatch is the error of a journal whose entry e for row i is not of
// the row given: it recorded another row, or could not read its entry back
// (no key, and the reason in Error).
func mismatch(i int, gridID string, e JournalEntry) error {
	if e.Key == "" && e.Error != "" {
		return fmt.Errorf("bitscale: batch journal: row %d: %s", i, e.Error)
	}
	return fmt.Errorf("%w: row %d is not the row it recorded for grid %s", ErrJournalMismatch, i, gridID)
}

// checkResend refuses rows to resend that the journal does not record as
// unknown, or that are not among the batch's rows when that is known
// (rows >= 0).
func (b *batch) checkResend(rows int) error {
	b.resend = make(map[int]bool, len(b.opts.Resend))
	for _, i := range b.opts.Resend {
		if err := resendable(b.opts.Journal, i, rows); err != nil {
			return err
		}
		b.resend[i] = true
	}
	return nil
}

// resendable reports why row i may not be sent again, or nil.
func resendable(j BatchJournal, i, rows int) error {
	e, ok := j.Last(i)
	reason := ""
	switch {
	case i < 0 || rows >= 0 && i >= rows:
		reason = "is not in the batch"
	case !ok:
		reason = "was never sent: it is sent anyway"
	case e.RunID != "":
		reason = "has run " + e.RunID + ", which is looked up instead"
	case e.State == JournalEnded && e.Outcome != OutcomeUnknown && e.Outcome != OutcomeRefused && e.Outcome != OutcomeSkipped:
		reason = "is recorded as " + string(e.Outcome) + ", not unknown"
	default:
		return nil
	}
	return &ArgumentError{Name: "opts.Resend", Reason: fmt.Sprintf("row %d %s", i, reason)}
}
