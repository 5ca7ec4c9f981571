package bitscale_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endedEntry is the entry of a row that completed, with outputs long
// enough that its line does not fit in one read.
func endedEntry(row int) bitscale.JournalEntry {
	return bitscale.JournalEntry{Row: row, Key: fmt.Sprintf("k%d", row), State: bitscale.JournalEnded,
		Outcome: bitscale.OutcomeCompleted, Credits: 12, RunID: fmt.Sprintf("run_%d", row),
		Run: &bitscale.Run{ID: fmt.Sprintf("run_%d", row), Status: bitscale.RunCompleted,
			Outputs: map[string]any{"c_out": fmt.Sprintf("%d %0*d", row, 3000, 0)}}}
}

// The journal keeps where each entry is, not the entry: what Last returns
// is read back from the file, after a reopen as before, for rows numbered
// from 0 up as a batch numbers them and for rows far from the others.
func TestJournalFileReadsEachRowsLastEntryBack(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "batch.journal")
	rows := []int{-1, 1 << 40, 100_000, 9000}
	for i := range 100 {
		rows = append(rows, i)
	}
	j := openJournal(t, path)
	for _, row := range rows {
		require.NoError(t, j.Record(bitscale.JournalEntry{Row: row, Key: fmt.Sprintf("k%d", row), State: bitscale.JournalSending}))
	}
	for _, row := range rows[:len(rows)/2] {
		require.NoError(t, j.Record(endedEntry(row)))
	}
	check := func(j *bitscale.JournalFile) {
		t.Helper()
		assert.Equal(t, len(rows), j.Len())
		for k, row := range rows {
			e, ok := j.Last(row)
			require.True(t, ok, "row %d", row)
			if k < len(rows)/2 {
				assert.Equal(t, endedEntry(row).Run.Outputs, e.Run.Outputs, "row %d", row)
				assert.Equal(t, bitscale.JournalEnded, e.State)
			} else {
				assert.Equal(t, bitscale.JournalSending, e.State, "row %d", row)
				assert.Nil(t, e.Run)
			}
			assert.Equal(t, fmt.Sprintf("k%d", row), e.Key)
		}
		_, ok := j.Last(5000) // on a page of its own, none of whose rows was recorded
		assert.False(t, ok, "a row never recorded")
	}
	check(j)
	check(openJournal(t, path))
}

// Entries recorded at once by many goroutines are each written whole, on a
// line of its own, and read back.
func TestJournalFileRecordsFromManyGoroutines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "batch.journal")
	j := openJournal(t, path)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				assert.NoError(t, j.Record(endedEntry(g*10+i)))
			}
		}()
	}
	wg.Wait()
	assert.Len(t, journalLines(t, path), 80)
	for row := range 80 {
		e, ok := j.Last(row)
		require.True(t, ok)
		assert.Equal(t, fmt.Sprintf("run_%d", row), e.RunID)
	}
}

// A row whose entry cannot be read back may have run: the batch sends
// nothing, and says why.
func TestRunBatchSendsNothingWhenTheJournalCannotBeRead(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	path := filepath.Join(t.TempDir(), "batch.journal")
	j, err := bitscale.OpenJournalFile(path)
	require.NoError(t, err)
	require.NoError(t, j.Record(bitscale.JournalEntry{Row: 0, Key: "k0", State: bitscale.JournalSending}))
	require.NoError(t, j.Close()) // reads fail from now on

	e, ok := j.Last(0)
	require.True(t, ok, "the row was recorded")
	assert.Empty(t, e.Key)
	assert.Contains(t, e.Error, "reading journal")

	rows := leads(1)
	_, err = c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{Journal: j})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "row 0: bitscale: reading journal")
	assert.Empty(t, srv.Runs())
}
