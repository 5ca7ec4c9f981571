package bitscale_test

import (
	"context"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A run answer that is not a run is never taken for one that ran.
func TestRunAnswersThatAreNotRuns(t *testing.T) {
	t.Parallel()
	req := &bitscale.RunRequest{Inputs: map[string]any{"c_in": "x"}}

	// A failed envelope: its error would decode into Run.Error.
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"success":false,"error":{"code":"INSUFFICIENT_CREDITS","message":"no credits"}}`)))
	run, _, err := c.Grids.Run(context.Background(), "grid_001", req)
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits, "got run %+v", run)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "no credits", apiErr.Message)

	// A body with no status: it may have run, and says nothing of how.
	for _, body := range []string{`{"outputs":{"c_out":"y"}}`, `{"success":true,"data":{}}`, `{}`} {
		c, _ := newTestClient(t, serveJSON(200, []byte(body)))
		_, _, err := c.Grids.Run(context.Background(), "grid_001", req)
		require.ErrorIs(t, err, bitscale.ErrOutcomeUnknown, body)
		var de *bitscale.DecodeError
		require.ErrorAs(t, err, &de, body)
		assert.Contains(t, err.Error(), "no run status", body)
	}
}

func TestPollingARunAnsweredWithNoStatusEnds(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"run_id":"run_1","outputs":{}}`)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Runs.PollUntilDone(ctx, "grid_001", "run_1", &bitscale.PollOptions{Interval: time.Millisecond})
	require.NoError(t, ctx.Err(), "it polled on")
	var de *bitscale.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "no run status")
}
