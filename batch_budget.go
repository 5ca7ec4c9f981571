package bitscale

import (
	"context"
	"errors"
	"sync"
)

// ErrCreditLimit is matched by the error that stopped a batch before a row
// whose run could have taken the credits spent past BatchOptions.MaxCredits.
var ErrCreditLimit = errors.New("bitscale: the batch's credit limit could be passed")

// budget keeps a batch's spending within BatchOptions.MaxCredits. What a
// row costs is known only once one ends: until then one row runs at a
// time, and then each running row counts as the dearest row seen, as does
// each row whose outcome is unknown, even one that ended before any cost
// was known.
type budget struct {
	max int

	mu      sync.Mutex
	spent   int           // by the rows of this batch that ended known
	unknown int           // rows of this batch that ended unknown
	perRow  int           // the most a row has cost; 0 until one cost credits
	running int           // rows admitted and not ended
	changed chan struct{} // closed when a row ends
}

func newBudget(max int) *budget {
	return &budget{max: max, changed: make(chan struct{})}
}

// admit waits until the budget allows one more row to be sent, and
// returns ErrCreditLimit when it never will. It gives up when ctx ends or
// halt or stop is closed, returning ctx's error or ErrBatchStopped.
func (b *budget) admit(ctx context.Context, halt, stop <-chan struct{}) error {
	b.mu.Lock()
	for {
		switch {
		case b.perRow > 0 && b.spent+(b.unknown+b.running+1)*b.perRow > b.max,
			b.perRow == 0 && b.spent >= b.max:
			b.mu.Unlock()
			return ErrCreditLimit
		case b.perRow > 0 || b.running == 0:
			b.running++
			b.mu.Unlock()
			return nil
		}
		// Nothing learned of the cost yet: wait for the row running.
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-halt:
			return ErrBatchStopped
		case <-stop:
			return ErrBatchStopped
		}
		b.mu.Lock()
	}
}

// end notes that an admitted row ended, having cost credits, or with an
// unknown outcome.
func (b *budget) end(credits int, unknown bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running--
	if unknown {
		b.unknown++
	} else {
		b.spent += credits
		b.perRow = max(b.perRow, credits)
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// withinBudget waits for the budget, if the batch has one, to allow row i
// to be sent. When it does not, the batch stops, and the row's result,
// skipped, is returned with false.
func (b *batch) withinBudget(ctx context.Context, i int) (BatchResult, bool) {
	if b.budget == nil {
		return BatchResult{}, true
	}
	if err := b.budget.admit(ctx, b.halt, b.opts.Stop); err != nil {
		b.stop(err) // unless the batch stopped for another reason first
		return BatchResult{Index: i, Outcome: OutcomeSkipped, Err: b.stopped()}, false
	}
	return BatchResult{}, true
}

// spend tells the budget, if the batch has one, what an admitted row
// cost, and returns its result.
func (b *batch) spend(res BatchResult) BatchResult {
	if b.budget != nil {
		b.budget.end(res.Credits, res.Outcome == OutcomeUnknown)
	}
	return res
}
