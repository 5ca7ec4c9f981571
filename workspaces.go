package bitscale

import (
	"context"
	"net/http"
	"time"
)

// Workspace is one workspace the user is a member of, as listed.
type Workspace struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Role        string    `json:"role"` // the user's role, such as "admin" or "member"
	MemberCount int       `json:"member_count"`
	CreatedAt   time.Time `json:"created_at"`
}

// WorkspaceList is the answer of WorkspacesService.List.
type WorkspaceList struct {
	Workspaces []Workspace `json:"workspaces"`
	Total      int         `json:"total"`
}

// WorkspaceDetails is a workspace with its plan, credit balance and members.
type WorkspaceDetails struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	CreatedAt time.Time        `json:"created_at"`
	CreatedBy UserRef          `json:"created_by"`
	Plan      Plan             `json:"plan"`
	Credits   WorkspaceCredits `json:"credits"`
	Members   Members          `json:"members"`
}

// UserRef names a user, such as a workspace's creator.
type UserRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Plan is a workspace's subscription plan.
type Plan struct {
	Name            string    `json:"name"` // such as "Starter", "Growth", "Enterprise"
	CreditsIncluded int       `json:"credits_included"`
	RenewalDate     time.Time `json:"renewal_date"`
}

// WorkspaceCredits is a workspace's credit use in the current billing cycle.
type WorkspaceCredits struct {
	Total     int `json:"total"`
	Used      int `json:"used"`
	Remaining int `json:"remaining"`
}

// Members counts a workspace's members.
type Members struct {
	Total  int `json:"total"`
	Admins int `json:"admins"`
}

// List returns every workspace the user is a member of (GET /workspaces).
// It needs no workspace.
func (s *WorkspacesService) List(ctx context.Context) (*WorkspaceList, *Response, error) {
	return send[WorkspaceList](ctx, s.client, http.MethodGet, "workspaces", nil)
}

// Get returns a workspace's details, including its remaining credits, which
// are worth checking before a large batch of runs (GET /workspaces/{id}).
// It returns an *ArgumentError for an empty ID, before any request.
func (s *WorkspacesService) Get(ctx context.Context, workspaceID string) (*WorkspaceDetails, *Response, error) {
	id, err := segment("workspaceID", workspaceID)
	if err != nil {
		return nil, nil, err
	}
	return send[WorkspaceDetails](ctx, s.client, http.MethodGet, "workspaces/"+id, nil)
}
