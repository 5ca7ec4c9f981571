package bitscale_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

// The examples run against the SDK's fake server. In production the
// client comes from NewClient or NewClientFromEnv instead:
//
//	client, err := bitscale.NewClientFromEnv() // BITSCALE_API_KEY, BITSCALE_WORKSPACE_ID

func ExampleNewClient() {
	srv := bitscaletest.NewServer()
	defer srv.Close()

	client, err := bitscale.NewClient(srv.APIKey(),
		bitscale.WithBaseURL(srv.URL()), // omit for the real API
		bitscale.WithWorkspaceID("ws_abc123"),
		bitscale.WithUserAgent("leadsync/2.1"),
	)
	if err != nil {
		log.Fatal(err)
	}
	me, _, err := client.Users.Me(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(me.Name, me.Plan)
	// Output: Jane Doe enterprise
}

func ExampleWorkspacesService_Get() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	client := srv.Client()

	ws, resp, err := client.Workspaces.Get(context.Background(), "ws_abc123")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d credits left\n", ws.Name, ws.Credits.Remaining)
	fmt.Printf("requests left in this window: %d of %d\n", resp.RateLimit.Remaining, resp.RateLimit.Limit)
	// Output:
	// Acme Corp — Sales: 65800 credits left
	// requests left in this window: 999 of 1000
}

func ExampleGridsService_List() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	client := srv.Client()

	grids, _, err := client.Grids.List(context.Background(), "ws_abc123", &bitscale.GridListOptions{Search: "lead"})
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range grids.Grids {
		fmt.Println(g.ID, g.Name)
	}
	// Output: grid_001 Lead Enrichment — Q1
}

func ExampleGridsService_Run() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	run, _, err := client.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{
		Inputs: map[string]any{
			"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",  // Full Name
			"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp", // Company
		},
		OutputColumns: []string{"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}, // Enriched Email
	})
	switch {
	case errors.Is(err, bitscale.ErrInsufficientCredits):
		log.Fatal("top up the workspace's credits")
	case errors.Is(err, bitscale.ErrOutcomeUnknown):
		log.Fatal("the run may have happened: check before running the row again")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(run.Status, run.Outputs["a1b2c3d4-e5f6-7890-abcd-ef1234567890"])
	fmt.Println("credits:", run.Credits.Consumed, "remaining:", run.Credits.Remaining)
	// Output:
	// completed jane.doe@acmecorp.com
	// credits: 12 remaining: 65788
}

func ExampleGrid_RunRequest() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	grid, _, err := client.Grids.Get(ctx, "grid_001")
	if err != nil {
		log.Fatal(err)
	}
	// Column names instead of UUIDs, checked before anything is sent.
	_, err = grid.RunRequest(map[string]any{"Company": 42, "Revenue": "1M"})
	fmt.Println(err)

	req, err := grid.RunRequest(map[string]any{"Full Name": "Jane Doe", "Company": "Acme Corp"}, "LinkedIn URL")
	if err != nil {
		log.Fatal(err)
	}
	run, _, err := client.Grids.Run(ctx, grid.ID, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(grid.OutputsByName(run))
	// Output:
	// bitscale: invalid inputs: "Company" needs text, got int; "Revenue" is not a column of grid grid_001; "Full Name" is required
	// map[LinkedIn URL:https://linkedin.com/in/janedoe]
}

func ExampleGridsService_RunAndWait() {
	// Each stage of a run on this fake lasts until a poll has seen it, so
	// the output below is certain however slow the machine.
	srv := bitscaletest.NewServer(bitscaletest.WithPolledStages())
	defer srv.Close()
	client := srv.Client()

	req := &bitscale.RunRequest{Inputs: map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"}}
	run, err := client.Grids.RunAndWait(context.Background(), "grid_001", req, &bitscale.PollOptions{
		Interval: 10 * time.Millisecond,
		OnUpdate: func(r *bitscale.Run) { fmt.Println("status:", r.Status) },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Outputs["a1b2c3d4-e5f6-7890-abcd-ef1234567890"])
	// Output:
	// status: queued
	// status: running
	// status: completed
	// jane.doe@example.com
}

func ExampleRunsService_PollUntilDone() {
	// Runs on this fake take no time.
	srv := bitscaletest.NewServer(bitscaletest.WithRunDurations(0, 0))
	defer srv.Close()
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	req := &bitscale.RunRequest{Inputs: map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"}}
	accepted, _, err := client.Grids.RunAsync(ctx, "grid_001", req)
	if err != nil {
		log.Fatal(err)
	}
	// ... later, or in another process that stored the run ID:
	run, err := client.Runs.PollUntilDone(ctx, "grid_001", accepted.ID, nil)
	if errors.Is(err, bitscale.ErrRunFailed) {
		log.Fatal("run failed: ", run.Error.Message)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Status, run.Credits.Consumed)
	// Output: completed 12
}

func ExampleGridsService_RunBatch() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	client := srv.Client()

	rows := []map[string]any{
		{"Full Name": "Jane Doe", "Company": "Acme Corp"},
		{"Full Name": "John Roe", "Company": "Globex"},
		{"Company": "Initech"}, // no Full Name: fails before any request
	}
	report, err := client.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{
		Concurrency: 2,
		MinCredits:  1000, // refuse to start on a nearly empty workspace
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range report.Results {
		fmt.Println(r.Index, r.Outcome, r.Outputs["Enriched Email"])
	}
	fmt.Println("credits:", report.Credits)
	// Output:
	// 0 completed jane.doe@acmecorp.com
	// 1 completed john.roe@globex.com
	// 2 failed <nil>
	// credits: 24
}

func ExampleAPIError() {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	client := srv.Client()

	_, _, err := client.Grids.Get(context.Background(), "grid_999")
	fmt.Println(errors.Is(err, bitscale.ErrGridNotFound), errors.Is(err, bitscale.ErrNotFound))
	var apiErr *bitscale.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code)
	}
	// Output:
	// true true
	// 404 GRID_NOT_FOUND
}

func ExampleDefaultRetryPolicy() {
	srv := bitscaletest.NewServer()
	defer srv.Close()

	// Never retry anything, say for a latency-critical path.
	never := func(context.Context, bool, *http.Response, error) bool { return false }
	client := srv.Client(bitscale.WithRetryPolicy(never))
	srv.InjectFault(bitscaletest.Fault{Path: "/api/v1/user/me", Status: 503})

	_, _, err := client.Users.Me(context.Background())
	fmt.Println(errors.Is(err, bitscale.ErrServer), len(srv.Requests()))
	// Output: true 1
}

func ExampleNewWebhookHandler() {
	// The fake delivers to this machine only when allowed to; BitScale
	// delivers only to public https:// URLs.
	srv := bitscaletest.NewServer(bitscaletest.WithLocalWebhooks())
	defer srv.Close()
	client := srv.Client()

	handled := make(chan *bitscale.Run, 1)
	save := func(ctx context.Context, run *bitscale.Run) error {
		handled <- run // a service would store the run, keyed by run.ID
		return nil
	}

	// An unset secret is refused when the handler is built, not with a 401
	// to every delivery.
	_, err := bitscale.NewWebhookHandler(save, bitscale.WithWebhookSecret(""))
	fmt.Println(err)

	h, err := bitscale.NewWebhookHandler(save,
		bitscale.WithWebhookSecret(srv.WebhookSecret()), // os.Getenv("BITSCALE_WEBHOOK_SECRET")
		bitscale.WithWebhookMaxAge(24*time.Hour),
	)
	if err != nil {
		log.Fatal(err)
	}
	receiver := httptest.NewServer(h)
	defer receiver.Close()

	started, _, err := client.Grids.RunAsync(context.Background(), "grid_001", &bitscale.RunRequest{
		Inputs:     map[string]any{bitscaletest.ColumnFullName: "Jane Doe", bitscaletest.ColumnCompany: "Acme Corp"},
		WebhookURL: receiver.URL + "/webhooks/bitscale",
	})
	if err != nil {
		log.Fatal(err)
	}
	run := <-handled
	fmt.Println(run.Status, run.Outputs[bitscaletest.ColumnEnrichedEmail])
	fmt.Println("same ref:", run.WebhookRef == started.WebhookRef)
	// Output:
	// bitscale: no webhook secret given: the handler would refuse every delivery; give WithWebhookSecret a non-empty secret
	// completed jane.doe@acmecorp.com
	// same ref: true
}
