package bitscale_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// leads returns n rows for grid_001, each naming its index.
func leads(n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"Full Name": fmt.Sprintf("Lead %d", i), "Company": "Acme Corp"}
	}
	return rows
}

// sentRows returns the indexes of the rows whose run the fake received.
func sentRows(t *testing.T, srv *fakeserver.Server) []int {
	t.Helper()
	var idx []int
	for _, r := range srv.Requests() {
		if r.Method != "POST" {
			continue
		}
		var body struct{ Inputs map[string]any }
		require.NoError(t, json.Unmarshal(r.Body, &body))
		var i int
		_, err := fmt.Sscanf(body.Inputs[fakeserver.ColumnFullName].(string), "Lead %d", &i)
		require.NoError(t, err)
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}

func TestRunBatchRowsSpanningRateLimitWindows(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spans several rate-limit windows")
	}
	// Half the rows fit in a window: the batch spans two or three, which
	// the gate must pace without a 429 reaching a row.
	const rows = 300
	srv, c := fakeAndClient(t, fakeserver.WithRateLimit(150, time.Second))
	var progress []bitscale.BatchProgress
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(rows), &bitscale.BatchOptions{
		Concurrency: 16,
		OnProgress:  func(p bitscale.BatchProgress) { progress = append(progress, p) },
	})
	require.NoError(t, err)
	assert.Equal(t, rows, report.Completed)
	assert.Zero(t, report.Failed+report.Unknown+report.Skipped)
	assert.Equal(t, 12*rows, report.Credits)
	for _, res := range report.Results {
		require.NoError(t, res.Err, res.Index)
		want := fmt.Sprintf("lead.%d@acmecorp.com", res.Index)
		assert.Equal(t, want, res.Outputs["Enriched Email"], "row %d got its own outputs", res.Index)
	}
	require.Len(t, progress, rows)
	assert.Equal(t, bitscale.BatchProgress{Total: rows, Done: rows, Credits: 12 * rows}, progress[rows-1])
	assert.Zero(t, report.Refused)
	for i, p := range progress {
		assert.Equal(t, i+1, p.Done)
	}

	var refused int
	for _, r := range srv.Requests() {
		if r.Status == 429 {
			refused++
		}
	}
	t.Logf("%d requests on the wire, %d answered 429", len(srv.Requests()), refused)
	assert.Len(t, srv.Runs(), rows, "each row ran once")
}

// TestRunBatchStopsWhenCreditsRunOut runs 100 rows on 30 runs' worth of
// credits. The fake, like BitScale, checks credits when it accepts a run
// and charges them when the run completes, so rows running together when
// the balance runs out may be accepted and then fail for credits: how many
// rows end refused, and how many fail, depends on scheduling. What is
// guaranteed is asserted: 30 rows complete and are charged, every other
// row sent ends refused or failed for credits (at most one per concurrent
// slot), and the rest are reported as never sent, exactly the rows the
// fake never received. A sync latency makes rows overlap more, so that
// the failed-mid-run case is exercised too.
func TestRunBatchStopsWhenCreditsRunOut(t *testing.T) {
	t.Parallel()
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprint("latency ", latency), func(t *testing.T) {
			t.Parallel()
			const concurrency, cost, affordable = 4, fakeserver.DefaultRunCost, 30
			srv, c := fakeAndClient(t, fakeserver.WithSyncLatency(latency))
			require.NoError(t, srv.SetCredits(fakeserver.SeedWorkspaceID, cost*affordable))
			var results []bitscale.BatchResult
			report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(100), &bitscale.BatchOptions{
				Concurrency: concurrency,
				OnResult:    func(r bitscale.BatchResult) { results = append(results, r) },
			})
			require.ErrorIs(t, err, bitscale.ErrInsufficientCredits)
			assert.Equal(t, report.Stopped, err)
			assert.Equal(t, affordable, report.Completed, "every run the credits paid for completed")
			assert.Equal(t, cost*affordable, report.Credits)
			ws, _ := srv.Workspace(fakeserver.SeedWorkspaceID)
			assert.Equal(t, 0, ws.Credits.Remaining, "the batch spent the balance, and no more")

			var attempted, notAttempted []int
			for _, res := range report.Results {
				switch res.Outcome {
				case bitscale.OutcomeSkipped:
					notAttempted = append(notAttempted, res.Index)
					assert.ErrorIs(t, res.Err, bitscale.ErrInsufficientCredits, res.Index)
				case bitscale.OutcomeCompleted:
					attempted = append(attempted, res.Index)
				case bitscale.OutcomeRefused: // refused when sent: no run
					attempted = append(attempted, res.Index)
					assert.ErrorIs(t, res.Err, bitscale.ErrInsufficientCredits, res.Index)
					assert.NotErrorIs(t, res.Err, bitscale.ErrRunFailed, res.Index)
				case bitscale.OutcomeFailed: // accepted, then short of credits at its end
					attempted = append(attempted, res.Index)
					assert.ErrorIs(t, res.Err, bitscale.ErrRunFailed, res.Index)
					assert.ErrorIs(t, res.Err, bitscale.ErrInsufficientCredits, res.Index)
				default:
					t.Errorf("row %d: outcome %s", res.Index, res.Outcome)
				}
			}
			sort.Ints(attempted)
			assert.Equal(t, sentRows(t, srv), attempted, "attempted means sent, exactly")
			assert.Equal(t, notAttempted, report.NotAttempted())
			assert.Equal(t, 100, len(attempted)+len(notAttempted))
			assert.Len(t, srv.Runs(), report.Completed+report.Failed, "a refused row ran nothing")
			short := report.Refused + report.Failed
			t.Logf("%d rows refused when sent, %d failed for credits after they were accepted", report.Refused, report.Failed)
			assert.Equal(t, len(attempted)-affordable, short)
			assert.GreaterOrEqual(t, short, 1, "the row that stopped the batch")
			assert.LessOrEqual(t, short, concurrency, "at most the rows holding a slot when credits ran out")
			assert.Len(t, results, 100, "OnResult hears of every row, skipped ones included")
		})
	}
}

func TestRunBatchRefusesToStartBelowMinCredits(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	require.NoError(t, srv.SetCredits(fakeserver.SeedWorkspaceID, 500))
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(100), &bitscale.BatchOptions{MinCredits: 1200})
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits)
	assert.Contains(t, err.Error(), "500 credits remaining, below the 1200")
	assert.Nil(t, report)
	assert.Empty(t, srv.Runs())
}

func TestRunBatchBadRowsFailWithoutARequest(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	rows := leads(5)
	rows[1] = map[string]any{"Company": "Acme Corp"}                   // required Full Name missing
	rows[3] = map[string]any{"Full Name": "Lead 3", "Revenue": "high"} // no such column
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, report.Completed)
	assert.Equal(t, 2, report.Failed)
	var inErr *bitscale.InputError
	require.ErrorAs(t, report.Results[1].Err, &inErr)
	assert.Equal(t, "Full Name", inErr.Problems[0].Column)
	require.ErrorAs(t, report.Results[3].Err, &inErr)
	assert.Equal(t, "Revenue", inErr.Problems[0].Column)
	assert.Equal(t, []int{0, 2, 4}, sentRows(t, srv))
}

func TestRunBatchAsyncPolls(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t, fakeserver.WithRunDurations(5*time.Millisecond, 20*time.Millisecond))
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(6), &bitscale.BatchOptions{
		Async: true,
		Poll:  &bitscale.PollOptions{Interval: 5 * time.Millisecond},
	})
	require.NoError(t, err)
	assert.Equal(t, 6, report.Completed)
	for _, res := range report.Results {
		assert.Equal(t, bitscale.RunCompleted, res.Run.Status)
		assert.NotEmpty(t, res.Run.ID)
		assert.Equal(t, 12, res.Credits)
	}
	assert.Len(t, srv.Runs(), 6)
}

func TestRunBatchAsyncWithWebhookDoesNotPoll(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(3), &bitscale.BatchOptions{
		Async:      true,
		WebhookURL: "https://hooks.example.com/bitscale",
	})
	require.NoError(t, err)
	assert.Equal(t, 3, report.Submitted)
	for _, r := range srv.Requests() {
		assert.NotContains(t, r.Path, "/runs/", "no polling")
	}
	_, err = c.Grids.RunBatch(context.Background(), "grid_001", leads(1), &bitscale.BatchOptions{WebhookURL: "https://x.example"})
	var argErr *bitscale.ArgumentError
	require.ErrorAs(t, err, &argErr)
}

func TestRunBatchRowWithUnknownOutcomeIsNotResent(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	// The fake runs the row, then the connection breaks before its answer.
	srv.InjectFault(fakeserver.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: fakeserver.FaultReset, AfterHandling: true})
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(1), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, report.Unknown)
	res := report.Results[0]
	assert.Equal(t, bitscale.OutcomeUnknown, res.Outcome)
	assert.ErrorIs(t, res.Err, bitscale.ErrOutcomeUnknown)
	assert.Len(t, srv.Runs(), 1, "it ran, once")
	assert.Equal(t, []int{0}, sentRows(t, srv), "and was not sent again")
}

func TestRunBatchStopFinishesRunningRows(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t, fakeserver.WithSyncLatency(20*time.Millisecond))
	stop := make(chan struct{})
	var n atomic.Int32
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(50), &bitscale.BatchOptions{
		Concurrency: 3,
		Stop:        stop,
		OnResult: func(bitscale.BatchResult) {
			if n.Add(1) == 5 {
				close(stop)
			}
		},
	})
	require.ErrorIs(t, err, bitscale.ErrBatchStopped)
	assert.Zero(t, report.Unknown+report.Failed, "rows already running finished")
	assert.Equal(t, len(srv.Runs()), report.Completed)
	assert.Equal(t, 50, report.Completed+report.Skipped)
	assert.GreaterOrEqual(t, report.Completed, 5)
	assert.LessOrEqual(t, report.Completed, 5+3+1)
}

func TestRunBatchContextCancel(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t, fakeserver.WithSyncLatency(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancelled once a few rows are done, with others running: not after a
	// time, which a slow machine could spend before the batch started.
	var done atomic.Int32
	report, err := c.Grids.RunBatch(ctx, "grid_001", leads(200), &bitscale.BatchOptions{
		Concurrency: 2,
		OnResult: func(bitscale.BatchResult) {
			if done.Add(1) == 3 {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, report)
	assert.Greater(t, report.Skipped, 100)
	for _, res := range report.Results {
		if res.Outcome == bitscale.OutcomeUnknown {
			assert.True(t, errors.Is(res.Err, context.Canceled), "cut off mid-run: %v", res.Err)
		}
	}
	assert.Equal(t, 200, report.Completed+report.Unknown+report.Skipped)
	// A sync run cut off by the context may still have run: the fake
	// keeps running it, as BitScale would. So every completed row ran, and
	// nothing ran that was not sent.
	assert.GreaterOrEqual(t, len(srv.Runs()), report.Completed)
	assert.LessOrEqual(t, len(srv.Runs()), report.Completed+report.Unknown)
}

func TestRunBatchStartErrors(t *testing.T) {
	t.Parallel()
	_, c := fakeAndClient(t)
	_, err := c.Grids.RunBatch(context.Background(), "grid_nope", leads(2), nil)
	require.ErrorIs(t, err, bitscale.ErrGridNotFound)
	_, err = c.Grids.RunBatch(context.Background(), "grid_001", leads(2), &bitscale.BatchOptions{OutputColumns: []string{"Nope"}})
	var inErr *bitscale.InputError
	require.ErrorAs(t, err, &inErr)
	assert.True(t, strings.Contains(err.Error(), "Nope"))
	_, err = c.ForWorkspace("").Grids.RunBatch(context.Background(), "grid_001", leads(2), nil)
	require.ErrorIs(t, err, bitscale.ErrNoWorkspace)
}

func TestRunBatchRefusedOnTheLastRowIsAnError(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	require.NoError(t, srv.SetCredits(fakeserver.SeedWorkspaceID, 12*3))
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(4), &bitscale.BatchOptions{Concurrency: 1})
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits, "every row was attempted, yet the batch did not succeed")
	assert.Equal(t, 3, report.Completed)
	assert.Equal(t, 1, report.Refused)
	assert.Zero(t, report.Skipped)
	assert.Equal(t, bitscale.OutcomeRefused, report.Results[3].Outcome)
}

func TestRunBatchOrderedDeliversInRowOrder(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	// Later rows finish first: row i is slowed by (20-i) ms.
	srv.SetEnricher(func(ctx context.Context, req fakeserver.EnrichRequest) (map[string]any, error) {
		var i int
		fmt.Sscanf(req.Inputs[fakeserver.ColumnFullName].(string), "Lead %d", &i)
		time.Sleep(time.Duration(20-i) * time.Millisecond)
		return fakeserver.DefaultEnricher(ctx, req)
	})
	require.NoError(t, srv.SetCredits(fakeserver.SeedWorkspaceID, 12*15))
	var order []int
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(20), &bitscale.BatchOptions{
		Concurrency: 8,
		Ordered:     true,
		OnResult:    func(r bitscale.BatchResult) { order = append(order, r.Index) },
	})
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits)
	want := make([]int, 20)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, order, "every row, skipped ones included, in order")
	assert.Equal(t, 20, report.Completed+report.Failed+report.Refused+report.Skipped)
}

func TestRunBatchUsesTheGridGiven(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	grid, _, err := c.Grids.Get(context.Background(), "grid_001")
	require.NoError(t, err)
	srv.ClearHistory()
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(2), &bitscale.BatchOptions{Grid: grid})
	require.NoError(t, err)
	assert.Equal(t, 2, report.Completed)
	for _, r := range srv.Requests() {
		assert.Equal(t, "POST", r.Method, "no second fetch of the grid")
	}
	_, err = c.Grids.RunBatch(context.Background(), "grid_002", leads(2), &bitscale.BatchOptions{Grid: grid})
	var argErr *bitscale.ArgumentError
	require.ErrorAs(t, err, &argErr)
}

const twoColumnGrid = `{"id":"grid_001","name":"g","columns":[{"id":"c1","name":"Name","type":"text","is_input":true,"required":true},{"id":"o1","name":"Email","type":"ai_enrichment","is_output":true}]}`

// An async row accepted, then not seen to end, keeps its run, so that the
// caller can find it.
func TestRunBatchAsyncKeepsTheRunID(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/grids/grid_001"):
			w.Write([]byte(twoColumnGrid))
		case r.Method == http.MethodPost:
			w.WriteHeader(202)
			w.Write([]byte(`{"mode":"async","run_id":"run_42","status":"queued"}`))
		default:
			cancel() // shutdown while polling
			w.Write([]byte(`{"run_id":"run_42","status":"running"}`))
		}
	})
	c, _ := newTestClient(t, h)
	rep, err := c.Grids.RunBatch(ctx, "grid_001", []map[string]any{{"Name": "Jane"}}, &bitscale.BatchOptions{Async: true})
	require.Len(t, rep.Results, 1, "batch err=%v", err)
	res := rep.Results[0]
	assert.Equal(t, bitscale.OutcomeUnknown, res.Outcome, "accepted, not seen to end: it may still run")
	require.NotNil(t, res.Run, "the accepted run")
	assert.Equal(t, "run_42", res.Run.ID)
	var outErr *bitscale.OutcomeError
	require.ErrorAs(t, res.Err, &outErr)
	assert.Equal(t, "run_42", outErr.RunID, "the error names the run to look up")
	assert.ErrorIs(t, res.Err, context.Canceled)
}

// A run that ran and failed is failed, even when its error carries a code
// that stops the batch: refused would tell the caller it did not run.
func TestRunBatchRunThatRanAndFailedIsFailed(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			w.Write([]byte(twoColumnGrid))
			return
		}
		w.Write([]byte(`{"mode":"sync","status":"failed","error":{"code":"INSUFFICIENT_CREDITS","message":"ran out mid-run"},"credits":{"consumed":7,"remaining":0}}`))
	})
	c, _ := newTestClient(t, h)
	rep, err := c.Grids.RunBatch(context.Background(), "grid_001", []map[string]any{{"Name": "a"}}, nil)
	require.Len(t, rep.Results, 1, "batch err=%v", err)
	res := rep.Results[0]
	assert.Equal(t, bitscale.OutcomeFailed, res.Outcome, "it ran: refused would say it is safe to resend")
	assert.Equal(t, 7, res.Credits, "the credits it consumed")
	assert.ErrorIs(t, res.Err, bitscale.ErrRunFailed)
	assert.ErrorIs(t, err, bitscale.ErrInsufficientCredits, "the code still ends the batch")
}

// With Ordered, rows that ran (and were paid for) wait behind a slow row
// until it ends; a crash then loses them, and a resume pays for them again.
// So rows may start only a bounded distance ahead of the slow one: at most
// twice Concurrency rows are started and not yet reported, so with row 0
// held, exactly 2*Concurrency-1 other rows run before it answers, and no
// more. Row 0 answers once they have all ended; a row that could start
// only after row 0 was reported arrives after row 0 answered.
func TestRunBatchOrderedBoundsResultsHeld(t *testing.T) {
	t.Parallel()
	const concurrency = 4
	const ahead = 2*concurrency - 1
	var aheadOfSlow atomic.Int32
	var slowAnswered atomic.Bool
	allAhead := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/grids/grid_001") {
			w.Write([]byte(twoColumnGrid))
			return
		}
		var body struct{ Inputs map[string]any }
		json.NewDecoder(r.Body).Decode(&body)
		if body.Inputs["c1"] == "row0" {
			select { // the slow row: it ends once the rows allowed ahead of it ran
			case <-allAhead:
			case <-time.After(time.Minute): // fewer rows ran ahead than allowed; reported below
			case <-r.Context().Done():
			}
			slowAnswered.Store(true)
		} else if !slowAnswered.Load() {
			aheadOfSlow.Add(1)
		}
		w.Write([]byte(`{"mode":"sync","status":"completed","outputs":{},"credits":{"consumed":1}}`))
	})
	c, _ := newTestClient(t, h)
	rows := make([]map[string]any, 200)
	for i := range rows {
		rows[i] = map[string]any{"Name": "rowN"}
	}
	rows[0]["Name"] = "row0"
	var delivered []int
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{
		Ordered: true, Concurrency: concurrency,
		OnResult: func(res bitscale.BatchResult) { delivered = append(delivered, res.Index) },
		OnProgress: func(p bitscale.BatchProgress) {
			if p.Done == ahead { // every row allowed ahead of row 0 has ended
				close(allAhead)
			}
		},
	})
	require.NoError(t, err)
	assert.EqualValues(t, ahead, aheadOfSlow.Load(), "rows that ran while row 0 was running")
	require.Len(t, delivered, 200)
	for i, idx := range delivered {
		if idx != i {
			t.Fatalf("result %d delivered was row %d, want rows in order", i, idx)
		}
	}
}

// A panicking OnResult, recovered by the caller (as net/http's server
// does), must leave no row goroutine blocked behind it.
func TestRunBatchCallbackPanicLeavesNoGoroutine(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/grids/grid_001") {
			w.Write([]byte(twoColumnGrid))
			return
		}
		w.Write([]byte(`{"mode":"sync","status":"completed","outputs":{}}`))
	})
	c, _ := newTestClient(t, h)
	rows := make([]map[string]any, 8)
	for i := range rows {
		rows[i] = map[string]any{"Name": "x"}
	}
	running := goleak.IgnoreCurrent() // the server and this test's own
	var p any
	func() {
		defer func() { p = recover() }()
		c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{
			OnResult: func(bitscale.BatchResult) { panic("callback bug") },
		})
	}()
	assert.Equal(t, "callback bug", p, "the callback's panic reaches the caller")
	c.CloseIdleConnections()
	goleak.VerifyNone(t, running) // retries until the batch's goroutines have ended
}
