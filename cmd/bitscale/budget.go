package main

import (
	"errors"
	"sync"

	"github.com/bitscale/bitscale-go"
)

// errBudget is why a batch stopped at --max-credits.
var errBudget = errors.New("the credits allowed with --max-credits would be passed")

// budget is a batch journal that refuses to record a row as being sent,
// which stops the batch before the row is sent, when the credits spent
// plus what the rows running may cost could pass max. What a row costs is
// known only once one ends: until then one row runs at a time, and then
// each running row counts as the dearest row seen.
type budget struct {
	journal bitscale.BatchJournal
	max     int
	done    <-chan struct{} // the batch's context ended
	stop    <-chan struct{} // the batch was stopped

	mu      sync.Mutex
	spent   int           // by rows sent by this batch that ended
	perRow  int           // the most a row has cost; 0 until one ended
	running map[int]bool  // rows sent by this batch, not ended
	changed chan struct{} // closed when a row ends
}

func newBudget(j bitscale.BatchJournal, max int, done, stop <-chan struct{}) *budget {
	return &budget{journal: j, max: max, done: done, stop: stop, running: make(map[int]bool), changed: make(chan struct{})}
}

// Last returns the journal's last entry for row.
func (b *budget) Last(row int) (bitscale.JournalEntry, bool) { return b.journal.Last(row) }

// Record records e, first making sure, for a row about to be sent, that
// the budget allows it.
func (b *budget) Record(e bitscale.JournalEntry) error {
	switch e.State {
	case bitscale.JournalSending:
		if err := b.admit(e.Row); err != nil {
			return err
		}
		if err := b.journal.Record(e); err != nil {
			b.end(e.Row, 0, false)
			return err
		}
		return nil
	case bitscale.JournalEnded:
		err := b.journal.Record(e)
		b.end(e.Row, e.Credits, e.Outcome == bitscale.OutcomeUnknown)
		return err
	}
	return b.journal.Record(e)
}

// admit waits until the budget allows row to be sent, or refuses it.
func (b *budget) admit(row int) error {
	b.mu.Lock()
	for {
		switch {
		case b.perRow > 0 && b.spent+(len(b.running)+1)*b.perRow > b.max,
			b.perRow == 0 && b.spent >= b.max:
			b.mu.Unlock()
			return errBudget
		case b.perRow > 0 || len(b.running) == 0:
			b.running[row] = true
			b.mu.Unlock()
			return nil
		}
		// No row has ended yet: wait for the first, to learn the cost.
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-b.done:
			return errors.New("interrupted")
		case <-b.stop:
			return bitscale.ErrBatchStopped
		}
		b.mu.Lock()
	}
}

// end notes that row ended having cost credits. A row whose outcome is
// unknown may have cost as much as the dearest row.
func (b *budget) end(row, credits int, unknown bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running[row] {
		return // sent by an earlier batch
	}
	delete(b.running, row)
	if unknown && credits == 0 {
		credits = b.perRow
	}
	b.spent += credits
	b.perRow = max(b.perRow, credits)
	close(b.changed)
	b.changed = make(chan struct{})
}
