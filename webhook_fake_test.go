package bitscale_test

// Integration tests of the webhook paths: the fake BitScale server runs a
// grid, signs its result and delivers it, retrying as BitScale does, to a
// WebhookHandler served over HTTP.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookWait bounds every wait for the fake: generous, for a loaded machine.
const hookWait = 10 * time.Second

// hookPoll polls the fake's few-millisecond runs.
var hookPoll = &bitscale.PollOptions{Interval: 2 * time.Millisecond, MaxInterval: 20 * time.Millisecond}

// referenceWebhook is the webhook payload example of the API reference.
const referenceWebhook = `{
  "run_id": "run_xyz789",
  "grid_id": "grid_001",
  "status": "completed",
  "outputs": {
    "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
    "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
    "a1b2c3d4-e5f6-7890-abcd-ef1234567890": "jane.doe@acmecorp.com",
    "b2c3d4e5-f6a7-8901-bcde-f12345678901": "https://linkedin.com/in/janedoe"
  },
  "credits": {
    "consumed": 12,
    "remaining": 65788
  },
  "started_at": "2024-04-15T12:00:00Z",
  "completed_at": "2024-04-15T12:00:04Z"
}`

// newWebhookFake starts a fake that delivers to local URLs, whose runs and
// webhook retries take a few milliseconds, then opts, and a client of it. Both close when the test
// ends.
func newWebhookFake(t *testing.T, opts ...bitscaletest.Option) (*bitscaletest.Server, *bitscale.Client) {
	t.Helper()
	base := []bitscaletest.Option{
		bitscaletest.WithLocalWebhooks(), // deliveries go to httptest servers
		bitscaletest.WithRunDurations(2*time.Millisecond, 2*time.Millisecond),
		bitscaletest.WithWebhookBackoff(5 * time.Millisecond),
	}
	srv := bitscaletest.NewServer(append(base, opts...)...)
	t.Cleanup(srv.Close)
	c := srv.Client()
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

// serveHook serves h until the test ends and returns its webhook URL.
func serveHook(t *testing.T, h http.Handler) string {
	t.Helper()
	hook := httptest.NewServer(h)
	t.Cleanup(hook.Close)
	return hook.URL + "/webhooks/bitscale"
}

// startHookRun starts an async run of the seeded grid on the reference's
// example row, to be delivered to webhookURL.
func startHookRun(t *testing.T, c *bitscale.Client, webhookURL string) *bitscale.Run {
	t.Helper()
	run, _, err := c.Grids.RunAsync(context.Background(), bitscaletest.SeedGridID, &bitscale.RunRequest{
		Inputs: map[string]any{
			bitscaletest.ColumnFullName: "Jane Doe",
			bitscaletest.ColumnCompany:  "Acme Corp",
		},
		WebhookURL: webhookURL,
	})
	require.NoError(t, err)
	require.NotEmpty(t, run.ID)
	return run
}

// awaitDeliveries waits until the fake is done delivering a run, because an
// attempt was acknowledged or none is left, and returns its attempts.
func awaitDeliveries(t *testing.T, srv *bitscaletest.Server, runID string) []bitscaletest.Delivery {
	t.Helper()
	var ds []bitscaletest.Delivery
	done := func() bool {
		ds = ds[:0]
		for _, d := range srv.Deliveries() {
			if d.RunID == runID {
				ds = append(ds, d)
			}
		}
		n := len(ds)
		return n == 4 || n > 0 && ds[n-1].Err == nil && ds[n-1].StatusCode/100 == 2
	}
	require.Eventually(t, done, hookWait, 5*time.Millisecond, "the fake did not finish delivering run %s", runID)
	return slices.Clone(ds)
}

// attemptStatuses returns the receiver's status of each attempt.
func attemptStatuses(ds []bitscaletest.Delivery) []int {
	codes := make([]int, len(ds))
	for i, d := range ds {
		codes[i] = d.StatusCode
	}
	return codes
}

// redeliver sends a delivery straight to h, as BitScale sends one, and
// returns the status h answered.
func redeliver(h http.Handler, body []byte, sig, runID string) int {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/bitscale", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(bitscale.SignatureHeader, sig)
	r.Header.Set(bitscale.RunIDHeader, runID)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// hookCalls records the calls of a webhook function. Its first failFirst
// calls fail.
type hookCalls struct {
	failFirst int

	mu      sync.Mutex
	runs    []*bitscale.Run // every call's run
	handled []string        // the IDs of the runs of the calls that succeeded
}

func (h *hookCalls) handle(_ context.Context, run *bitscale.Run) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, run)
	if len(h.runs) <= h.failFirst {
		return errors.New("the database is down")
	}
	h.handled = append(h.handled, run.ID)
	return nil
}

func (h *hookCalls) calls() []*bitscale.Run {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.runs)
}

func (h *hookCalls) handledIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.handled)
}

func TestFakeDeliversCompletedRunToWebhookHandler(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	var calls hookCalls
	hookURL := serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret())))

	accepted := startHookRun(t, c, hookURL)
	ds := awaitDeliveries(t, srv, accepted.ID)

	require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds), "one attempt, acknowledged")
	d := ds[0]
	assert.Equal(t, hookURL+"?bitscale_ref="+accepted.WebhookRef, d.URL, "the URL given, with the run's ref")
	assert.Equal(t, 1, d.Attempt)
	assert.NoError(t, d.Err)
	assert.Equal(t, bitscale.SignWebhookPayload(d.Body, srv.WebhookSecret()), d.Signature)

	runs := calls.calls()
	require.Len(t, runs, 1, "the webhook function is called once")
	got := runs[0]
	polled, _, err := c.Runs.Get(context.Background(), bitscaletest.SeedGridID, accepted.ID)
	require.NoError(t, err)

	assert.Equal(t, accepted.ID, got.ID)
	assert.Equal(t, accepted.WebhookRef, got.WebhookRef, "the delivery carries the ref RunAsync returned")
	assert.Equal(t, bitscaletest.SeedGridID, got.GridID)
	assert.Equal(t, bitscale.RunCompleted, got.Status)
	assert.Equal(t, polled.Outputs, got.Outputs, "the webhook carries what polling returns")
	assert.Equal(t, "jane.doe@acmecorp.com", got.Outputs[bitscaletest.ColumnEnrichedEmail])
	assert.Equal(t, &bitscale.Credits{Consumed: 12, Remaining: 65788}, got.Credits)
	assert.Equal(t, polled.Credits, got.Credits)
	assert.Equal(t, polled.StartedAt, got.StartedAt)
	assert.Equal(t, polled.CompletedAt, got.CompletedAt)
	assert.Nil(t, got.Error)
}

func TestFakeDeliversFailedRunWithItsError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      []bitscaletest.Option
		wantError bitscale.RunError
		wantJSON  string // the shape of "error" on the wire
	}{
		{"object", nil, bitscale.RunError{Code: "LOOKUP_FAILED", Message: "no such company"},
			`{"code":"LOOKUP_FAILED","message":"no such company"}`},
		{"string", []bitscaletest.Option{bitscaletest.WithRunErrorString()}, bitscale.RunError{Message: "no such company"},
			`"no such company"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fail := bitscaletest.WithEnricher(func(context.Context, bitscaletest.EnrichRequest) (map[string]any, error) {
				return nil, &bitscaletest.RunError{Code: "LOOKUP_FAILED", Message: "no such company"}
			})
			srv, c := newWebhookFake(t, append(tc.opts, fail)...)
			var calls hookCalls
			hookURL := serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret())))

			accepted := startHookRun(t, c, hookURL)
			ds := awaitDeliveries(t, srv, accepted.ID)
			require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds), "a failed run is delivered too")
			var wire struct{ Error json.RawMessage }
			require.NoError(t, json.Unmarshal(ds[0].Body, &wire))
			assert.JSONEq(t, tc.wantJSON, string(wire.Error))

			runs := calls.calls()
			require.Len(t, runs, 1)
			got := runs[0]
			assert.Equal(t, accepted.ID, got.ID)
			assert.Equal(t, bitscale.RunFailed, got.Status)
			require.NotNil(t, got.Error)
			assert.Equal(t, tc.wantError, *got.Error)
			assert.Empty(t, got.Outputs)
			assert.Nil(t, got.Credits, "a failed run costs nothing")

			polled, err := c.Runs.PollUntilDone(context.Background(), bitscaletest.SeedGridID, accepted.ID, hookPoll)
			require.ErrorIs(t, err, bitscale.ErrRunFailed)
			var runErr *bitscale.RunError
			require.ErrorAs(t, err, &runErr)
			assert.Equal(t, tc.wantError, *runErr)
			require.NotNil(t, polled)
			assert.Equal(t, got.Error, polled.Error, "polling and the webhook agree on why")
		})
	}
}

func TestFakeRedeliversAfterHandlerFailure(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	calls := hookCalls{failFirst: 1}
	hookURL := serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret())))

	accepted := startHookRun(t, c, hookURL)
	ds := awaitDeliveries(t, srv, accepted.ID)

	require.Equal(t, []int{http.StatusInternalServerError, http.StatusNoContent}, attemptStatuses(ds),
		"the 500 makes the fake retry; the 204 ends the delivery")
	assert.Equal(t, []int{1, 2}, []int{ds[0].Attempt, ds[1].Attempt})
	assert.Equal(t, ds[0].Body, ds[1].Body, "a retry sends the same payload")
	assert.Equal(t, ds[0].Signature, ds[1].Signature)

	runs := calls.calls()
	require.Len(t, runs, 2, "the webhook function saw the run on each attempt")
	assert.Equal(t, accepted.ID, runs[0].ID)
	assert.Equal(t, accepted.ID, runs[1].ID)
	assert.Equal(t, []string{accepted.ID}, calls.handledIDs(), "handled once in the end")
}

func TestWebhookHandlerDropsReplayedFakeDelivery(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	var calls hookCalls
	h := bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret()))
	accepted := startHookRun(t, c, serveHook(t, h))
	ds := awaitDeliveries(t, srv, accepted.ID)
	require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds))
	require.Len(t, calls.calls(), 1)

	// The exact bytes and signature BitScale sent, as an attacker who
	// recorded them, or BitScale retrying a lost acknowledgement, would send.
	code := redeliver(h, ds[0].Body, ds[0].Signature, accepted.ID)
	assert.Equal(t, http.StatusNoContent, code, "a repeat is acknowledged, so that BitScale stops")
	assert.Len(t, calls.calls(), 1, "and not handled again")
}

func TestWebhookHandlerRunsSlowDeliveryOnce(t *testing.T) {
	t.Parallel()
	// The fake gives up on an attempt after a second, which only the
	// first, held below, takes; the retries come 20ms, 40ms and 80ms later.
	// A shorter timeout could time out the retries too on a starved machine.
	srv, c := newWebhookFake(t,
		bitscaletest.WithWebhookTimeout(time.Second),
		bitscaletest.WithWebhookBackoff(20*time.Millisecond))

	var arrived, calls atomic.Int32
	retried := make(chan struct{}) // closed once the first retry is answered
	slow := func(context.Context, *bitscale.Run) error {
		if calls.Add(1) == 1 {
			// Slow work that outlives the fake's patience and does not
			// watch the request's context. It ends only after the first
			// retry has been answered, so that the retry surely finds the
			// run still being handled.
			select {
			case <-retried:
			case <-time.After(hookWait):
			}
		}
		return nil
	}
	h := bitscale.WebhookHandler(slow, bitscale.WithWebhookSecret(srv.WebhookSecret()))
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := arrived.Add(1)
		h.ServeHTTP(w, r)
		if n == 2 {
			close(retried)
		}
	})

	accepted := startHookRun(t, c, serveHook(t, counting))
	ds := awaitDeliveries(t, srv, accepted.ID)

	require.GreaterOrEqual(t, len(ds), 2, "the fake retried: %v", attemptStatuses(ds))
	assert.Equal(t, 0, ds[0].StatusCode, "the first attempt timed out")
	assert.Error(t, ds[0].Err)
	last := ds[len(ds)-1]
	assert.Equal(t, http.StatusNoContent, last.StatusCode, "a retry was acknowledged: %v", attemptStatuses(ds))
	for _, d := range ds[1 : len(ds)-1] {
		// A retry that comes while the first is being handled is told to
		// come back later (or, on a slow machine, timed out too).
		assert.Contains(t, []int{http.StatusConflict, 0}, d.StatusCode, "attempt %d", d.Attempt)
	}
	assert.GreaterOrEqual(t, arrived.Load(), int32(2), "the handler received the run more than once")
	assert.Equal(t, int32(1), calls.Load(), "the webhook function ran once")
}

func TestWebhookHandlerRefusesTamperedFakeDelivery(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	var calls hookCalls
	secret := srv.WebhookSecret()
	accepted := startHookRun(t, c, serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(secret))))
	ds := awaitDeliveries(t, srv, accepted.ID)
	require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds))
	body, sig := ds[0].Body, ds[0].Signature
	require.Contains(t, string(body), `"completed"`)

	flipped := bytes.Clone(body)
	flipped[len(flipped)/2] ^= 0x01

	for _, tc := range []struct {
		name      string
		body      []byte
		sig       string
		wantCode  int
		wantCalls int
	}{
		{"status changed", bytes.Replace(body, []byte(`"completed"`), []byte(`"failed"`), 1), sig, http.StatusUnauthorized, 0},
		{"one bit flipped", flipped, sig, http.StatusUnauthorized, 0},
		{"wrong secret", body, bitscale.SignWebhookPayload(body, "whsec_guessed"), http.StatusUnauthorized, 0},
		{"no signature", body, "", http.StatusUnauthorized, 0},
		{"genuine", body, sig, http.StatusNoContent, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A handler that has not seen the run, so that a delivery it
			// accepted would reach the webhook function.
			var fresh hookCalls
			h := bitscale.WebhookHandler(fresh.handle, bitscale.WithWebhookSecret(secret))
			assert.Equal(t, tc.wantCode, redeliver(h, tc.body, tc.sig, accepted.ID))
			assert.Len(t, fresh.calls(), tc.wantCalls)
		})
	}
}

func TestWebhookHandlerAcceptsRotatedSecretFromFake(t *testing.T) {
	t.Parallel()
	const oldSecret, newSecret = "whsec_old_2f6c", "whsec_new_8a1d"
	srv, c := newWebhookFake(t, bitscaletest.WithWebhookSecret(newSecret))
	var calls hookCalls
	h := bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(oldSecret, newSecret))

	accepted := startHookRun(t, c, serveHook(t, h))
	ds := awaitDeliveries(t, srv, accepted.ID)

	require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds), "signed with the new secret, accepted at once")
	require.Len(t, calls.calls(), 1)
	assert.Equal(t, accepted.ID, calls.calls()[0].ID)

	// The same delivery to a receiver that knows only the old secret.
	var stale hookCalls
	oldOnly := bitscale.WebhookHandler(stale.handle, bitscale.WithWebhookSecret(oldSecret))
	assert.Equal(t, http.StatusUnauthorized, redeliver(oldOnly, ds[0].Body, ds[0].Signature, accepted.ID))
	assert.Empty(t, stale.calls())
}

func TestParseWebhookOnFakeDelivery(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	type capture struct {
		run    *bitscale.Run
		err    error
		header http.Header
		body   []byte
	}
	captured := make(chan capture, 4)
	hookURL := serveHook(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		run, err := bitscale.ParseWebhook(r, srv.WebhookSecret())
		captured <- capture{run, err, r.Header.Clone(), body}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))

	accepted := startHookRun(t, c, hookURL)
	ds := awaitDeliveries(t, srv, accepted.ID)
	require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds))
	got := <-captured
	require.NoError(t, got.err)

	assert.Equal(t, "application/json", got.header.Get("Content-Type"))
	assert.Equal(t, accepted.ID, got.header.Get(bitscale.RunIDHeader))
	assert.Equal(t, ds[0].Signature, got.header.Get(bitscale.SignatureHeader))

	// Every field of the reference's example payload is on the wire...
	var want, sent map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(referenceWebhook), &want))
	require.NoError(t, json.Unmarshal(got.body, &sent))
	for field := range want {
		assert.Contains(t, sent, field)
	}

	// ...and decoded. The fake enriches the reference's row as the
	// reference's example does, so all but the IDs and times match it.
	var ref bitscale.Run
	require.NoError(t, json.Unmarshal([]byte(referenceWebhook), &ref))
	run := got.run
	assert.Equal(t, accepted.ID, run.ID)
	assert.Equal(t, ref.GridID, run.GridID)
	assert.Equal(t, ref.Status, run.Status)
	assert.Equal(t, ref.Outputs, run.Outputs)
	assert.Equal(t, ref.Credits, run.Credits)

	fr, ok := srv.Run(accepted.ID)
	require.True(t, ok)
	require.NotNil(t, run.StartedAt)
	require.NotNil(t, run.CompletedAt)
	// The API writes whole seconds.
	assert.True(t, run.StartedAt.Equal(fr.StartedAt.Truncate(time.Second)), "started_at %v, fake started %v", run.StartedAt, fr.StartedAt)
	assert.True(t, run.CompletedAt.Equal(fr.CompletedAt.Truncate(time.Second)), "completed_at %v, fake completed %v", run.CompletedAt, fr.CompletedAt)
	assert.False(t, run.CompletedAt.Before(*run.StartedAt))
}
