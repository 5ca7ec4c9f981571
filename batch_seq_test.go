package bitscale_test

import (
	"context"
	"iter"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leadSeq yields n rows for grid_001 as leads does, counting those taken
// in pulled. The batch ranges over it on a goroutine of its own.
func leadSeq(n int, pulled *atomic.Int64) iter.Seq[map[string]any] {
	return func(yield func(map[string]any) bool) {
		for _, row := range leads(n) {
			pulled.Add(1)
			if !yield(row) {
				return
			}
		}
	}
}

// RunBatchSeq takes a row only when it can start it: the rows taken and
// not yet reported never pass Concurrency (twice that with Ordered), plus
// the one being reported, whose place another row may take meanwhile, and
// the one waiting for a place.
func TestRunBatchSeqHoldsFewRows(t *testing.T) {
	t.Parallel()
	for _, ordered := range []bool{false, true} {
		_, c := fakeAndClient(t)
		const concurrency, rows = 3, 60
		var pulled atomic.Int64
		var reported, most int
		var order []int
		report, err := c.Grids.RunBatchSeq(context.Background(), "grid_001", leadSeq(rows, &pulled), &bitscale.BatchOptions{
			Concurrency: concurrency,
			Ordered:     ordered,
			OnResult: func(r bitscale.BatchResult) {
				most = max(most, int(pulled.Load())-reported)
				reported++
				order = append(order, r.Index)
			},
		})
		require.NoError(t, err)
		bound := concurrency + 2
		if ordered {
			bound = 2*concurrency + 2
		}
		assert.LessOrEqual(t, most, bound, "rows held at once, ordered=%v", ordered)
		assert.Equal(t, rows, report.Completed)
		assert.Empty(t, report.Results, "results are handed over, not kept")
		assert.Len(t, order, rows)
		if ordered {
			for i, idx := range order {
				require.Equal(t, i, idx, "ordered delivery")
			}
		}
	}
}

// A batch that stops takes no more rows; the rows it never took are not
// reported.
func TestRunBatchSeqStopsTakingRows(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	require.NoError(t, srv.SetCredits(fakeserver.SeedWorkspaceID, 12*10))
	var pulled atomic.Int64
	var reported int
	report, err := c.Grids.RunBatchSeq(context.Background(), "grid_001", leadSeq(1000, &pulled), &bitscale.BatchOptions{
		Concurrency: 1,
		OnResult:    func(bitscale.BatchResult) { reported++ },
	})
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits)
	assert.Equal(t, 10, report.Completed)
	n := int(pulled.Load())
	assert.LessOrEqual(t, n, 12, "rows taken: the ten run, the one refused, and one that waited")
	assert.Equal(t, n, reported, "every row taken is reported, and no other")
	assert.Equal(t, n-11, report.Skipped)
}

// A stream cannot be checked against the journal ahead, so each row is,
// before it is sent: a row the journal recorded differently stops the
// batch there, unsent.
func TestRunBatchSeqStopsAtARowTheJournalRecordedDifferently(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(3), &bitscale.BatchOptions{Journal: openJournal(t, path)})
	require.NoError(t, err)
	sent := len(srv.Runs())

	rows := leads(4)
	rows[1]["Company"] = "Another Corp"
	var results []bitscale.BatchResult
	report, err := c.Grids.RunBatchSeq(context.Background(), "grid_001", slices.Values(rows), &bitscale.BatchOptions{
		Journal: openJournal(t, path), Concurrency: 1, Ordered: true,
		OnResult: func(r bitscale.BatchResult) { results = append(results, r) },
	})
	require.ErrorIs(t, err, bitscale.ErrJournalMismatch)
	assert.Contains(t, err.Error(), "row 1 is not the row it recorded")
	assert.Equal(t, sent, len(srv.Runs()), "nothing is sent")
	require.GreaterOrEqual(t, len(results), 2)
	assert.True(t, results[0].Resumed)
	assert.Equal(t, bitscale.OutcomeSkipped, results[1].Outcome)
	assert.Equal(t, 1, report.Resumed)
}

// A batch whose context ends while its rows are being polled has not run
// its course, though no row was skipped: it says so.
func TestRunBatchReportsAContextThatEndedWhilePolling(t *testing.T) {
	t.Parallel()
	_, c := fakeAndClient(t, fakeserver.WithRunDurations(time.Millisecond, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	report, err := c.Grids.RunBatch(ctx, "grid_001", leads(1), &bitscale.BatchOptions{
		Async: true,
		Poll: &bitscale.PollOptions{Interval: time.Millisecond, Multiplier: 1,
			OnUpdate: func(*bitscale.Run) { cancel() }}, // the caller gives up while the row runs
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, err, report.Stopped)
	require.Equal(t, bitscale.OutcomeUnknown, report.Results[0].Outcome)
	var oe *bitscale.OutcomeError
	require.ErrorAs(t, report.Results[0].Err, &oe)
	assert.NotEmpty(t, oe.RunID, "the accepted run can be looked up")
	assert.Zero(t, report.Skipped)
}
