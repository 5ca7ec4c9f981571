package fakeserver

import (
	"net/http"
	"strings"
	"testing"
)

// The reference's examples, which the seed data reproduces.
const (
	refUser = `{
	  "id": "usr_abc123",
	  "name": "Jane Doe",
	  "email": "jane.doe@company.com",
	  "avatar_url": "https://cdn.bitscale.ai/avatars/usr_abc123.png",
	  "created_at": "2024-01-15T08:30:00Z",
	  "plan": "enterprise"
	}`
	refWorkspaces = `{
	  "workspaces": [
	    {"id": "ws_abc123", "name": "Acme Corp — Sales", "role": "admin", "member_count": 12, "created_at": "2024-02-01T10:00:00Z"},
	    {"id": "ws_def456", "name": "Acme Corp — Marketing", "role": "member", "member_count": 5, "created_at": "2024-03-10T14:20:00Z"}
	  ],
	  "total": 2
	}`
	refWorkspace = `{
	  "id": "ws_abc123",
	  "name": "Acme Corp — Sales",
	  "created_at": "2024-02-01T10:00:00Z",
	  "created_by": {"id": "usr_abc123", "name": "Jane Doe", "email": "jane.doe@company.com"},
	  "plan": {"name": "Enterprise", "credits_included": 100000, "renewal_date": "2026-04-01T00:00:00Z"},
	  "credits": {"total": 100000, "used": 34200, "remaining": 65800},
	  "members": {"total": 12, "admins": 2}
	}`
	// The reference's grid, with the fourth column its run examples use.
	refGrid = `{
	  "id": "grid_001",
	  "name": "Lead Enrichment — Q1",
	  "description": "Enriches inbound leads with company and contact data.",
	  "settings": {"row_limit": 5000, "auto_run": false, "visibility": "workspace"},
	  "columns": [
	    {"id": "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890", "name": "Full Name", "type": "text", "is_input": true, "is_output": false, "required": true},
	    {"id": "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234", "name": "Company", "type": "text", "is_input": true, "is_output": false, "required": false},
	    {"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "name": "Enriched Email", "type": "ai_enrichment", "is_input": false, "is_output": true, "required": false},
	    {"id": "b2c3d4e5-f6a7-8901-bcde-f12345678901", "name": "LinkedIn URL", "type": "url", "is_input": false, "is_output": true, "required": false}
	  ],
	  "row_count": 1500,
	  "created_at": "2024-04-01T09:00:00Z",
	  "updated_at": "2024-04-15T11:30:00Z"
	}`
	refGridList = `{
	  "grids": [{
	    "id": "grid_001",
	    "name": "Lead Enrichment — Q1",
	    "description": "Enriches inbound leads with company and contact data.",
	    "row_count": 1500,
	    "column_count": 4,
	    "created_at": "2024-04-01T09:00:00Z",
	    "updated_at": "2024-04-15T11:30:00Z"
	  }],
	  "total": 1
	}`
)

func TestReferenceExamples(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct {
		path, ws, want string
	}{
		{"user/me", "", refUser},
		{"workspaces", "", refWorkspaces},
		{"workspaces/ws_abc123", "", refWorkspace},
		{"workspaces/ws_abc123/grids", "ws_abc123", refGridList},
		{"grids/grid_001", "ws_abc123", refGrid},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := send(t, s, "GET", tt.path, tt.ws, nil)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d; body %s", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			wantJSON(t, res.body, tt.want)
		})
	}
}

func TestWorkspaceIDIgnoredWhereNotRequired(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, path := range []string{"user/me", "workspaces", "workspaces/ws_def456"} {
		if res := send(t, s, "GET", path, "ws_nope", nil); res.status != http.StatusOK {
			t.Errorf("GET %s with an unknown workspace-id: status %d, want 200", path, res.status)
		}
	}
}

func TestSecondWorkspace(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	m := send(t, s, "GET", "workspaces/ws_def456", "", nil).object(t)
	if m["name"] != "Acme Corp — Marketing" {
		t.Errorf("name = %v", m["name"])
	}
	credits := m["credits"].(map[string]any)
	if credits["total"].(float64) != credits["used"].(float64)+credits["remaining"].(float64) {
		t.Errorf("credits do not add up: %v", credits)
	}
	if members := m["members"].(map[string]any); members["total"] != 5.0 {
		t.Errorf("members = %v, want 5 in all as the list says", members)
	}
}

func TestListGridsSearch(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if _, err := s.AddGrid("ws_abc123", Grid{ID: "grid_x", Name: "Account Scoring"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		search string
		want   []string
	}{
		{"", []string{"grid_001", "grid_x"}},
		{"lead", []string{"grid_001"}},
		{"LEAD enrich", []string{"grid_001"}},
		{"ScOrInG", []string{"grid_x"}},
		{"research", nil}, // grid_002 is in the other workspace
		{"zzz", nil},
	}
	for _, tt := range tests {
		res := send(t, s, "GET", "workspaces/ws_abc123/grids?search="+strings.ReplaceAll(tt.search, " ", "%20"), "ws_abc123", nil)
		m := res.object(t)
		grids := m["grids"].([]any) // never null
		var got []string
		for _, g := range grids {
			got = append(got, g.(map[string]any)["id"].(string))
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("search %q: grids %v, want %v", tt.search, got, tt.want)
		}
		if int(m["total"].(float64)) != len(tt.want) {
			t.Errorf("search %q: total %v, want %d", tt.search, m["total"], len(tt.want))
		}
	}
}

func TestWorkspaceScoping(t *testing.T) {
	t.Parallel()
	s := newServer(t)

	// The marketing workspace lists its own grid only.
	m := send(t, s, "GET", "workspaces/ws_def456/grids", "ws_def456", nil).object(t)
	if grids := m["grids"].([]any); len(grids) != 1 || grids[0].(map[string]any)["id"] != "grid_002" {
		t.Errorf("ws_def456 grids = %v", grids)
	}
	// A grid is visible only with its own workspace in the header.
	send(t, s, "GET", "grids/grid_002", "ws_abc123", nil).wantError(t, 404, CodeGridNotFound)
	send(t, s, "GET", "grids/grid_001", "ws_def456", nil).wantError(t, 404, CodeGridNotFound)
	send(t, s, "POST", "grids/grid_001/run", "ws_def456", janeDoe("sync")).wantError(t, 404, CodeGridNotFound)
	if res := send(t, s, "GET", "grids/grid_002", "ws_def456", nil); res.status != 200 {
		t.Errorf("grid_002 in ws_def456: status %d", res.status)
	}
	if len(s.Runs()) != 0 {
		t.Errorf("a run was recorded for a grid out of scope")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct {
		name         string
		method, path string
		ws           string
		status       int
		code         string
	}{
		{"unknown route", "GET", "nope", "", 404, CodeNotFound},
		{"unknown nested route", "GET", "user/me/extra", "", 404, CodeNotFound},
		{"trailing slash", "GET", "workspaces/", "", 404, CodeNotFound},
		{"unknown workspace", "GET", "workspaces/ws_nope", "", 404, CodeWorkspaceNotFound},
		{"list grids without workspace-id", "GET", "workspaces/ws_abc123/grids", "", 400, CodeMissingRequiredField},
		{"list grids, unknown header workspace", "GET", "workspaces/ws_abc123/grids", "ws_nope", 404, CodeWorkspaceNotFound},
		{"list grids, unknown path workspace", "GET", "workspaces/ws_nope/grids", "ws_abc123", 404, CodeWorkspaceNotFound},
		{"get grid without workspace-id", "GET", "grids/grid_001", "", 400, CodeMissingRequiredField},
		{"get grid, unknown workspace", "GET", "grids/grid_001", "ws_nope", 404, CodeWorkspaceNotFound},
		{"unknown grid", "GET", "grids/grid_nope", "ws_abc123", 404, CodeGridNotFound},
		{"run without workspace-id", "POST", "grids/grid_001/run", "", 400, CodeMissingRequiredField},
		{"run, unknown grid", "POST", "grids/grid_nope/run", "ws_abc123", 404, CodeGridNotFound},
		{"poll without workspace-id", "GET", "grids/grid_001/runs/run_x", "", 400, CodeMissingRequiredField},
		{"unknown run", "GET", "grids/grid_001/runs/run_nope", "ws_abc123", 404, CodeRunNotFound},
		{"poll, unknown grid", "GET", "grids/grid_nope/runs/run_nope", "ws_abc123", 404, CodeGridNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := send(t, s, tt.method, tt.path, tt.ws, nil)
			msg := res.wantError(t, tt.status, tt.code)
			if tt.code == CodeMissingRequiredField && !strings.Contains(msg, "workspace-id") {
				t.Errorf("message %q does not name the workspace-id header", msg)
			}
			if res.header.Get("X-RateLimit-Limit") == "" {
				t.Errorf("authenticated error response without rate-limit headers")
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct{ method, path, allow string }{
		{"POST", "user/me", "GET"},
		{"DELETE", "grids/grid_001", "GET"},
		{"GET", "grids/grid_001/run", "POST"},
		{"PUT", "workspaces", "GET"},
	}
	for _, tt := range tests {
		res := send(t, s, tt.method, tt.path, "ws_abc123", nil)
		res.wantError(t, 405, CodeMethodNotAllowed)
		if got := res.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, key := range []string{"", "bsk_wrong"} {
		for _, path := range []string{"user/me", "workspaces", "grids/grid_001", "nope"} {
			req := newRequest(t, s, "GET", path, "ws_abc123", nil)
			if key == "" {
				delete(req.Header, "api_key")
			} else {
				req.Header["api_key"] = []string{key}
			}
			res := do(t, req)
			res.wantError(t, 401, CodeInvalidAPIKey)
			for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				if v := res.header.Get(h); v != "" {
					t.Errorf("401 carries %s: %s", h, v)
				}
			}
		}
	}
	// The key is also accepted in Go's canonical spelling, as any
	// HTTP server must: header names are case-insensitive.
	req := newRequest(t, s, "GET", "user/me", "", nil)
	delete(req.Header, "api_key")
	req.Header.Set("api_key", s.APIKey())
	if res := do(t, req); res.status != 200 {
		t.Errorf("Api_key spelling: status %d", res.status)
	}
}

func TestWithAPIKey(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithAPIKey("bsk_custom"))
	if s.APIKey() != "bsk_custom" {
		t.Fatalf("APIKey() = %q", s.APIKey())
	}
	if res := send(t, s, "GET", "user/me", "", nil); res.status != 200 {
		t.Errorf("status %d with the custom key", res.status)
	}
}

// An escaped slash stays inside its path segment: the fake never cleans
// a path into another route.
func TestEscapedPathRouting(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct {
		path   string
		status int
		code   string
		id     string
	}{
		{"grids/..%2Fuser%2Fme", 404, CodeGridNotFound, `"../user/me"`},
		{"grids/..%2F..%2Fuser%2Fme", 404, CodeGridNotFound, `"../../user/me"`},
		{"workspaces/..%2Fuser%2Fme", 404, CodeWorkspaceNotFound, `"../user/me"`},
		{"grids/grid_001%2Frun", 404, CodeGridNotFound, `"grid_001/run"`},
		{"grids/../user/me", 404, CodeNotFound, ""},
		{"workspaces/../user/me", 404, CodeNotFound, ""},
	}
	for _, tt := range tests {
		res := send(t, s, "GET", tt.path, "ws_abc123", nil)
		msg := res.wantError(t, tt.status, tt.code)
		if !strings.Contains(msg, tt.id) {
			t.Errorf("GET %s: message %q does not name %s", tt.path, msg, tt.id)
		}
	}
	reqs := s.Requests()
	if got := reqs[0].Path; got != "/api/v1/grids/..%2Fuser%2Fme" {
		t.Errorf("recorded path = %q, want it escaped as sent", got)
	}

	// A grid whose ID needs escaping is reachable by its escaped ID.
	if _, err := s.AddGrid("ws_abc123", Grid{ID: "a/b c"}); err != nil {
		t.Fatal(err)
	}
	if res := send(t, s, "GET", "grids/a%2Fb%20c", "ws_abc123", nil); res.status != 200 {
		t.Errorf("grid \"a/b c\": status %d; body %s", res.status, res.body)
	}
}

func TestStatusFor(t *testing.T) {
	t.Parallel()
	want := map[string]int{
		"INVALID_API_KEY":         401,
		"WORKSPACE_NOT_FOUND":     404,
		"GRID_NOT_FOUND":          404,
		"MISSING_REQUIRED_FIELD":  400,
		"INVALID_COLUMN_TYPE":     422,
		"RUN_LIMIT_EXCEEDED":      429,
		"INSUFFICIENT_CREDITS":    403,
		"WEBHOOK_DELIVERY_FAILED": 422,
		"RATE_LIMITED":            429,
		"INVALID_REQUEST":         400,
		"NOT_FOUND":               404,
		"RUN_NOT_FOUND":           404,
		"METHOD_NOT_ALLOWED":      405,
		"INTERNAL_ERROR":          500,
		"SOMETHING_ELSE":          500,
	}
	for code, st := range want {
		if got := StatusFor(code); got != st {
			t.Errorf("StatusFor(%s) = %d, want %d", code, got, st)
		}
	}
}
