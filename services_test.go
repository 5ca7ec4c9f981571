package bitscale_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mockClient returns a client for the real base URL whose requests the
// mock transport answers.
func mockClient(t *testing.T) (*bitscale.Client, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	c, err := bitscale.NewClient(testKey,
		bitscale.WithHTTPClient(&http.Client{Transport: mock}),
		bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithRetryWait(time.Millisecond, 10*time.Millisecond))
	require.NoError(t, err)
	return c, mock
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func respond(t *testing.T, name string) httpmock.Responder {
	return httpmock.NewBytesResponder(200, fixture(t, name)).HeaderSet(http.Header{"Content-Type": {"application/json"}})
}

const base = "https://api.bitscale.ai/api/v1/"

func TestUsersMeDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("GET", base+"user/me", respond(t, "user_me.json"))
	u, resp, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, &bitscale.User{
		ID:        "usr_abc123",
		Name:      "Jane Doe",
		Email:     "jane.doe@company.com",
		AvatarURL: "https://cdn.bitscale.ai/avatars/usr_abc123.png",
		CreatedAt: date("2024-01-15T08:30:00Z"),
		Plan:      "enterprise",
	}, u)
}

func TestWorkspacesListDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("GET", base+"workspaces", respond(t, "workspaces_list.json"))
	l, _, err := c.Workspaces.List(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &bitscale.WorkspaceList{
		Workspaces: []bitscale.Workspace{
			{ID: "ws_abc123", Name: "Acme Corp — Sales", Role: "admin", MemberCount: 12, CreatedAt: date("2024-02-01T10:00:00Z")},
			{ID: "ws_def456", Name: "Acme Corp — Marketing", Role: "member", MemberCount: 5, CreatedAt: date("2024-03-10T14:20:00Z")},
		},
		Total: 2,
	}, l)
}

func TestWorkspacesGetDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("GET", base+"workspaces/ws_abc123", respond(t, "workspace_get.json"))
	w, _, err := c.Workspaces.Get(context.Background(), "ws_abc123")
	require.NoError(t, err)
	assert.Equal(t, &bitscale.WorkspaceDetails{
		ID:        "ws_abc123",
		Name:      "Acme Corp — Sales",
		CreatedAt: date("2024-02-01T10:00:00Z"),
		CreatedBy: bitscale.UserRef{ID: "usr_abc123", Name: "Jane Doe", Email: "jane.doe@company.com"},
		Plan:      bitscale.Plan{Name: "Enterprise", CreditsIncluded: 100000, RenewalDate: date("2026-04-01T00:00:00Z")},
		Credits:   bitscale.WorkspaceCredits{Total: 100000, Used: 34200, Remaining: 65800},
		Members:   bitscale.Members{Total: 12, Admins: 2},
	}, w)
}

func TestGridsListDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponderWithQuery("GET", base+"workspaces/ws_abc123/grids", "search=lead", respond(t, "grids_list.json"))
	l, _, err := c.Grids.List(context.Background(), "ws_abc123", &bitscale.GridListOptions{Search: "lead"})
	require.NoError(t, err)
	assert.Equal(t, &bitscale.GridList{
		Grids: []bitscale.GridSummary{{
			ID:          "grid_001",
			Name:        "Lead Enrichment — Q1",
			Description: "Enriches inbound leads with company and contact data.",
			RowCount:    1500,
			ColumnCount: 12,
			CreatedAt:   date("2024-04-01T09:00:00Z"),
			UpdatedAt:   date("2024-04-15T11:30:00Z"),
		}},
		Total: 1,
	}, l)
}

func TestGridsGetDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("GET", base+"grids/grid_001", respond(t, "grid_get.json"))
	g, _, err := c.Grids.Get(context.Background(), "grid_001")
	require.NoError(t, err)
	assert.Equal(t, &bitscale.Grid{
		ID:          "grid_001",
		Name:        "Lead Enrichment — Q1",
		Description: "Enriches inbound leads with company and contact data.",
		Settings:    bitscale.GridSettings{RowLimit: 5000, AutoRun: false, Visibility: bitscale.VisibilityWorkspace},
		Columns: []bitscale.Column{
			{ID: "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890", Name: "Full Name", Type: bitscale.ColumnText, IsInput: true, Required: true},
			{ID: "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234", Name: "Company", Type: bitscale.ColumnText, IsInput: true},
			{ID: "a1b2c3d4-e5f6-7890-abcd-ef1234567890", Name: "Enriched Email", Type: bitscale.ColumnAIEnrichment, IsOutput: true},
		},
		RowCount:  1500,
		CreatedAt: date("2024-04-01T09:00:00Z"),
		UpdatedAt: date("2024-04-15T11:30:00Z"),
	}, g)
}

var referenceOutputs = map[string]any{
	"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
	"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
	"a1b2c3d4-e5f6-7890-abcd-ef1234567890": "jane.doe@acmecorp.com",
	"b2c3d4e5-f6a7-8901-bcde-f12345678901": "https://linkedin.com/in/janedoe",
}

func TestGridsRunDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("POST", base+"grids/grid_001/run", respond(t, "run_sync.json"))
	run, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{
		Inputs: map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"},
	})
	require.NoError(t, err)
	assert.Equal(t, &bitscale.Run{
		Mode:    bitscale.ModeSync,
		Status:  bitscale.RunCompleted,
		Outputs: referenceOutputs,
		Credits: &bitscale.Credits{Consumed: 12, Remaining: 65788},
	}, run)
}

func TestGridsRunAsyncDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("POST", base+"grids/grid_001/run", respond(t, "run_async.json"))
	run, _, err := c.Grids.RunAsync(context.Background(), "grid_001", &bitscale.RunRequest{
		Inputs:     map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"},
		WebhookURL: "https://your-server.com/webhooks/bitscale",
	})
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{32}$`, run.WebhookRef, "the ref RunAsync added to the webhook URL")
	assert.Equal(t, &bitscale.Run{
		ID:         "run_xyz789",
		Mode:       bitscale.ModeAsync,
		Status:     bitscale.RunQueued,
		PollURL:    "https://api.bitscale.ai/api/v1/grids/grid_001/runs/run_xyz789",
		WebhookRef: run.WebhookRef,
	}, run)
}

func TestRunsGetDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	c, mock := mockClient(t)
	mock.RegisterResponder("GET", base+"grids/grid_001/runs/run_xyz789", respond(t, "run_poll.json"))
	run, _, err := c.Runs.Get(context.Background(), "grid_001", "run_xyz789")
	require.NoError(t, err)
	started, completed := date("2024-04-15T12:00:00Z"), date("2024-04-15T12:00:04Z")
	assert.Equal(t, &bitscale.Run{
		ID:          "run_xyz789",
		Status:      bitscale.RunCompleted,
		Outputs:     referenceOutputs,
		Credits:     &bitscale.Credits{Consumed: 12, Remaining: 65788},
		StartedAt:   &started,
		CompletedAt: &completed,
	}, run)
}

// wire is what one request carried.
type wire struct {
	method, path, rawPath, query string
	header                       http.Header
	body                         map[string]any
}

// recordServer records each request and answers with the fixture named by
// route.
func recordServer(t *testing.T, fixtures map[string]string) (*bitscale.Client, *[]wire) {
	t.Helper()
	var got []wire
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := wire{method: r.Method, path: r.URL.Path, rawPath: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone()}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, &rec.body))
		}
		got = append(got, rec)
		name, ok := fixtures[r.Method+" "+r.URL.Path]
		if !ok {
			serveJSON(404, []byte(`{"error":{"code":"NOT_FOUND","message":"no route"}}`))(w, r)
			return
		}
		serveJSON(200, fixture(t, name))(w, r)
	}))
	return c, &got
}

func TestEveryOperationOnTheWire(t *testing.T) {
	t.Parallel()
	c, got := recordServer(t, map[string]string{
		"GET /api/v1/user/me":                        "user_me.json",
		"GET /api/v1/workspaces":                     "workspaces_list.json",
		"GET /api/v1/workspaces/ws_def456":           "workspace_get.json",
		"GET /api/v1/workspaces/ws_def456/grids":     "grids_list.json",
		"GET /api/v1/grids/grid_001":                 "grid_get.json",
		"POST /api/v1/grids/grid_001/run":            "run_sync.json",
		"GET /api/v1/grids/grid_001/runs/run_xyz789": "run_poll.json",
	})
	ctx := context.Background()
	_, _, err := c.Users.Me(ctx)
	require.NoError(t, err)
	_, _, err = c.Workspaces.List(ctx)
	require.NoError(t, err)
	_, _, err = c.Workspaces.Get(ctx, "ws_def456")
	require.NoError(t, err)
	_, _, err = c.Grids.List(ctx, "ws_def456", &bitscale.GridListOptions{Search: "lead & co"})
	require.NoError(t, err)
	_, _, err = c.Grids.Get(ctx, "grid_001")
	require.NoError(t, err)
	_, _, err = c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{
		Inputs:        map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe", "n": 3},
		OutputColumns: []string{"a1b2c3d4-e5f6-7890-abcd-ef1234567890"},
	})
	require.NoError(t, err)
	// The async acceptance is answered with the sync fixture here, which
	// has no run_id: RunAsync must call that an error it cannot resend.
	_, _, err = c.Grids.RunAsync(ctx, "grid_001", &bitscale.RunRequest{
		Inputs:     map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"},
		WebhookURL: "https://your-server.com/webhooks/bitscale",
	})
	require.ErrorIs(t, err, bitscale.ErrOutcomeUnknown)
	var unknown *bitscale.OutcomeError
	require.ErrorAs(t, err, &unknown)
	require.Regexp(t, `^[0-9a-f]{32}$`, unknown.WebhookRef, "the run can still be matched to its delivery")
	_, _, err = c.Runs.Get(ctx, "grid_001", "run_xyz789")
	require.NoError(t, err)

	want := []struct {
		method, path, query, workspace string
		body                           map[string]any
	}{
		{"GET", "/api/v1/user/me", "", testWorkspace, nil},
		{"GET", "/api/v1/workspaces", "", testWorkspace, nil},
		{"GET", "/api/v1/workspaces/ws_def456", "", testWorkspace, nil},
		{"GET", "/api/v1/workspaces/ws_def456/grids", "search=lead+%26+co", "ws_def456", nil},
		{"GET", "/api/v1/grids/grid_001", "", testWorkspace, nil},
		{"POST", "/api/v1/grids/grid_001/run", "", testWorkspace, map[string]any{
			"mode":           "sync",
			"inputs":         map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe", "n": float64(3)},
			"output_columns": []any{"a1b2c3d4-e5f6-7890-abcd-ef1234567890"},
		}},
		{"POST", "/api/v1/grids/grid_001/run", "", testWorkspace, map[string]any{
			"mode":        "async",
			"inputs":      map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"},
			"webhook_url": "https://your-server.com/webhooks/bitscale?bitscale_ref=" + unknown.WebhookRef,
		}},
		{"GET", "/api/v1/grids/grid_001/runs/run_xyz789", "", testWorkspace, nil},
	}
	require.Len(t, *got, len(want))
	for i, w := range want {
		g := (*got)[i]
		assert.Equal(t, w.method, g.method, i)
		assert.Equal(t, w.path, g.path, i)
		assert.Equal(t, w.query, g.query, i)
		assert.Equal(t, testKey, g.header.Get("Api_key"), i)
		assert.Equal(t, w.workspace, g.header.Get("Workspace-Id"), i)
		assert.Equal(t, "application/json", g.header.Get("Accept"), i)
		assert.Equal(t, "bitscale-go/"+bitscale.Version, g.header.Get("User-Agent"), i)
		if w.body != nil {
			assert.Equal(t, "application/json", g.header.Get("Content-Type"), i)
		} else {
			assert.Empty(t, g.header.Get("Content-Type"), i)
		}
		assert.Equal(t, w.body, g.body, i)
	}
}

func TestGridsListDefaultsToClientWorkspace(t *testing.T) {
	t.Parallel()
	c, got := recordServer(t, map[string]string{"GET /api/v1/workspaces/ws_abc123/grids": "grids_list.json"})
	_, _, err := c.Grids.List(context.Background(), "", nil)
	require.NoError(t, err)
	require.Len(t, *got, 1)
	assert.Equal(t, "", (*got)[0].query)
	assert.Equal(t, testWorkspace, (*got)[0].header.Get("Workspace-Id"))
}

func TestRunRequestIsCheckedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	c, got := recordServer(t, nil)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		req   *bitscale.RunRequest
		async bool
		field string
	}{
		"nil request":          {nil, false, "req"},
		"no inputs":            {&bitscale.RunRequest{}, false, "req.Inputs"},
		"empty input key":      {&bitscale.RunRequest{Inputs: map[string]any{"": 1}}, true, "req.Inputs"},
		"empty output column":  {&bitscale.RunRequest{Inputs: map[string]any{"a": 1}, OutputColumns: []string{""}}, false, "req.OutputColumns"},
		"webhook on sync":      {&bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: "https://x.test/h"}, false, "req.WebhookURL"},
		"relative webhook":     {&bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: "/hooks"}, true, "req.WebhookURL"},
		"non-http webhook":     {&bitscale.RunRequest{Inputs: map[string]any{"a": 1}, WebhookURL: "ftp://x.test/h"}, true, "req.WebhookURL"},
		"unencodable input":    {&bitscale.RunRequest{Inputs: map[string]any{"a": make(chan int)}}, false, ""},
		"unencodable async in": {&bitscale.RunRequest{Inputs: map[string]any{"a": func() {}}}, true, ""},
	} {
		var err error
		if tc.async {
			_, _, err = c.Grids.RunAsync(ctx, "grid_001", tc.req)
		} else {
			_, _, err = c.Grids.Run(ctx, "grid_001", tc.req)
		}
		require.Error(t, err, name)
		if tc.field != "" {
			var argErr *bitscale.ArgumentError
			require.ErrorAs(t, err, &argErr, name)
			assert.Equal(t, tc.field, argErr.Name, name)
		}
		assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown, name)
	}
	assert.Empty(t, *got, "nothing reaches the server")
}

func TestSyncRunThatFailsIsAnError(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"mode":"sync","status":"failed","error":{"code":"ENRICHMENT_FAILED","message":"agent timed out"}}`)))
	run, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	require.ErrorIs(t, err, bitscale.ErrRunFailed)
	require.NotNil(t, run)
	assert.Equal(t, bitscale.RunFailed, run.Status)
	var runErr *bitscale.RunError
	require.ErrorAs(t, err, &runErr)
	assert.Equal(t, "ENRICHMENT_FAILED", runErr.Code)
	assert.Equal(t, "agent timed out", runErr.Message)
}

func TestRunStatusDone(t *testing.T) {
	t.Parallel()
	assert.True(t, bitscale.RunCompleted.Done())
	assert.True(t, bitscale.RunFailed.Done())
	assert.False(t, bitscale.RunQueued.Done())
	assert.False(t, bitscale.RunRunning.Done())
	assert.False(t, bitscale.RunStatus("cancelling").Done(), "an unknown status is not final")
}
