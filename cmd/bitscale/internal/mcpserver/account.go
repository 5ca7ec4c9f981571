package mcpserver

import (
	"context"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// noInput is the input of a tool that takes no arguments.
type noInput struct{}

// whoamiOutput is the output of whoami.
type whoamiOutput struct {
	ID          string `json:"id" jsonschema:"the user's ID"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Plan        string `json:"plan" jsonschema:"the user's BitScale plan"`
	WorkspaceID string `json:"workspace_id,omitempty" jsonschema:"the workspace tools use when given no workspace_id; empty when none is configured"`
}

// workspace is a workspace in a list.
type workspace struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Role        string `json:"role" jsonschema:"the user's role in the workspace, such as admin or member"`
	MemberCount int    `json:"member_count"`
	Current     bool   `json:"current" jsonschema:"whether tools use this workspace when given no workspace_id"`
}

// workspacesOutput is the output of list_workspaces.
type workspacesOutput struct {
	Workspaces []workspace `json:"workspaces"`
	Total      int         `json:"total"`
}

// workspaceInput is the input of get_workspace.
type workspaceInput struct {
	WorkspaceID string `json:"workspace_id,omitempty" jsonschema:"the workspace's ID; default the configured workspace"`
}

// workspaceOutput is the output of get_workspace.
type workspaceOutput struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	Plan                string `json:"plan"`
	PlanCredits         int    `json:"plan_credits" jsonschema:"credits the plan includes each cycle"`
	RenewalDate         string `json:"renewal_date,omitempty" jsonschema:"when the plan's credits renew, as YYYY-MM-DD"`
	CreditsTotal        int    `json:"credits_total"`
	CreditsUsed         int    `json:"credits_used"`
	CreditsRemaining    int    `json:"credits_remaining" jsonschema:"credits left to spend on runs"`
	Members             int    `json:"members"`
	Admins              int    `json:"admins"`
	CreatedAt           string `json:"created_at,omitempty"`
	CreatedBy           string `json:"created_by,omitempty" jsonschema:"the name of the user who created the workspace"`
	ConfiguredWorkspace bool   `json:"configured_workspace" jsonschema:"whether tools use this workspace when given no workspace_id"`
}

func (t *tools) addAccount(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:        "whoami",
		Title:       "Who am I",
		Description: "Show the BitScale user the API key belongs to, and the workspace the other tools use by default. Call it first to check the connection.",
		Annotations: readOnly(),
	}, t.whoami)
	add(s, t, &mcp.Tool{
		Name:        "list_workspaces",
		Title:       "List workspaces",
		Description: "List the BitScale workspaces the API key can use, with the user's role in each. A workspace holds grids and credits.",
		Annotations: readOnly(),
	}, t.listWorkspaces)
	add(s, t, &mcp.Tool{
		Name:        "get_workspace",
		Title:       "Get a workspace",
		Description: "Show a BitScale workspace: its plan, its credits (total, used and remaining: each grid run spends some) and members. Call it to know whether there are credits left before running a grid.",
		Annotations: readOnly(),
	}, t.getWorkspace)
}

func (t *tools) whoami(ctx context.Context, _ *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, whoamiOutput, error) {
	u, _, err := t.client.Users.Me(ctx)
	if err != nil {
		return nil, whoamiOutput{}, err
	}
	return nil, whoamiOutput{ID: u.ID, Name: u.Name, Email: u.Email, Plan: u.Plan, WorkspaceID: t.client.WorkspaceID()}, nil
}

func (t *tools) listWorkspaces(ctx context.Context, _ *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, workspacesOutput, error) {
	list, _, err := t.client.Workspaces.List(ctx)
	if err != nil {
		return nil, workspacesOutput{}, err
	}
	out := workspacesOutput{Workspaces: make([]workspace, 0, len(list.Workspaces)), Total: list.Total}
	for _, ws := range list.Workspaces {
		out.Workspaces = append(out.Workspaces, workspace{ID: ws.ID, Name: ws.Name, Role: ws.Role,
			MemberCount: ws.MemberCount, Current: ws.ID == t.client.WorkspaceID()})
	}
	return nil, out, nil
}

func (t *tools) getWorkspace(ctx context.Context, _ *mcp.CallToolRequest, in workspaceInput) (*mcp.CallToolResult, workspaceOutput, error) {
	id := firstOf(in.WorkspaceID, t.client.WorkspaceID())
	if id == "" {
		return nil, workspaceOutput{}, bitscale.ErrNoWorkspace
	}
	ws, _, err := t.client.Workspaces.Get(ctx, id)
	if err != nil {
		return nil, workspaceOutput{}, err
	}
	return nil, workspaceOutput{
		ID: ws.ID, Name: ws.Name,
		Plan: ws.Plan.Name, PlanCredits: ws.Plan.CreditsIncluded, RenewalDate: day(ws.Plan.RenewalDate),
		CreditsTotal: ws.Credits.Total, CreditsUsed: ws.Credits.Used, CreditsRemaining: ws.Credits.Remaining,
		Members: ws.Members.Total, Admins: ws.Members.Admins,
		CreatedAt: day(ws.CreatedAt), CreatedBy: ws.CreatedBy.Name,
		ConfiguredWorkspace: ws.ID == t.client.WorkspaceID(),
	}, nil
}

// readOnly marks a tool that changes nothing.
func readOnly() *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(true)}
}

func ptr[T any](v T) *T { return &v }

// day formats t as YYYY-MM-DD, or "" for none.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// stamp formats t as RFC 3339, or "" for none.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
