package perf

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// FixedPoll asks Runs.PollUntilDone for one poll a second. Multiplier 1
// keeps the interval fixed (withDefaults replaces only a multiplier below
// 1); the interval still varies by ±10%, because a Jitter of zero means the
// default: no jitter at all would take a tiny positive Jitter.
var FixedPoll = &bitscale.PollOptions{Interval: time.Second, Multiplier: 1}

// PollRun is an asynchronous run that takes Duration, started with
// Grids.RunAsync and waited for with Runs.PollUntilDone and Options (nil
// for the defaults).
// With Webhook, the run is given the URL of a webhook handler served in
// the same process with bitscale.WithWebhookClient, which wakes the wait.
type PollRun struct {
	Duration time.Duration
	Options  *bitscale.PollOptions
	Webhook  bool
}

// PollResult is what a PollRun measured.
type PollResult struct {
	PollRun
	Polls int           // GET requests for the run
	Delay time.Duration // from the run's completion to PollUntilDone's return
}

// Measure starts the run on a fake of its own and waits for it.
func (pr PollRun) Measure(ctx context.Context) (PollResult, error) {
	fake := fakeserver.New(fakeserver.WithRunDurations(0, pr.Duration), fakeserver.WithLocalWebhooks())
	defer fake.Close()
	c, err := bitscale.NewClient(fake.APIKey(), bitscale.WithBaseURL(fake.URL()),
		bitscale.WithWorkspaceID(fakeserver.SeedWorkspaceID))
	if err != nil {
		return PollResult{}, err
	}
	defer c.CloseIdleConnections()

	req := RunRequest()
	if pr.Webhook {
		h, err := bitscale.NewWebhookHandler(func(context.Context, *bitscale.Run) error { return nil },
			bitscale.WithWebhookSecret(fake.WebhookSecret()), bitscale.WithWebhookClient(c))
		if err != nil {
			return PollResult{}, err
		}
		hook := httptest.NewServer(h)
		defer hook.Close()
		req.WebhookURL = hook.URL + "/webhooks/bitscale"
	}
	run, _, err := c.Grids.RunAsync(ctx, fakeserver.SeedGridID, req)
	if err != nil {
		return PollResult{}, err
	}
	if _, err := c.Runs.PollUntilDone(ctx, fakeserver.SeedGridID, run.ID, pr.Options); err != nil {
		return PollResult{}, err
	}
	seen := time.Now()
	// The fake's record has the exact time; the API's completed_at field
	// has whole seconds only.
	rec, ok := fake.Run(run.ID)
	if !ok || rec.CompletedAt.IsZero() {
		return PollResult{}, fmt.Errorf("perf: the fake has no completion time for run %s", run.ID)
	}
	res := PollResult{PollRun: pr, Delay: seen.Sub(rec.CompletedAt)}
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/runs/"+run.ID) {
			res.Polls++
		}
	}
	return res, nil
}
