package bitscale

import (
	"context"
	"errors"
	"sync"
)

// ErrCreditLimit is matched by the error that stopped a batch before a row
// whose run could have taken the credits spent past BatchOptions.MaxCredits.
var ErrCreditLimit = errors.New("bitscale: the batch's credit limit could be passed")

// budget keeps a batch's spending within BatchOptions.MaxCredits, as far as
// the costs seen tell. What a row costs is known only once one ends with
// its cost: until then one row runs at a time, and then each running row
// counts as the dearest row seen, as does each row that may have spent
// credits without saying how many (its outcome unknown, or failed without
// a cost). Such a row before any cost is known stops the batch: it may
// have spent anything.
type budget struct {
	limit int

	mu      sync.Mutex
	spent   int           // by the rows of this batch that ended with a cost
	unknown int           // rows of this batch that may have spent an unknown amount
	perRow  int           // the most a row has cost; 0 until one cost credits
	running int           // rows admitted and not ended
	changed chan struct{} // closed when a row ends
}

func newBudget(limit int) *budget {
	return &budget{limit: limit, changed: make(chan struct{})}
}

// admit waits until the budget allows one more row to be sent, and
// returns ErrCreditLimit when it never will. It gives up when ctx ends or
// halt or stop is closed, even when the budget would allow the row,
// returning ctx's error or ErrBatchStopped.
func (b *budget) admit(ctx context.Context, halt, stop <-chan struct{}) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-halt:
			return ErrBatchStopped
		case <-stop:
			return ErrBatchStopped
		default:
		}
		wait, err := b.try()
		if wait == nil {
			return err
		}
		select { // then back to the checks above
		case <-wait:
		case <-ctx.Done():
		case <-halt:
		case <-stop:
		}
	}
}

// try admits a row, or refuses it with ErrCreditLimit, or returns the
// channel to wait on for a row's cost to be learned.
func (b *budget) try() (wait <-chan struct{}, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.perRow > 0 && b.spent+(b.unknown+b.running+1)*b.perRow > b.limit:
		return nil, ErrCreditLimit
	case b.perRow > 0:
	case b.running > 0:
		return b.changed, nil // no cost known yet: wait for the row running
	case b.unknown > 0:
		return nil, ErrCreditLimit
	}
	b.running++ // a cost is known, or this is the first row
	return nil, nil
}

// end notes that an admitted row ended, having cost credits, or an
// unknown amount.
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
// cost, and returns its result. A result that stops the batch stops it
// first, so that no row waiting for the budget is sent after it.
func (b *batch) spend(res BatchResult) BatchResult {
	if b.budget == nil {
		return res
	}
	if stops(res) {
		b.stop(res.Err)
	}
	// A run that failed says nothing of its cost, and may have had one.
	ranUncosted := res.Run != nil && res.Run.Status == RunFailed && res.Run.Credits == nil
	b.budget.end(res.Credits, res.Outcome == OutcomeUnknown || ranUncosted)
	return res
}
