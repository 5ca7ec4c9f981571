package bitscale_test

// Webhook URLs as BitScale requires them, and the ref RunAsync adds to them
// so that a run's delivery can be matched to its call.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refPattern is the form of the refs RunAsync adds.
var refPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRunAsyncRefusesWebhookURLsBitScaleRefuses(t *testing.T) {
	t.Parallel()
	// A client of the real API: nothing local can be delivered to.
	c, mock := mockClient(t)
	const (
		notHTTPS = "must be an https:// URL: BitScale does not deliver webhooks to http://"
		public   = ": BitScale delivers webhooks only to a publicly accessible URL"
	)
	for hook, reason := range map[string]string{
		"http://hooks.example.com/b":                 notHTTPS,
		"ftp://hooks.example.com/b":                  "must be an absolute https:// URL",
		"/webhooks/bitscale":                         "must be an absolute https:// URL",
		"https://localhost/b":                        "points at localhost" + public,
		"https://LocalHost.:8443/b":                  "points at localhost" + public,
		"https://api.localhost/b":                    "points at localhost" + public,
		"https://127.0.0.1/b":                        "points at a loopback address" + public,
		"https://127.200.0.1/b":                      "points at a loopback address" + public,
		"https://[::1]:8443/b":                       "points at a loopback address" + public,
		"https://[::ffff:127.0.0.1]/b":               "points at a loopback address" + public,
		"https://0.0.0.0/b":                          "points at an unspecified address" + public,
		"https://[::]/b":                             "points at an unspecified address" + public,
		"https://10.0.0.8/b":                         "points at a private address" + public,
		"https://172.16.0.1/b":                       "points at a private address" + public,
		"https://172.31.255.254/b":                   "points at a private address" + public,
		"https://192.168.0.10/b":                     "points at a private address" + public,
		"https://[fd12:3456::1]/b":                   "points at a private address" + public,
		"https://169.254.169.254/latest":             "points at a link-local address" + public,
		"https://[fe80::1%25eth0]/b":                 "points at a link-local address" + public,
		"https://2130706433/b":                       "points at a numeric host that is not a standard IP address" + public,
		"https://127.1/b":                            "points at a numeric host that is not a standard IP address" + public,
		"https://hooks.example.com/b?bitscale_ref=x": "must not carry the query parameter bitscale_ref: RunAsync adds it",
	} {
		req := &bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: hook}
		run, resp, err := c.Grids.RunAsync(context.Background(), "grid_001", req)
		var argErr *bitscale.ArgumentError
		if !assert.ErrorAs(t, err, &argErr, hook) {
			continue
		}
		assert.Equal(t, "bitscale: req.WebhookURL "+reason, err.Error(), hook)
		assert.Nil(t, run, hook)
		assert.Nil(t, resp, hook)
		assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown, hook)
		assert.Equal(t, hook, req.WebhookURL, "the caller's request is left alone")
	}
	assert.Zero(t, mock.GetTotalCallCount(), "nothing was sent")
}

func TestRunAsyncAddsWebhookRefKeepingTheURL(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	var sent []string
	mock.RegisterResponder("POST", base+"grids/grid_001/run", func(r *http.Request) (*http.Response, error) {
		var body struct {
			WebhookURL string `json:"webhook_url"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, err
		}
		sent = append(sent, body.WebhookURL)
		return httpmock.NewStringResponse(201, `{"mode":"async","run_id":"run_1","status":"queued"}`), nil
	})
	for _, tc := range []struct{ hook, before, after string }{
		{"https://hooks.example.com/b", "https://hooks.example.com/b?bitscale_ref=", ""},
		{"https://hooks.example.com/b?tenant=7&q=a%20b+c", "https://hooks.example.com/b?tenant=7&q=a%20b+c&bitscale_ref=", ""},
		{"https://hooks.example.com/b?", "https://hooks.example.com/b?bitscale_ref=", ""},
		{"https://hooks.example.com/b?tenant=7&", "https://hooks.example.com/b?tenant=7&bitscale_ref=", ""},
		{"https://hooks.example.com/b?tenant=7#top", "https://hooks.example.com/b?tenant=7&bitscale_ref=", "#top"},
		{"https://8.8.8.8:8443/b", "https://8.8.8.8:8443/b?bitscale_ref=", ""},
	} {
		sent = nil
		req := &bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: tc.hook}
		run, _, err := c.Grids.RunAsync(context.Background(), "grid_001", req)
		require.NoError(t, err, tc.hook)
		require.Len(t, sent, 1)
		assert.Regexp(t, refPattern, run.WebhookRef, tc.hook)
		assert.Equal(t, tc.before+run.WebhookRef+tc.after, sent[0], "the URL is kept as written, the ref added")
		assert.Equal(t, tc.hook, req.WebhookURL, "the caller's request is left alone")
	}

	// Every run gets its own ref; a run without a webhook gets none.
	a, _, err := c.Grids.RunAsync(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: "https://hooks.example.com/b"})
	require.NoError(t, err)
	b, _, err := c.Grids.RunAsync(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: "https://hooks.example.com/b"})
	require.NoError(t, err)
	assert.NotEqual(t, a.WebhookRef, b.WebhookRef)
	none, _, err := c.Grids.RunAsync(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": 1}})
	require.NoError(t, err)
	assert.Empty(t, none.WebhookRef)

	// The ref is the SDK's, not the API's.
	j, err := json.Marshal(a)
	require.NoError(t, err)
	assert.NotContains(t, string(j), a.WebhookRef)
}

func TestFakeRefusesLocalWebhookUnlessAllowed(t *testing.T) {
	t.Parallel()
	// The SDK lets a local URL through to a fake on loopback; the fake,
	// as BitScale, refuses it unless the test allows local webhooks.
	var calls hookCalls
	srv, c := newWebhookFake(t)
	hookURL := serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret())))
	strict := bitscaletest.NewServer()
	t.Cleanup(strict.Close)
	sc := strict.Client()
	t.Cleanup(sc.CloseIdleConnections)

	run, _, err := sc.Grids.RunAsync(context.Background(), bitscaletest.SeedGridID, &bitscale.RunRequest{
		Inputs:     map[string]any{bitscaletest.ColumnFullName: "Jane Doe"},
		WebhookURL: hookURL,
	})
	require.ErrorIs(t, err, bitscale.ErrWebhookDeliveryFailed)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
	assert.Contains(t, apiErr.Message, "must be a publicly accessible https:// URL; http:// is not supported")
	assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown, "a refusal is a sure outcome")
	assert.Nil(t, run)
	assert.Empty(t, strict.Runs(), "nothing ran, nothing was spent")

	accepted := startHookRun(t, c, hookURL)
	ds := awaitDeliveries(t, srv, accepted.ID)
	assert.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds))
}

func TestWebhookRefMatchesALostAnswerToItsDelivery(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	var calls hookCalls
	hookURL := serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret())))
	// The run is carried out, and its answer lost.
	srv.InjectFault(bitscaletest.Fault{Method: http.MethodPost, Path: "grids/grid_001/run", Kind: bitscaletest.FaultResetMidBody, AfterHandling: true})

	run, _, err := c.Grids.RunAsync(context.Background(), bitscaletest.SeedGridID, &bitscale.RunRequest{
		Inputs:     map[string]any{bitscaletest.ColumnFullName: "Jane Doe", bitscaletest.ColumnCompany: "Acme Corp"},
		WebhookURL: hookURL,
	})
	require.ErrorIs(t, err, bitscale.ErrOutcomeUnknown)
	assert.Nil(t, run)
	var oe *bitscale.OutcomeError
	require.ErrorAs(t, err, &oe)
	assert.Empty(t, oe.RunID, "the answer with the run's ID was lost")
	require.Regexp(t, refPattern, oe.WebhookRef)
	assert.Contains(t, err.Error(), "its webhook carries ref "+oe.WebhookRef)
	require.Len(t, srv.Requests(), 1+0, "sent once, not again")

	runs := srv.Runs()
	require.Len(t, runs, 1, "the run happened")
	ds := awaitDeliveries(t, srv, runs[0].ID)
	require.Equal(t, []int{http.StatusNoContent}, attemptStatuses(ds))
	assert.Equal(t, hookURL+"?bitscale_ref="+oe.WebhookRef, ds[0].URL)
	got := calls.calls()
	require.Len(t, got, 1)
	assert.Equal(t, oe.WebhookRef, got[0].WebhookRef, "the delivery names the call whose answer was lost")
	assert.Equal(t, runs[0].ID, got[0].ID)
}

func TestRunAndWaitKeepsWebhookRef(t *testing.T) {
	t.Parallel()
	srv, c := newWebhookFake(t)
	hookURL := serveHook(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	req := &bitscale.RunRequest{
		Inputs:     map[string]any{bitscaletest.ColumnFullName: "Jane Doe"},
		WebhookURL: hookURL,
	}
	run, err := c.Grids.RunAndWait(context.Background(), bitscaletest.SeedGridID, req, hookPoll)
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	require.Regexp(t, refPattern, run.WebhookRef, "the polled run keeps the ref of the accepted one")
	ds := awaitDeliveries(t, srv, run.ID)
	assert.True(t, strings.HasSuffix(ds[0].URL, "?bitscale_ref="+run.WebhookRef), ds[0].URL)

	// Waiting that ends early leaves the outcome unknown, with both the
	// run's ID and its ref.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := *hookPoll
	opts.OnUpdate = func(*bitscale.Run) { cancel() }
	hold := newRunHold() // the run is still running when the wait ends
	hold.hold()
	srvSlow := bitscaletest.NewServer(bitscaletest.WithLocalWebhooks(), bitscaletest.WithEnricher(hold.enricher))
	t.Cleanup(srvSlow.Close)
	sc := srvSlow.Client()
	t.Cleanup(sc.CloseIdleConnections)
	run, err = sc.Grids.RunAndWait(ctx, bitscaletest.SeedGridID, req, &opts)
	require.ErrorIs(t, err, bitscale.ErrOutcomeUnknown)
	require.True(t, errors.Is(err, context.Canceled), err)
	var oe *bitscale.OutcomeError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, run.ID, oe.RunID)
	assert.Regexp(t, refPattern, oe.WebhookRef)
	assert.Equal(t, run.WebhookRef, oe.WebhookRef)
}

func TestRunBatchChecksWebhookURLsAsRunAsyncDoes(t *testing.T) {
	t.Parallel()
	// Against the real API a local URL is refused before anything is sent,
	// even the grid's read.
	c, mock := mockClient(t)
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", leads(1), &bitscale.BatchOptions{
		Async: true, WebhookURL: "https://127.0.0.1:8443/hook",
	})
	var argErr *bitscale.ArgumentError
	require.ErrorAs(t, err, &argErr)
	assert.Equal(t, "bitscale: opts.WebhookURL points at a loopback address: BitScale delivers webhooks only to a publicly accessible URL", err.Error())
	assert.Zero(t, mock.GetTotalCallCount(), "nothing was sent")

	// On the fake, which is on loopback, a local receiver may be used.
	var calls hookCalls
	srv, fc := newWebhookFake(t)
	hookURL := serveHook(t, bitscale.WebhookHandler(calls.handle, bitscale.WithWebhookSecret(srv.WebhookSecret())))
	report, err := fc.Grids.RunBatch(context.Background(), bitscaletest.SeedGridID, leads(2), &bitscale.BatchOptions{
		Async: true, WebhookURL: hookURL,
	})
	require.NoError(t, err)
	assert.Equal(t, 2, report.Submitted)
	for _, res := range report.Results {
		awaitDeliveries(t, srv, res.Run.ID)
	}
}
