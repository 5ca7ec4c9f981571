package perf

import (
	"context"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/bitscale/bitscale-go"
)

// BatchConcurrency is how many rows the batch benchmarks run at once.
const BatchConcurrency = 8

// BatchResult is what one batch of rows measured.
type BatchResult struct {
	Rows      int
	Completed int
	PeakHeap  uint64 // the heap's growth at its highest, garbage included
	Elapsed   time.Duration
}

// Batch runs n rows of grid_001 on s, with Grids.RunBatchSeq taking them
// from a generator when stream is set, and otherwise with Grids.RunBatch
// given them all in a slice made first. Requests go to s's handler in
// process, so the client's own memory and time are what is measured. The
// peak is taken at the default GOGC, so it counts garbage not yet
// collected as well as what is live: an upper bound of what the batch
// holds.
func Batch(ctx context.Context, s *Server, n int, stream bool) (BatchResult, error) {
	c, err := bitscale.NewClient("bsk_bench", bitscale.WithBaseURL(s.URL()), bitscale.WithWorkspaceID(WorkspaceID),
		bitscale.WithHTTPClient(&http.Client{Transport: s.Transport()}))
	if err != nil {
		return BatchResult{}, err
	}
	grid, _, err := c.Grids.Get(ctx, GridID)
	if err != nil {
		return BatchResult{}, err
	}
	res := BatchResult{Rows: n}
	opts := &bitscale.BatchOptions{
		Grid:        grid,
		Concurrency: BatchConcurrency,
		OnResult: func(r bitscale.BatchResult) {
			if r.Outcome == bitscale.OutcomeCompleted {
				res.Completed++
			}
		},
	}
	start := time.Now()
	res.PeakHeap = peakOnce(func() {
		if stream {
			_, err = c.Grids.RunBatchSeq(ctx, GridID, batchRows(n), opts)
			return
		}
		rows := make([]map[string]any, 0, n)
		for row := range batchRows(n) {
			rows = append(rows, row)
		}
		_, err = c.Grids.RunBatch(ctx, GridID, rows, opts)
	})
	res.Elapsed = time.Since(start)
	return res, err
}

// batchRows yields n rows, each made as it is taken.
func batchRows(n int) iter.Seq[map[string]any] {
	return func(yield func(map[string]any) bool) {
		for i := range n {
			if !yield(map[string]any{"Full Name": "Lead " + strconv.Itoa(i), "Company": "Acme Corp"}) {
				return
			}
		}
	}
}
