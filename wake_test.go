package bitscale_test

// Waits woken by the webhook: a process that serves WebhookHandler with
// WithWebhookClient learns of a run's end from its delivery, and polls
// only as a fallback.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pollsOf counts the fake's GETs of a run.
func pollsOf(srv *bitscaletest.Server, runID string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/runs/"+runID) {
			n++
		}
	}
	return n
}

// wokenFake starts a fake whose runs take running, and a webhook handler
// that tells the fake's client of each delivery.
func wokenFake(t *testing.T, running time.Duration, opts ...bitscaletest.Option) (*bitscaletest.Server, *bitscale.Client, string) {
	t.Helper()
	srv, c := newWebhookFake(t, append([]bitscaletest.Option{bitscaletest.WithRunDurations(time.Millisecond, running)}, opts...)...)
	var calls hookCalls
	h, err := bitscale.NewWebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret()), bitscale.WithWebhookClient(c))
	require.NoError(t, err)
	return srv, c, serveHook(t, h)
}

func TestRunAndWaitEndsWhenItsWebhookArrives(t *testing.T) {
	t.Parallel()
	// Longer than the default poll interval (500ms): a wait that polled on
	// the usual schedule would poll again before the delivery.
	srv, c, hook := wokenFake(t, 800*time.Millisecond)
	var seen []bitscale.RunStatus
	run, err := c.Grids.RunAndWait(context.Background(), bitscaletest.SeedGridID, &bitscale.RunRequest{
		Inputs:     map[string]any{bitscaletest.ColumnFullName: "Jane Doe", bitscaletest.ColumnCompany: "Acme Corp"},
		WebhookURL: hook,
	}, &bitscale.PollOptions{OnUpdate: func(r *bitscale.Run) { seen = append(seen, r.Status) }})
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	assert.Equal(t, "jane.doe@acmecorp.com", run.Outputs[bitscaletest.ColumnEnrichedEmail])
	// The fallback poll comes after WebhookPollInterval (10s), long after
	// the 800ms run: only the first, immediate poll can have been made.
	assert.LessOrEqual(t, pollsOf(srv, run.ID), 1, "polls of the run")
	assert.Equal(t, bitscale.RunCompleted, seen[len(seen)-1], "OnUpdate hears of the end")
}

func TestPollUntilDoneTakesADeliveryThatCameFirst(t *testing.T) {
	t.Parallel()
	srv, c, hook := wokenFake(t, time.Millisecond, bitscaletest.WithEnricher(
		func(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
			return nil, &bitscaletest.RunError{Code: "ENRICHMENT_FAILED", Message: "no such person"}
		}))
	accepted := startHookRun(t, c, hook)
	awaitDeliveries(t, srv, accepted.ID)

	run, err := c.Runs.PollUntilDone(context.Background(), bitscaletest.SeedGridID, accepted.ID, nil)
	require.ErrorIs(t, err, bitscale.ErrRunFailed)
	assert.Contains(t, err.Error(), "no such person")
	assert.Equal(t, bitscale.RunFailed, run.Status)
	assert.Zero(t, pollsOf(srv, accepted.ID), "the run was delivered before the wait began")
}

// A run sent without a webhook URL is polled as usual, even by a client
// that hears of deliveries.
func TestRunsWithoutAWebhookArePolledAsBefore(t *testing.T) {
	t.Parallel()
	// The run stays running until a poll has seen it not done yet.
	hold := newRunHold()
	hold.hold()
	srv, c, _ := wokenFake(t, time.Millisecond, bitscaletest.WithEnricher(hold.enricher))
	run, err := c.Grids.RunAndWait(context.Background(), bitscaletest.SeedGridID, &bitscale.RunRequest{
		Inputs: map[string]any{bitscaletest.ColumnFullName: "Jane Doe"},
	}, &bitscale.PollOptions{Interval: 5 * time.Millisecond, Multiplier: 1, OnUpdate: func(r *bitscale.Run) {
		if !r.Status.Done() {
			hold.release()
		}
	}})
	require.NoError(t, err)
	assert.Greater(t, pollsOf(srv, run.ID), 1)
}

func TestWithWebhookClientRefusesNil(t *testing.T) {
	t.Parallel()
	_, err := bitscale.NewWebhookHandler(func(context.Context, *bitscale.Run) error { return nil },
		bitscale.WithWebhookSecret("whsec_x"), bitscale.WithWebhookClient(nil))
	require.EqualError(t, err, "bitscale: WithWebhookClient: nil client")
}
