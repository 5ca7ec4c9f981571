package bitscale_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// journalLines returns the lines of a journal file, each decoded.
func journalLines(t *testing.T, path string) []bitscale.JournalEntry {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var entries []bitscale.JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e bitscale.JournalEntry
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %q", sc.Text())
		entries = append(entries, e)
	}
	return entries
}

// writeJournal writes entries as a journal file holds them.
func writeJournal(t *testing.T, path string, entries []bitscale.JournalEntry) {
	t.Helper()
	var b strings.Builder
	for _, e := range entries {
		line, err := json.Marshal(e)
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

// journalPoll polls often, to keep the tests short.
var journalPoll = &bitscale.PollOptions{Interval: 5 * time.Millisecond, Multiplier: 1}

// openJournal opens the journal at path, as a batch run again would:
// the journal that a test opened there before is closed first, releasing
// its lock. The last is closed when t ends.
func openJournal(t *testing.T, path string) *bitscale.JournalFile {
	t.Helper()
	journalsMu.Lock()
	defer journalsMu.Unlock()
	if j, ok := journals[path]; ok {
		require.NoError(t, j.Close())
	}
	j, err := bitscale.OpenJournalFile(path)
	require.NoError(t, err)
	journals[path] = j
	t.Cleanup(func() {
		journalsMu.Lock()
		defer journalsMu.Unlock()
		if journals[path] == j {
			delete(journals, path)
			j.Close()
		}
	})
	return j
}

// journals are the journals openJournal has open, by path; tests that run
// in parallel share the map, not its paths.
var (
	journalsMu sync.Mutex
	journals   = map[string]*bitscale.JournalFile{}
)

func TestRunBatchJournalRecordsEachRowBeforeSendingIt(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	rows := leads(3)
	rows[1] = map[string]any{"Company": "no name"} // fails the grid's check, so is never sent
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{
		Async: true, Poll: journalPoll, Concurrency: 1, Journal: openJournal(t, path),
	})
	require.NoError(t, err)
	assert.Equal(t, 2, report.Completed)
	assert.Equal(t, 1, report.Failed)

	byRow := map[int][]bitscale.JournalState{}
	for _, e := range journalLines(t, path) {
		byRow[e.Row] = append(byRow[e.Row], e.State)
		if e.State == bitscale.JournalEnded {
			assert.Equal(t, bitscale.OutcomeCompleted, e.Outcome, "row %d", e.Row)
			require.NotNil(t, e.Run, "row %d", e.Row)
			assert.NotEmpty(t, e.Run.Outputs, "row %d: the outputs are kept", e.Row)
			assert.Equal(t, 12, e.Credits, "row %d", e.Row)
		}
	}
	want := []bitscale.JournalState{bitscale.JournalSending, bitscale.JournalAccepted, bitscale.JournalEnded}
	assert.Equal(t, map[int][]bitscale.JournalState{0: want, 2: want}, byRow,
		"rows sent are recorded sending, accepted and ended, in that order; a row refused before sending is not recorded")
	assert.Equal(t, []int{0, 2}, sentRows(t, srv))
}

// A batch killed at any instant leaves its journal as it was then. Each
// row's entries are cut where a crash could have cut them, and the rerun
// must send only the row that surely did not run.
func TestRunBatchJournalResumesWithoutSendingAgain(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	rows := leads(5)
	opts := &bitscale.BatchOptions{Async: true, Poll: journalPoll, Concurrency: 1}
	opts.Journal = openJournal(t, path)
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", rows[:4], opts)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2, 3}, sentRows(t, srv))

	// What the journal held when the crash came, row by row.
	keep := map[int]int{
		0: 1, // sending: sent, its answer never recorded
		1: 2, // accepted: its run ID is known
		2: 3, // ended
		3: 1, // sending, then the fake answered; the crash came first
	}
	var crashed []bitscale.JournalEntry
	seen := map[int]int{}
	for _, e := range journalLines(t, path) {
		if seen[e.Row] < keep[e.Row] {
			crashed = append(crashed, e)
		}
		seen[e.Row]++
	}
	writeJournal(t, path, crashed)

	var results []bitscale.BatchResult
	opts.Journal = openJournal(t, path)
	opts.OnResult = func(r bitscale.BatchResult) { results = append(results, r) }
	opts.Ordered = true
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, opts)
	require.NoError(t, err)

	assert.Equal(t, []int{0, 1, 2, 3, 4}, sentRows(t, srv), "only row 4, never sent before, is sent")
	require.Len(t, results, 5)
	for i, want := range []struct {
		outcome bitscale.Outcome
		resumed bool
	}{
		{bitscale.OutcomeUnknown, true},
		{bitscale.OutcomeCompleted, true}, // looked up by its run ID
		{bitscale.OutcomeCompleted, true}, // from the journal
		{bitscale.OutcomeUnknown, true},
		{bitscale.OutcomeCompleted, false},
	} {
		r := results[i]
		assert.Equal(t, want.outcome, r.Outcome, "row %d: %v", i, r.Err)
		assert.Equal(t, want.resumed, r.Resumed, "row %d", i)
	}
	assert.ErrorIs(t, results[0].Err, bitscale.ErrOutcomeUnknown)
	assert.Contains(t, results[0].Err.Error(), "row 0 was being sent when an earlier batch with this journal ended")
	for _, i := range []int{1, 2, 4} {
		assert.Equal(t, "lead.", results[i].Outputs["Enriched Email"].(string)[:5], "row %d has its outputs", i)
		assert.Equal(t, 12, results[i].Credits, "row %d", i)
	}
	assert.Equal(t, 4, report.Resumed)
	assert.Equal(t, 2, report.Unknown)
	assert.Equal(t, 36, report.Credits, "rows 1, 2 and 4 at 12 credits each")

	// Run again: everything is settled, nothing is sent, and the row looked
	// up is now recorded as ended.
	opts.Journal = openJournal(t, path)
	report, err = c.Grids.RunBatch(context.Background(), "grid_001", rows, opts)
	require.NoError(t, err)
	assert.Equal(t, 5, report.Resumed)
	assert.Equal(t, 5, len(srv.Runs()))
}

func TestRunBatchJournalLooksUpAcceptedRunsOnceWithAWebhook(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	accepted, _, err := c.Grids.RunAsync(context.Background(), "grid_001",
		&bitscale.RunRequest{Inputs: map[string]any{fakeserver.ColumnFullName: "Lead 0", fakeserver.ColumnCompany: "Acme Corp"}})
	require.NoError(t, err)
	_, err = c.Runs.PollUntilDone(context.Background(), "grid_001", accepted.ID, journalPoll)
	require.NoError(t, err)

	// Record row 0 as a batch does, then cut the journal after "accepted".
	j := openJournal(t, filepath.Join(t.TempDir(), "probe.journal"))
	_, err = c.Grids.RunBatch(context.Background(), "grid_001", leads(1), &bitscale.BatchOptions{Journal: j})
	require.NoError(t, err)
	e, _ := j.Last(0)
	writeJournal(t, path, []bitscale.JournalEntry{
		{Row: 0, Key: e.Key, State: bitscale.JournalSending},
		{Row: 0, Key: e.Key, State: bitscale.JournalAccepted, RunID: accepted.ID},
	})
	runsBefore := len(srv.Runs())

	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(1), &bitscale.BatchOptions{
		Async: true, WebhookURL: "https://hooks.example.com/bitscale", Journal: openJournal(t, path),
	})
	require.NoError(t, err)
	assert.Equal(t, runsBefore, len(srv.Runs()), "nothing is sent")
	require.Equal(t, bitscale.OutcomeCompleted, report.Results[0].Outcome, "%v", report.Results[0].Err)
	assert.Equal(t, accepted.ID, report.Results[0].Run.ID)
	assert.True(t, report.Results[0].Resumed)
}

func TestRunBatchRefusesAnotherBatchsJournal(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(2), &bitscale.BatchOptions{Journal: openJournal(t, path)})
	require.NoError(t, err)
	sent := len(srv.Runs())

	other := leads(2)
	other[1]["Company"] = "Another Corp"
	_, err = c.Grids.RunBatch(context.Background(), "grid_001", other, &bitscale.BatchOptions{Journal: openJournal(t, path)})
	require.ErrorIs(t, err, bitscale.ErrJournalMismatch)
	assert.Contains(t, err.Error(), "row 1 is not the row it recorded for grid grid_001")
	assert.Equal(t, sent, len(srv.Runs()), "nothing is sent")
}

func TestRunBatchResendsUnknownRowsOnlyWhenTold(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	// The first row's answer is lost after the fake ran it.
	srv.InjectFault(fakeserver.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: fakeserver.FaultReset, AfterHandling: true})
	rows := leads(2)
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Concurrency: 1, Journal: openJournal(t, path)})
	require.NoError(t, err)
	require.Equal(t, bitscale.OutcomeUnknown, report.Results[0].Outcome)

	report, err = c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Journal: openJournal(t, path)})
	require.NoError(t, err)
	assert.Equal(t, bitscale.OutcomeUnknown, report.Results[0].Outcome, "still unknown, and not sent")
	assert.ErrorIs(t, report.Results[0].Err, bitscale.ErrOutcomeUnknown)
	assert.Equal(t, []int{0, 1}, sentRows(t, srv))

	_, err = c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Journal: openJournal(t, path), Resend: []int{1}})
	var argErr *bitscale.ArgumentError
	require.ErrorAs(t, err, &argErr)
	assert.Equal(t, "bitscale: opts.Resend row 1 is recorded as completed, not unknown", err.Error())

	report, err = c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Journal: openJournal(t, path), Resend: []int{0}})
	require.NoError(t, err)
	assert.Equal(t, bitscale.OutcomeCompleted, report.Results[0].Outcome)
	assert.False(t, report.Results[0].Resumed)
	assert.Equal(t, []int{0, 0, 1}, sentRows(t, srv), "row 0 is sent again, on the caller's word")

	_, err = c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Resend: []int{0}})
	require.ErrorAs(t, err, &argErr)
}

// failingJournal refuses every entry.
type failingJournal struct{}

func (failingJournal) Last(int) (bitscale.JournalEntry, bool) { return bitscale.JournalEntry{}, false }
func (failingJournal) Record(bitscale.JournalEntry) error     { return errors.New("disk full") }

func TestRunBatchSendsNoRowItCannotRecord(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(3), &bitscale.BatchOptions{Journal: failingJournal{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "batch journal: disk full")
	assert.Empty(t, srv.Runs())
	assert.Equal(t, 3, report.Skipped)
}

func TestJournalFileDropsALineCutShortAndRefusesGarbage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "batch.journal")
	j, err := bitscale.OpenJournalFile(path)
	require.NoError(t, err)
	require.NoError(t, j.Record(bitscale.JournalEntry{Row: 3, Key: "k3", State: bitscale.JournalSending}))
	require.NoError(t, j.Record(bitscale.JournalEntry{Row: 3, Key: "k3", State: bitscale.JournalAccepted, RunID: "run_3"}))
	require.NoError(t, j.Close())

	// A crash while the next line was being written.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"row":3,"key":"k3","state":"ended","outc`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	j, err = bitscale.OpenJournalFile(path)
	require.NoError(t, err)
	e, ok := j.Last(3)
	require.True(t, ok)
	assert.Equal(t, bitscale.JournalAccepted, e.State, "the line cut short is dropped")
	assert.Equal(t, "run_3", e.RunID)
	assert.Equal(t, 1, j.Len())
	require.NoError(t, j.Record(bitscale.JournalEntry{Row: 4, Key: "k4", State: bitscale.JournalSending}))
	require.NoError(t, j.Close())
	assert.Len(t, journalLines(t, path), 3, "the next entry starts on a line of its own")

	require.NoError(t, os.WriteFile(path, []byte("{\"row\":1}\nnot json\n"), 0o644))
	_, err = bitscale.OpenJournalFile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1: not a journal entry")
}

func TestJournalFileIsOpenOnceAtATime(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "batch.journal")
	j, err := bitscale.OpenJournalFile(path)
	require.NoError(t, err)
	_, err = bitscale.OpenJournalFile(path)
	require.ErrorIs(t, err, bitscale.ErrJournalLocked, "two batches on one journal would each send the other's rows")
	assert.Contains(t, err.Error(), path)
	require.NoError(t, j.Close())
	j, err = bitscale.OpenJournalFile(path)
	require.NoError(t, err, "closing releases the journal")
	require.NoError(t, j.Close())
}

// A run's outputs may hold a number too large for a float64; the journal
// that recorded it must open again.
func TestJournalKeepsANumberTooLargeForAFloat(t *testing.T) {
	t.Parallel()
	grid := &bitscale.Grid{ID: "grid_001", Columns: []bitscale.Column{
		{ID: "c_in", Name: "In", Type: bitscale.ColumnText, IsInput: true},
		{ID: "c_out", Name: "Out", Type: bitscale.ColumnNumber, IsOutput: true},
	}}
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"run_id":"r1","status":"completed","outputs":{"c_out":1e400}}`)))
	path := filepath.Join(t.TempDir(), "batch.journal")
	rows := []map[string]any{{"In": "a"}}
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Grid: grid, Journal: openJournal(t, path)})
	require.NoError(t, err)

	report, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Grid: grid, Journal: openJournal(t, path)})
	require.NoError(t, err)
	assert.True(t, report.Results[0].Resumed)
	assert.Equal(t, json.Number("1e400"), report.Results[0].Outputs["Out"])
}

// A row that never reached the API did not run: it is recorded so, and
// sent when the batch is run again.
func TestRunBatchSendsAgainRowsThatNeverReachedTheAPI(t *testing.T) {
	t.Parallel()
	grid := &bitscale.Grid{ID: "grid_001", Columns: []bitscale.Column{
		{ID: "c_in", Name: "In", Type: bitscale.ColumnText, IsInput: true},
	}}
	down, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("http://127.0.0.1:1/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace), bitscale.WithMaxRetries(1), bitscale.WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "batch.journal")
	rows := []map[string]any{{"In": "a"}, {"In": "b"}}
	report, err := down.Grids.RunBatch(context.Background(), "grid_001", rows,
		&bitscale.BatchOptions{Grid: grid, Journal: openJournal(t, path), Concurrency: 1})
	require.Error(t, err, "a batch that cannot reach the API stops")
	assert.Equal(t, bitscale.OutcomeRefused, report.Results[0].Outcome, "%v", report.Results[0].Err)
	assert.Equal(t, bitscale.OutcomeSkipped, report.Results[1].Outcome)

	up, _ := newTestClient(t, serveJSON(200, []byte(`{"run_id":"r1","status":"completed","outputs":{}}`)))
	report, err = up.Grids.RunBatch(context.Background(), "grid_001", rows,
		&bitscale.BatchOptions{Grid: grid, Journal: openJournal(t, path)})
	require.NoError(t, err)
	assert.Equal(t, 2, report.Completed)
	assert.Zero(t, report.Resumed, "both rows were sent now")
}

func TestRunBatchJournalRecordsASyncRunAnsweredBeforeItEnded(t *testing.T) {
	t.Parallel()
	grid := &bitscale.Grid{ID: "grid_001", Columns: []bitscale.Column{
		{ID: "c_in", Name: "In", Type: bitscale.ColumnText, IsInput: true},
	}}
	rows := []map[string]any{{"In": "a"}}
	var posts atomic.Int32
	polled := make(chan struct{}, 1)
	ended := false // set once the first batch has stopped
	var mu sync.Mutex
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			posts.Add(1)
			w.Write([]byte(`{"mode":"sync","run_id":"run_7","status":"running"}`))
			return
		}
		mu.Lock()
		done := ended
		mu.Unlock()
		if done {
			w.Write([]byte(`{"run_id":"run_7","status":"completed","outputs":{"c_in":"a"}}`))
			return
		}
		select {
		case polled <- struct{}{}:
		default:
		}
		w.Write([]byte(`{"run_id":"run_7","status":"running"}`))
	}))
	path := filepath.Join(t.TempDir(), "batch.journal")

	// The batch ends while it follows the run, as a process killed then
	// would: the run's ID is in the journal all the same.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-polled; cancel() }()
	report, _ := c.Grids.RunBatch(ctx, "grid_001", rows, &bitscale.BatchOptions{Grid: grid, Journal: openJournal(t, path)})
	require.Len(t, report.Results, 1)
	states := []bitscale.JournalState{}
	for _, e := range journalLines(t, path) {
		states = append(states, e.State)
		if e.State == bitscale.JournalAccepted {
			assert.Equal(t, "run_7", e.RunID)
		}
	}
	assert.Equal(t, []bitscale.JournalState{bitscale.JournalSending, bitscale.JournalAccepted}, states[:2])

	mu.Lock()
	ended = true
	mu.Unlock()
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", rows,
		&bitscale.BatchOptions{Grid: grid, Journal: openJournal(t, path), Poll: journalPoll})
	require.NoError(t, err)
	assert.Equal(t, int32(1), posts.Load(), "the run is followed, not sent again")
	require.Equal(t, bitscale.OutcomeCompleted, report.Results[0].Outcome, "%v", report.Results[0].Err)
	assert.Equal(t, "run_7", report.Results[0].Run.ID)
	assert.True(t, report.Results[0].Resumed)
}

func TestRunBatchJournalRecordsTheWebhookRefBeforeSending(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	report, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(1), &bitscale.BatchOptions{
		Async: true, WebhookURL: "https://hooks.example.com/bitscale", Journal: openJournal(t, path),
	})
	require.NoError(t, err)
	sending := journalLines(t, path)[0]
	require.Equal(t, bitscale.JournalSending, sending.State)
	require.Len(t, sending.WebhookRef, 32)
	runs := srv.Runs()
	require.Len(t, runs, 1)
	u, err := url.Parse(runs[0].WebhookURL)
	require.NoError(t, err)
	assert.Equal(t, sending.WebhookRef, u.Query().Get(bitscale.WebhookRefParam), "the ref recorded is the one sent")
	assert.Equal(t, sending.WebhookRef, report.Results[0].Run.WebhookRef)

	// A batch that ended while the row was being sent left only that
	// entry: the rerun cannot know whether it ran, but gives the ref its
	// delivery would carry.
	caught := filepath.Join(t.TempDir(), "caught.journal")
	writeJournal(t, caught, []bitscale.JournalEntry{sending})
	report, _ = c.Grids.RunBatch(context.Background(), "grid_001", leads(1), &bitscale.BatchOptions{
		Async: true, WebhookURL: "https://hooks.example.com/bitscale", Journal: openJournal(t, caught),
	})
	assert.Len(t, srv.Runs(), 1, "nothing is sent again")
	require.Equal(t, bitscale.OutcomeUnknown, report.Results[0].Outcome)
	var oe *bitscale.OutcomeError
	require.ErrorAs(t, report.Results[0].Err, &oe)
	assert.Equal(t, sending.WebhookRef, oe.WebhookRef)

	// A row whose answer is lost while the batch runs ends unknown with
	// its ref, and a rerun replays it so.
	lost := filepath.Join(t.TempDir(), "lost.journal")
	srv.InjectFault(fakeserver.Fault{Method: "POST", Path: "grids/grid_001/run", Kind: fakeserver.FaultReset, AfterHandling: true})
	opts := &bitscale.BatchOptions{Async: true, WebhookURL: "https://hooks.example.com/bitscale", Journal: openJournal(t, lost)}
	report, _ = c.Grids.RunBatch(context.Background(), "grid_001", leads(2)[1:], opts)
	require.Equal(t, bitscale.OutcomeUnknown, report.Results[0].Outcome, "%v", report.Results[0].Err)
	require.ErrorAs(t, report.Results[0].Err, &oe)
	ref := oe.WebhookRef
	require.Len(t, ref, 32)
	u, err = url.Parse(srv.Runs()[1].WebhookURL)
	require.NoError(t, err)
	assert.Equal(t, ref, u.Query().Get(bitscale.WebhookRefParam))

	opts.Journal = openJournal(t, lost)
	report, _ = c.Grids.RunBatch(context.Background(), "grid_001", leads(2)[1:], opts)
	assert.Len(t, srv.Runs(), 2, "nothing is sent again")
	require.True(t, report.Results[0].Resumed)
	require.ErrorAs(t, report.Results[0].Err, &oe)
	assert.Equal(t, ref, oe.WebhookRef)
}
