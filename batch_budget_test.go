package bitscale_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
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

// runsLosingAnswer serves runs of one input column that complete costing
// 12 credits, but for the answers to the POSTs numbered in lost (from 1),
// whose connection it closes once the run is counted. It returns the
// number of POSTs.
func runsLosingAnswer(t *testing.T, lost ...int32) (*bitscale.Client, *atomic.Int32) {
	var posts atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(lost, posts.Add(1)) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		serveJSON(200, []byte(`{"run_id":"r","status":"completed","outputs":{},"credits":{"consumed":12,"remaining":1000}}`))(w, r)
	}))
	return c, &posts
}

var oneInput = &bitscale.Grid{ID: "grid_001", Columns: []bitscale.Column{
	{ID: "c_in", Name: "In", Type: bitscale.ColumnText, IsInput: true},
}}

func inRows(n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"In": fmt.Sprint(i)}
	}
	return rows
}

func TestRunBatchMaxCreditsCountsAnUnknownRowAsTheDearest(t *testing.T) {
	t.Parallel()
	c, posts := runsLosingAnswer(t, 2)
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", inRows(10), &bitscale.BatchOptions{
		Grid: oneInput, MaxCredits: 40, Concurrency: 1,
	})
	require.ErrorIs(t, err, bitscale.ErrCreditLimit)
	assert.Equal(t, 1, report.Unknown)
	assert.Equal(t, 2, report.Completed, "12 + 12 (unknown, counted as the dearest) + 12 = 36; a fourth would pass 40")
	assert.Equal(t, int32(3), posts.Load())
}

func TestRunBatchMaxCreditsStopsOnAnUnknownRowBeforeAnyCost(t *testing.T) {
	t.Parallel()
	c, posts := runsLosingAnswer(t, 1)
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", inRows(10), &bitscale.BatchOptions{
		Grid: oneInput, MaxCredits: 20, Concurrency: 4,
	})
	require.ErrorIs(t, err, bitscale.ErrCreditLimit, "the first row may have spent anything")
	assert.Equal(t, 1, report.Unknown)
	assert.Equal(t, 9, report.Skipped)
	assert.Equal(t, int32(1), posts.Load())
}

func TestRunBatchMaxCreditsSendsNothingAfterAFatalError(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	require.NoError(t, srv.SetCredits(fakeserver.SeedWorkspaceID, 0))
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(10), &bitscale.BatchOptions{
		MaxCredits: 1000, Concurrency: 4,
	})
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits)
	assert.Equal(t, 1, report.Refused)
	assert.Equal(t, 9, report.Skipped)
	posts := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	assert.Equal(t, 1, posts, "rows waiting for the first row's cost are not sent once it stopped the batch")
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
