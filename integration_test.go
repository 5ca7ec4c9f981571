package bitscale_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The integration suite drives every operation and every documented error
// code through the fake server, which behaves as the API reference says.

func TestIntegrationEveryOperation(t *testing.T) {
	t.Parallel()
	hold := newRunHold()
	srv, c := fakeAndClient(t, fakeserver.WithRunDurations(time.Millisecond, time.Millisecond), fakeserver.WithEnricher(hold.fakeEnricher))
	ctx := context.Background()

	me, resp, err := c.Users.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, "usr_abc123", me.ID)
	assert.Equal(t, "jane.doe@company.com", me.Email)
	assert.Equal(t, 1000, resp.RateLimit.Limit, "the fake reports its rate limit")
	assert.Equal(t, 999, resp.RateLimit.Remaining)

	wss, _, err := c.Workspaces.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, wss.Total)
	assert.Equal(t, "ws_abc123", wss.Workspaces[0].ID)

	ws, _, err := c.Workspaces.Get(ctx, "ws_abc123")
	require.NoError(t, err)
	assert.Equal(t, 65800, ws.Credits.Remaining)
	assert.Equal(t, "Enterprise", ws.Plan.Name)

	grids, _, err := c.Grids.List(ctx, "ws_abc123", &bitscale.GridListOptions{Search: "LEAD"})
	require.NoError(t, err)
	require.Equal(t, 1, grids.Total)
	assert.Equal(t, "grid_001", grids.Grids[0].ID)
	none, _, err := c.Grids.List(ctx, "ws_abc123", &bitscale.GridListOptions{Search: "nothing like it"})
	require.NoError(t, err)
	assert.Zero(t, none.Total)
	assert.Empty(t, none.Grids)

	grid, _, err := c.Grids.Get(ctx, "grid_001")
	require.NoError(t, err)
	assert.Len(t, grid.Columns, 4)
	assert.Equal(t, bitscale.ColumnAIEnrichment, grid.Columns[2].Type)

	run, _, err := c.Grids.Run(ctx, "grid_001", janeDoe())
	require.NoError(t, err)
	assert.Equal(t, referenceOutputs, run.Outputs, "the reference's own example")
	assert.Equal(t, &bitscale.Credits{Consumed: 12, Remaining: 65788}, run.Credits)

	hold.hold() // until the poller has seen the run running
	accepted, _, err := c.Grids.RunAsync(ctx, "grid_001", janeDoe())
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunQueued, accepted.Status)
	assert.Equal(t, srv.URL()+"grids/grid_001/runs/"+accepted.ID, accepted.PollURL)

	var stages []bitscale.RunStatus
	done, err := c.Runs.PollUntilDone(ctx, "grid_001", accepted.ID, &bitscale.PollOptions{
		Interval: 2 * time.Millisecond,
		OnUpdate: func(r *bitscale.Run) {
			stages = append(stages, r.Status)
			if r.Status == bitscale.RunRunning {
				hold.release()
			}
		},
	})
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunCompleted, stages[len(stages)-1])
	assert.Contains(t, stages, bitscale.RunRunning)
	assert.Equal(t, referenceOutputs, done.Outputs)
	require.NotNil(t, done.StartedAt)
	require.NotNil(t, done.CompletedAt)
	assert.False(t, done.CompletedAt.Before(*done.StartedAt))

	got, _, err := c.Runs.Get(ctx, "grid_001", accepted.ID)
	require.NoError(t, err)
	assert.Equal(t, done, got)

	waited, err := c.Grids.RunAndWait(ctx, "grid_001", janeDoe(), &bitscale.PollOptions{Interval: 2 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunCompleted, waited.Status)
	assert.Len(t, srv.Runs(), 3)
}

func TestIntegrationOutputColumnsFilter(t *testing.T) {
	t.Parallel()
	_, c := fakeAndClient(t)
	req := janeDoe()
	req.OutputColumns = []string{fakeserver.ColumnEnrichedEmail}
	run, _, err := c.Grids.Run(context.Background(), "grid_001", req)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{fakeserver.ColumnEnrichedEmail: "jane.doe@acmecorp.com"}, run.Outputs)
}

func TestIntegrationEveryDocumentedErrorCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name   string
		setup  func(*fakeserver.Server)
		call   func(*bitscale.Client) error
		status int
		code   string
		target error
	}{
		{"INVALID_API_KEY", nil, func(c *bitscale.Client) error {
			_, _, err := c.Users.Me(ctx)
			return err
		}, 401, bitscale.CodeInvalidAPIKey, bitscale.ErrInvalidAPIKey},
		{"WORKSPACE_NOT_FOUND", nil, func(c *bitscale.Client) error {
			_, _, err := c.Workspaces.Get(ctx, "ws_nope")
			return err
		}, 404, bitscale.CodeWorkspaceNotFound, bitscale.ErrWorkspaceNotFound},
		{"WORKSPACE_NOT_FOUND in the header", nil, func(c *bitscale.Client) error {
			_, _, err := c.ForWorkspace("ws_nope").Grids.Get(ctx, "grid_001")
			return err
		}, 404, bitscale.CodeWorkspaceNotFound, bitscale.ErrWorkspaceNotFound},
		{"GRID_NOT_FOUND", nil, func(c *bitscale.Client) error {
			_, _, err := c.Grids.Get(ctx, "grid_nope")
			return err
		}, 404, bitscale.CodeGridNotFound, bitscale.ErrGridNotFound},
		{"GRID_NOT_FOUND in another workspace", nil, func(c *bitscale.Client) error {
			_, _, err := c.ForWorkspace("ws_def456").Grids.Get(ctx, "grid_001")
			return err
		}, 404, bitscale.CodeGridNotFound, bitscale.ErrGridNotFound},
		{"GRID_NOT_FOUND for a traversal", nil, func(c *bitscale.Client) error {
			_, _, err := c.Grids.Get(ctx, "../user/me")
			return err
		}, 404, bitscale.CodeGridNotFound, bitscale.ErrGridNotFound},
		{"MISSING_REQUIRED_FIELD", nil, func(c *bitscale.Client) error {
			_, _, err := c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{fakeserver.ColumnCompany: "Acme"}})
			return err
		}, 400, bitscale.CodeMissingRequiredField, bitscale.ErrMissingRequiredField},
		{"INVALID_COLUMN_TYPE", nil, func(c *bitscale.Client) error {
			_, _, err := c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{fakeserver.ColumnFullName: 42}})
			return err
		}, 422, bitscale.CodeInvalidColumnType, bitscale.ErrInvalidColumnType},
		{"RUN_LIMIT_EXCEEDED", func(s *fakeserver.Server) { s.SetRunQuota(fakeserver.SeedWorkspaceID, 0) }, func(c *bitscale.Client) error {
			_, _, err := c.Grids.Run(ctx, "grid_001", janeDoe())
			return err
		}, 429, bitscale.CodeRunLimitExceeded, bitscale.ErrRunLimitExceeded},
		{"INSUFFICIENT_CREDITS", func(s *fakeserver.Server) { s.SetCredits(fakeserver.SeedWorkspaceID, 5) }, func(c *bitscale.Client) error {
			_, _, err := c.Grids.Run(ctx, "grid_001", janeDoe())
			return err
		}, 403, bitscale.CodeInsufficientCredits, bitscale.ErrInsufficientCredits},
		{"WEBHOOK_DELIVERY_FAILED", nil, func(c *bitscale.Client) error {
			// The SDK refuses such a URL itself; the escape hatch shows what
			// the API says to it.
			req, err := c.NewRequest(ctx, http.MethodPost, "grids/grid_001/run", map[string]any{
				"mode": "async", "inputs": janeDoe().Inputs, "webhook_url": "ftp://hooks.example.com/x",
			})
			require.NoError(t, err)
			_, err = c.Do(req, nil)
			return err
		}, 422, bitscale.CodeWebhookDeliveryFailed, bitscale.ErrWebhookDeliveryFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := fakeAndClient(t)
			if tc.setup != nil {
				tc.setup(srv)
			}
			if tc.code == bitscale.CodeInvalidAPIKey {
				var err error
				c, err = bitscale.NewClient("bsk_wrong_key", bitscale.WithBaseURL(srv.URL()))
				require.NoError(t, err)
				defer c.CloseIdleConnections()
			}
			err := tc.call(c)
			var apiErr *bitscale.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.NotEmpty(t, apiErr.Message)
			assert.True(t, errors.Is(err, tc.target))
			assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown, "a 4xx says the request did not take effect")
			assert.Empty(t, srv.Runs(), "no run was made")
		})
	}
}

func TestIntegrationFailedRunBothErrorShapes(t *testing.T) {
	t.Parallel()
	fail := func(context.Context, fakeserver.EnrichRequest) (map[string]any, error) {
		return nil, errors.New("the agent found no company")
	}
	for name, opts := range map[string][]fakeserver.Option{
		"object": {fakeserver.WithEnricher(fail)},
		"string": {fakeserver.WithEnricher(fail), fakeserver.WithRunErrorString()},
	} {
		t.Run(name, func(t *testing.T) {
			_, c := fakeAndClient(t, append(opts, fakeserver.WithRunDurations(time.Millisecond, 5*time.Millisecond))...)
			run, _, err := c.Grids.Run(context.Background(), "grid_001", janeDoe())
			require.ErrorIs(t, err, bitscale.ErrRunFailed)
			assert.Equal(t, bitscale.RunFailed, run.Status)
			assert.Equal(t, "the agent found no company", run.Error.Message)

			run, err = c.Grids.RunAndWait(context.Background(), "grid_001", janeDoe(), &bitscale.PollOptions{Interval: 2 * time.Millisecond})
			require.ErrorIs(t, err, bitscale.ErrRunFailed)
			assert.Equal(t, "the agent found no company", run.Error.Message)
			assert.Nil(t, run.Credits, "a failed run costs nothing")
		})
	}
}

func TestIntegrationRateLimitHeadersAnd429(t *testing.T) {
	t.Parallel()
	// The fake's clock stands still at the start of a window that begins
	// 20 to 40 s from now: the reset it reports is that far away whenever
	// the test runs, within the client's maximum wait (a minute) and past
	// the deadline given below.
	const window = 20 * time.Second
	secs := int64(window / time.Second)
	start := time.Unix((time.Now().Unix()/secs+1)*secs, 0)
	srv := fakeserver.New(fakeserver.WithRateLimit(3, window), fakeserver.WithClock(func() time.Time { return start }))
	defer srv.Close()
	c, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()), bitscale.WithRetryWait(10*time.Millisecond, time.Minute))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	// The gate is off so that the 429 reaches the wire, and no retry.
	c2, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()), bitscale.WithRateLimitGate(false), bitscale.WithMaxRetries(0))
	require.NoError(t, err)
	defer c2.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		_, resp, err := c2.Users.Me(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2-i, resp.RateLimit.Remaining)
		assert.Equal(t, 3, resp.RateLimit.Limit)
	}
	_, _, err = c2.Users.Me(context.Background())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 429, apiErr.StatusCode)
	assert.Positive(t, apiErr.RetryAfter)
	assert.LessOrEqual(t, apiErr.RetryAfter, window)
	assert.Zero(t, apiErr.RateLimit.Remaining)

	// With the gate on, a call that would have to wait past its deadline
	// fails at once instead of being sent to be refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.Users.Me(ctx) // learns the window is spent
	if err == nil {
		_, _, err = c.Users.Me(ctx)
	}
	require.ErrorIs(t, err, bitscale.ErrRateLimited)
}
