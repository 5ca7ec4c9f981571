package bitscale_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notRun returns the rows of leads(n) the fake has no run of.
func notRun(srv *fakeserver.Server, n int) []int {
	ran := map[string]bool{}
	for _, r := range srv.Runs() {
		ran[fmt.Sprint(r.Inputs[fakeserver.ColumnFullName])] = true
	}
	var idx []int
	for i, row := range leads(n) {
		if !ran[row["Full Name"].(string)] {
			idx = append(idx, i)
		}
	}
	return idx
}

// spentOnTheFake returns the credits the fake charged for runs.
func spentOnTheFake(srv *fakeserver.Server) int {
	total := 0
	for _, r := range srv.Runs() {
		total += r.Credits
	}
	return total
}

func TestRunBatchStaysWithinMaxCredits(t *testing.T) {
	t.Parallel()
	for _, async := range []bool{false, true} {
		srv, c := fakeAndClient(t) // each run costs fakeserver.DefaultRunCost, 12
		report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(20), &bitscale.BatchOptions{
			MaxCredits: 100, Concurrency: 4, Async: async, Poll: journalPoll,
		})
		require.ErrorIs(t, err, bitscale.ErrCreditLimit, "the batch's error is why it stopped")
		assert.Equal(t, 8, report.Completed, "async %v: 8 rows of 12 fit in 100", async)
		assert.Equal(t, 96, spentOnTheFake(srv))
		assert.Len(t, srv.Runs(), 8, "no row beyond the budget reached the API")
		assert.ErrorIs(t, report.Stopped, bitscale.ErrCreditLimit)
		// Rows wait for the budget in any order, so which rows ran is not
		// fixed; the others were not sent.
		assert.Equal(t, 12, report.Skipped)
		assert.ElementsMatch(t, report.NotAttempted(), notRun(srv, 20))
	}
}

func TestRunBatchMaxCreditsCountsAnUnknownRowAsTheDearest(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	// The first run is carried out but its answer is lost, before any
	// row's cost is known.
	srv.InjectFault(fakeserver.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: fakeserver.FaultReset, AfterHandling: true})
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(10), &bitscale.BatchOptions{
		MaxCredits: 40, Concurrency: 1,
	})
	require.ErrorIs(t, err, bitscale.ErrCreditLimit)
	assert.Equal(t, bitscale.OutcomeUnknown, report.Results[0].Outcome)
	assert.Equal(t, 2, report.Completed, "12 (unknown, counted as the dearest once known) + 12 + 12 = 36; a fourth would pass 40")
	assert.Len(t, srv.Runs(), 3)
	assert.Equal(t, 36, spentOnTheFake(srv))
	assert.ErrorIs(t, report.Stopped, bitscale.ErrCreditLimit)
}

func TestRunBatchMaxCreditsRecordsNothingForRowsItHolds(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(5), &bitscale.BatchOptions{
		MaxCredits: 30, Journal: openJournal(t, path),
	})
	require.ErrorIs(t, err, bitscale.ErrCreditLimit)
	require.Equal(t, 2, report.Completed)
	// Rows wait for the budget in any order: which two ran is not fixed,
	// but only they are recorded, each as sent and ended.
	states := map[int][]bitscale.JournalState{}
	for _, e := range journalLines(t, path) {
		states[e.Row] = append(states[e.Row], e.State)
	}
	assert.Len(t, states, 2, "a row held back by the budget is not recorded: %v", states)
	for row, s := range states {
		assert.Equal(t, []bitscale.JournalState{bitscale.JournalSending, bitscale.JournalEnded}, s, "row %d", row)
	}

	// With more allowed, the rerun sends the rows held back, and only them.
	report, err = c.Grids.RunBatch(context.Background(), "grid_001", leads(5), &bitscale.BatchOptions{
		MaxCredits: 100, Journal: openJournal(t, path),
	})
	require.NoError(t, err)
	assert.Equal(t, 5, report.Completed)
	assert.Equal(t, 2, report.Resumed)
	assert.Len(t, srv.Runs(), 5)
}

func TestRunBatchRefusesAMaxCreditsItCannotKeep(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	for name, opts := range map[string]*bitscale.BatchOptions{
		"negative":     {MaxCredits: -1},
		"with webhook": {MaxCredits: 100, Async: true, WebhookURL: "https://hooks.example.com/bitscale"},
	} {
		_, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(2), opts)
		var argErr *bitscale.ArgumentError
		require.ErrorAs(t, err, &argErr, name)
		assert.Equal(t, "opts.MaxCredits", argErr.Name, name)
	}
	assert.Empty(t, srv.Runs())
}
