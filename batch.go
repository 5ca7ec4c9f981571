package bitscale

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"sync"
)

// DefaultBatchConcurrency is how many rows RunBatch runs at once unless
// BatchOptions.Concurrency says otherwise.
const DefaultBatchConcurrency = 4

// BatchOptions configures GridsService.RunBatch. The zero value and nil run
// every row in sync mode, DefaultBatchConcurrency at a time.
type BatchOptions struct {
	// Concurrency bounds the rows running at once. All of them share the
	// client's rate-limit gate, so a higher value does not mean more 429s.
	Concurrency int

	// Async runs each row asynchronously and polls it with Poll, which
	// suits grids slower than a request should wait.
	Async bool
	Poll  *PollOptions
	// WebhookURL, with Async, has BitScale post each row's result there;
	// the batch then does not poll, and rows end as OutcomeSubmitted.
	WebhookURL string

	// OutputColumns, names or IDs, limits each row's outputs.
	OutputColumns []string

	// Grid, if set, is used instead of fetching the grid, for a caller
	// that has it already. Its ID must be the gridID given to RunBatch.
	Grid *Grid

	// MinCredits, when positive, refuses to start the batch when the
	// workspace has fewer credits remaining, as the API reference advises
	// checking before large runs.
	MinCredits int

	// OnResult, if set, is called with each row's result as it ends, and
	// then with each row not attempted. With Ordered, it is called in row
	// order instead: a result waits for the rows before it, which suits
	// writing an output file. OnProgress, if set, is called after each row
	// that ended. Neither is called concurrently with itself or the other,
	// so they need no locking; a slow one slows the batch.
	OnResult   func(BatchResult)
	Ordered    bool
	OnProgress func(BatchProgress)

	// Journal, if set, records each row before its run is sent and when
	// it ends, so that RunBatch given the same rows and journal after a
	// crash sends no row that may have run: rows that ended are reported
	// from the journal, rows whose async run was accepted are looked up
	// with Runs.Get (and waited for as the batch waits for its rows), and
	// rows that were being sent are reported as OutcomeUnknown. Only rows
	// that surely did not run (never sent, refused, skipped) are sent. See
	// JournalFile.
	Journal BatchJournal

	// Resend lists rows that the journal records with an unknown outcome
	// and no run ID, to be sent again: only on the caller's word that they
	// did not run, since the API cannot tell. It needs Journal.
	Resend []int

	// Stop, when closed, ends dispatching: rows already running finish and
	// are reported, the rest are not attempted. Unlike cancelling the
	// context, it does not abandon runs that may already be spending
	// credits, so it suits a graceful shutdown.
	Stop <-chan struct{}
}

// Outcome is how a batch row ended.
type Outcome string

// The outcomes of a batch row.
const (
	// OutcomeCompleted: the row ran and its outputs are in the result.
	OutcomeCompleted Outcome = "completed"
	// OutcomeSubmitted: the async run was accepted; its result goes to
	// the webhook.
	OutcomeSubmitted Outcome = "submitted"
	// OutcomeFailed: the row failed for reasons of its own: its inputs
	// were refused, by the SDK or the API, or it ran and failed. Sent again
	// unchanged it would fail again. Err says why.
	OutcomeFailed Outcome = "failed"
	// OutcomeRefused: the API refused the row for a reason that holds for
	// the whole batch, such as insufficient credits, or the row could not
	// reach the API at all (no connection, rate limited past the retries);
	// the batch stops on it. The row did not run; it can be sent again once
	// the cause is fixed, and a batch with a journal sends it when run
	// again.
	OutcomeRefused Outcome = "refused"
	// OutcomeUnknown: the row may have run and spent credits, but its
	// result was not received. It was not sent again; check it before
	// running it again.
	OutcomeUnknown Outcome = "unknown"
	// OutcomeSkipped: the row was not attempted. Skipped rows are mostly
	// the last ones, but a row dispatched just before the context ended
	// can be skipped while later rows ran.
	OutcomeSkipped Outcome = "skipped"
)

// BatchResult is the result of one row.
type BatchResult struct {
	Index   int     // the row's index in the rows given to RunBatch
	Outcome Outcome //
	Run     *Run    // the run, when there is one
	// Outputs holds the run's outputs keyed by column name.
	Outputs map[string]any
	Credits int   // credits the row consumed, as the API reported them
	Err     error // why the row failed, is unknown or was skipped
	// Resumed is set when the row was sent by an earlier batch with the
	// same journal: its result comes from the journal, or from looking up
	// its run, and nothing was sent for it now.
	Resumed bool
}

// BatchProgress counts the rows of a batch so far.
type BatchProgress struct {
	Total   int // rows in the batch
	Done    int // rows that ended, whatever their outcome
	Failed  int // rows that failed or were refused
	Unknown int // rows that may have run without their result arriving
	Credits int // credits consumed so far
	Resumed int // rows of them sent by an earlier batch with the same journal
}

// BatchReport is the result of RunBatch.
type BatchReport struct {
	Results []BatchResult // one per row, by index

	// Rows by outcome.
	Completed int
	Submitted int
	Failed    int
	Refused   int
	Unknown   int
	Skipped   int

	// Credits is what the rows consumed, those sent by earlier batches
	// with the same journal included.
	Credits int
	Resumed int // rows sent by an earlier batch with the same journal

	// Stopped is what ended the batch early: an error that makes the
	// remaining rows pointless (set even when it came on the last row, so
	// that a batch refused at its end is not taken for a success), the
	// context's error, or ErrBatchStopped. It is nil when nothing did.
	Stopped error
}

// NotAttempted returns the indexes of the rows that were not attempted.
func (r *BatchReport) NotAttempted() []int {
	var idx []int
	for _, res := range r.Results {
		if res.Outcome == OutcomeSkipped {
			idx = append(idx, res.Index)
		}
	}
	return idx
}

// ErrBatchStopped is the reason of rows skipped because BatchOptions.Stop
// was closed.
var ErrBatchStopped = errors.New("bitscale: batch stopped")

// RunBatch runs a grid on many rows, each a map from column name or ID to
// value. It fetches the grid once, checks every row against its columns
// before sending it (a row that does not pass fails with an *InputError and
// costs nothing), and runs the rows with bounded concurrency.
//
// It stops dispatching rows when one fails with an error that would fail
// every other row too (ErrInsufficientCredits, ErrRunLimitExceeded,
// ErrInvalidAPIKey, ErrUnauthorized, ErrForbidden, ErrGridNotFound,
// ErrWorkspaceNotFound), when a row cannot reach the API at all, when ctx
// ends, or when opts.Stop is closed; the rows not attempted are reported
// as OutcomeSkipped.
//
// No row is run twice: a row whose run may have started without its
// result arriving ends as OutcomeUnknown. With opts.Journal this holds
// across a crash too: each row is recorded before it is sent, and a batch
// given the same rows and journal again settles the rows recorded (see
// BatchOptions.Journal) and sends only the others.
//
// It returns an error without a report when the batch cannot start (no
// workspace, the grid cannot be read, bad output columns, a journal of
// other rows (ErrJournalMismatch), bad opts.Resend, too few credits for
// MinCredits); otherwise the report, and report.Stopped as the error.
// Rows failed for reasons of their own do not make the error non-nil:
// look at report.Failed.
func (s *GridsService) RunBatch(ctx context.Context, gridID string, rows []map[string]any, opts *BatchOptions) (*BatchReport, error) {
	b, err := s.newBatch(ctx, gridID, opts)
	if err != nil {
		return nil, err
	}
	b.total = len(rows)
	b.report.Results = make([]BatchResult, len(rows))
	if err := b.checkJournal(rows); err != nil {
		return nil, err
	}
	b.run(ctx, slices.Values(rows))
	return b.report, b.report.Stopped
}

// RunBatchSeq is RunBatch for rows that come one at a time, such as rows
// read from a file as the batch goes. It takes a row from rows only when
// it can start it, so that however many rows there are it holds about
// opts.Concurrency of them and their results (twice that with Ordered),
// and it hands each result to opts.OnResult instead of keeping it: the
// report counts the rows by outcome, and its Results are empty.
// BatchProgress.Total is 0, since the rows are not known ahead.
//
// rows is ranged over on a goroutine of the batch's own, while the
// callbacks run on the caller's: what they share needs guarding.
//
// When the batch stops early, the rows it did not take from rows are
// neither reported nor counted; a row it took but did not start is
// reported as OutcomeSkipped. A journal that recorded another row at an
// index stops the batch there with ErrJournalMismatch, before that row is
// sent. It returns errors as RunBatch does.
func (s *GridsService) RunBatchSeq(ctx context.Context, gridID string, rows iter.Seq[map[string]any], opts *BatchOptions) (*BatchReport, error) {
	b, err := s.newBatch(ctx, gridID, opts)
	if err != nil {
		return nil, err
	}
	if err := b.checkResend(-1); err != nil {
		return nil, err
	}
	b.run(ctx, rows)
	return b.report, b.report.Stopped
}

// batch is one RunBatch or RunBatchSeq call.
type batch struct {
	client *Client
	grid   *Grid
	opts   BatchOptions
	report *BatchReport
	total  int // rows in the batch, or 0 when not known ahead

	resend  map[int]bool       // rows to send again, from opts.Resend
	started int                // rows started, which start in order; set once dispatching ended
	pulled  int                // rows taken from the caller; set once dispatching ended
	window  chan struct{}      // with Ordered, rows started and not yet reported
	next    int                // with Ordered, the next row to report
	pending map[int]heldResult // with Ordered, rows ended before their turn

	mu      sync.Mutex
	stopErr error         // the first reason dispatching ended
	halt    chan struct{} // closed when stopErr is set
}

// heldResult is a result waiting, with Ordered, for the rows before it.
type heldResult struct {
	BatchResult
	started bool // the row was started, and holds a place in the window
}

func (s *GridsService) newBatch(ctx context.Context, gridID string, opts *BatchOptions) (*batch, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	b := &batch{
		client: s.client,
		report: &BatchReport{},
		halt:   make(chan struct{}),
	}
	if opts != nil {
		b.opts = *opts
	}
	if b.opts.Concurrency <= 0 {
		b.opts.Concurrency = DefaultBatchConcurrency
	}
	if b.opts.Ordered {
		// Rows that ended wait for the rows before them. Bounding how far
		// ahead rows may start bounds how many results, paid for, wait in
		// memory behind a slow row.
		b.window = make(chan struct{}, 2*b.opts.Concurrency)
	}
	if b.opts.WebhookURL != "" {
		if !b.opts.Async {
			return nil, &ArgumentError{Name: "opts.WebhookURL", Reason: "needs opts.Async: a sync run ignores webhooks"}
		}
		if err := s.client.checkWebhookURL("opts.WebhookURL", b.opts.WebhookURL); err != nil {
			return nil, err
		}
	}
	if b.opts.Journal == nil && len(b.opts.Resend) > 0 {
		return nil, &ArgumentError{Name: "opts.Resend", Reason: "needs opts.Journal, which says which rows may have run"}
	}
	grid := b.opts.Grid
	if grid == nil {
		var err error
		if grid, _, err = s.Get(ctx, gridID); err != nil {
			return nil, err
		}
	} else if grid.ID != gridID {
		return nil, &ArgumentError{Name: "opts.Grid", Reason: fmt.Sprintf("is grid %q, not %q", grid.ID, gridID)}
	}
	b.grid = grid
	if _, err := grid.OutputColumnIDs(b.opts.OutputColumns...); err != nil {
		return nil, err
	}
	if b.opts.MinCredits > 0 {
		ws, _, err := s.client.Workspaces.Get(ctx, s.client.workspaceID)
		if err != nil {
			return nil, err
		}
		if ws.Credits.Remaining < b.opts.MinCredits {
			return nil, fmt.Errorf("%w: workspace %s has %d credits remaining, below the %d required to start",
				ErrInsufficientCredits, ws.ID, ws.Credits.Remaining, b.opts.MinCredits)
		}
	}
	return b, nil
}

// run dispatches the rows and collects their results on the caller's
// goroutine, which is where the callbacks run.
func (b *batch) run(ctx context.Context, rows iter.Seq[map[string]any]) {
	results := make(chan BatchResult)
	go func() {
		b.dispatch(ctx, rows, results)
		close(results)
	}()
	defer func() {
		if p := recover(); p != nil {
			// A callback panicked: stop, and let the rows running end, so
			// that no goroutine is left blocked behind the panic.
			b.stop(fmt.Errorf("bitscale: batch callback panicked: %v", p))
			for range results {
			}
			panic(p)
		}
	}()
	for res := range results {
		b.record(res, true)
	}
	// Dispatching has ended: every row it did not start was not attempted.
	why := b.stopped()
	if why == nil {
		why = ctx.Err() // rows that ended unsent when the context did
	}
	for i := b.started; i < max(b.pulled, b.total); i++ {
		b.record(BatchResult{Index: i, Outcome: OutcomeSkipped, Err: why}, false)
	}
	// A context that ended may have cut rows short without skipping any,
	// such as async rows being polled: they end unknown, and the batch did
	// not run its course.
	if b.stopped() != nil || b.report.Skipped > 0 || ctx.Err() != nil {
		b.report.Stopped = why
	}
}

// dispatch starts a goroutine per row, at most Concurrency at a time, until
// the rows run out or something ends dispatching, and waits for them.
func (b *batch) dispatch(ctx context.Context, rows iter.Seq[map[string]any], results chan<- BatchResult) {
	sem := make(chan struct{}, b.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for row := range rows {
		i := b.pulled
		b.pulled++
		if b.window != nil && !b.admit(ctx, b.window) || !b.admit(ctx, sem) {
			return
		}
		b.started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := b.runRow(ctx, i, row)
			if fatal(res.Err) || res.Outcome == OutcomeRefused {
				b.stop(res.Err)
			}
			results <- res
			// After stop, so that no row starts after a fatal error, and
			// after the result is taken, so that rows held (running or
			// ended and waiting to be reported) never pass Concurrency.
			<-sem
		}()
	}
}

// admit waits for a place in slots, and reports false if dispatching
// ends first.
func (b *batch) admit(ctx context.Context, slots chan struct{}) bool {
	// Checked first: a select among ready cases picks at random.
	if b.ending(ctx) {
		return false
	}
	select {
	case slots <- struct{}{}:
		return b.stopped() == nil
	case <-ctx.Done():
	case <-b.opts.Stop:
	case <-b.halt:
	}
	b.ending(ctx) // notes why
	return false
}

// ending reports whether dispatching must end, and notes why.
func (b *batch) ending(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		b.stop(ctx.Err())
	case <-b.opts.Stop:
		b.stop(ErrBatchStopped)
	case <-b.halt:
	default:
		return false
	}
	return true
}

// unreached reports whether err ended a run that surely never reached the
// API, for a reason that passes and that the other rows would meet too: no
// connection could be made, or the API stayed rate limited past the
// retries. The row did not run, and can be sent later.
func unreached(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests
	}
	return err != nil && (errors.Is(err, errGate) || !connected(err))
}

// fatal reports whether err would fail every other row of the batch too.
func fatal(err error) bool {
	for _, target := range []error{ErrInsufficientCredits, ErrRunLimitExceeded, ErrInvalidAPIKey,
		ErrUnauthorized, ErrForbidden, ErrGridNotFound, ErrWorkspaceNotFound} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// stop ends dispatching for err, unless it has ended already.
func (b *batch) stop(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopErr == nil {
		b.stopErr = err
		close(b.halt)
	}
}

// stopped returns why dispatching ended, or nil.
func (b *batch) stopped() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopErr
}

// runRow runs one row and says how it ended.
func (b *batch) runRow(ctx context.Context, i int, row map[string]any) BatchResult {
	req, err := b.grid.RunRequest(row, b.opts.OutputColumns...)
	if err != nil {
		return BatchResult{Index: i, Outcome: OutcomeFailed, Err: err}
	}
	if b.opts.Journal == nil {
		run, err := b.send(ctx, req, nil)
		return b.result(ctx, i, run, err)
	}
	return b.runJournaled(ctx, i, req)
}

// send sends a row's run and, unless a webhook takes its result, waits for
// it. accepted, if set, hears of the run's ID as soon as it is known to
// have been accepted and not ended: an async run's, or a sync run's the
// API answered early. If it fails, the run is not waited for.
func (b *batch) send(ctx context.Context, req *RunRequest, accepted func(runID string) error) (*Run, error) {
	if !b.opts.Async {
		run, _, err := b.client.Grids.runSync(ctx, b.grid.ID, req, accepted)
		return run, err
	}
	req.WebhookURL = b.opts.WebhookURL
	run, _, err := b.client.Grids.RunAsync(ctx, b.grid.ID, req)
	if err != nil {
		return run, err
	}
	if accepted != nil {
		if err := accepted(run.ID); err != nil {
			return run, &OutcomeError{Err: err, RunID: run.ID}
		}
	}
	if b.opts.WebhookURL != "" {
		return run, nil
	}
	return b.client.Grids.wait(ctx, b.grid.ID, run, b.opts.Poll)
}

// result says how a row whose run ended with run and err ended.
func (b *batch) result(ctx context.Context, i int, run *Run, err error) BatchResult {
	res := BatchResult{Index: i, Run: run, Err: err}
	if run != nil {
		res.Outputs = b.grid.OutputsByName(run)
		if run.Credits != nil {
			res.Credits = run.Credits.Consumed
		}
	}
	switch {
	case err == nil && b.opts.WebhookURL != "" && !run.Status.Done():
		res.Outcome = OutcomeSubmitted
	case err == nil:
		res.Outcome = OutcomeCompleted
	case errors.Is(err, ErrOutcomeUnknown):
		res.Outcome = OutcomeUnknown
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		res.Outcome = OutcomeSkipped // ended before it was sent
	case errors.Is(err, ErrRunFailed):
		res.Outcome = OutcomeFailed // it ran, whatever its error says
	case fatal(err), unreached(err):
		res.Outcome = OutcomeRefused
	default:
		res.Outcome = OutcomeFailed
	}
	return res
}

// record adds a result to the report and tells the callbacks; started
// says whether the row was started.
func (b *batch) record(res BatchResult, started bool) {
	r := b.report
	if r.Results != nil { // RunBatch keeps every result
		r.Results[res.Index] = res
	}
	r.Credits += res.Credits
	if res.Resumed {
		r.Resumed++
	}
	switch res.Outcome {
	case OutcomeCompleted:
		r.Completed++
	case OutcomeSubmitted:
		r.Submitted++
	case OutcomeFailed:
		r.Failed++
	case OutcomeRefused:
		r.Refused++
	case OutcomeUnknown:
		r.Unknown++
	case OutcomeSkipped:
		r.Skipped++
	}
	b.deliver(res, started)
	if res.Outcome != OutcomeSkipped && b.opts.OnProgress != nil {
		b.opts.OnProgress(BatchProgress{
			Total:   b.total,
			Done:    r.Completed + r.Submitted + r.Failed + r.Refused + r.Unknown,
			Failed:  r.Failed + r.Refused,
			Unknown: r.Unknown,
			Credits: r.Credits,
			Resumed: r.Resumed,
		})
	}
}

// deliver hands a result to OnResult, at once or, with Ordered, once every
// row before it has been handed over.
func (b *batch) deliver(res BatchResult, started bool) {
	if !b.opts.Ordered {
		if b.opts.OnResult != nil {
			b.opts.OnResult(res)
		}
		return
	}
	if b.pending == nil {
		b.pending = make(map[int]heldResult)
	}
	b.pending[res.Index] = heldResult{res, started}
	for {
		next, ok := b.pending[b.next]
		if !ok {
			return
		}
		delete(b.pending, b.next)
		b.next++
		if next.started {
			<-b.window // one more row may start
		}
		if b.opts.OnResult != nil {
			b.opts.OnResult(next.BatchResult)
		}
	}
}
