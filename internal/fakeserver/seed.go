package fakeserver

import "time"

// IDs of the seed data. All but grid_002 come from the API reference's
// examples; grid_002 shows a grid of another workspace and columns of
// other types.
const (
	SeedUserID           = "usr_abc123"
	SeedWorkspaceID      = "ws_abc123" // "Acme Corp — Sales", where grid_001 lives
	SeedOtherWorkspaceID = "ws_def456" // "Acme Corp — Marketing"
	SeedGridID           = "grid_001"  // "Lead Enrichment — Q1"
	SeedOtherGridID      = "grid_002"  // "Company Research", in ws_def456

	// Columns of grid_001.
	ColumnFullName      = "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890"
	ColumnCompany       = "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234"
	ColumnEnrichedEmail = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	ColumnLinkedInURL   = "b2c3d4e5-f6a7-8901-bcde-f12345678901"
)

func seedUser() User {
	return User{
		ID:        SeedUserID,
		Name:      "Jane Doe",
		Email:     "jane.doe@company.com",
		AvatarURL: "https://cdn.bitscale.ai/avatars/usr_abc123.png",
		CreatedAt: date("2024-01-15T08:30:00Z"),
		Plan:      "enterprise",
	}
}

// seed adds the reference's workspaces and grid, and a second grid in the
// other workspace so that scoping can be seen.
func (s *Server) seed() {
	jane := Creator{ID: SeedUserID, Name: "Jane Doe", Email: "jane.doe@company.com"}
	must(s.AddWorkspace(Workspace{
		ID:        SeedWorkspaceID,
		Name:      "Acme Corp — Sales",
		Role:      "admin",
		CreatedAt: date("2024-02-01T10:00:00Z"),
		CreatedBy: jane,
		Plan:      Plan{Name: "Enterprise", CreditsIncluded: 100000, RenewalDate: date("2026-04-01T00:00:00Z")},
		Credits:   Credits{Total: 100000, Used: 34200, Remaining: 65800},
		Members:   Members{Total: 12, Admins: 2},
	}))
	must(s.AddWorkspace(Workspace{
		ID:        SeedOtherWorkspaceID,
		Name:      "Acme Corp — Marketing",
		Role:      "member",
		CreatedAt: date("2024-03-10T14:20:00Z"),
		CreatedBy: Creator{ID: "usr_def456", Name: "John Smith", Email: "john.smith@company.com"},
		Plan:      Plan{Name: "Growth", CreditsIncluded: 25000, RenewalDate: date("2026-04-01T00:00:00Z")},
		Credits:   Credits{Total: 25000, Used: 4800, Remaining: 20200},
		Members:   Members{Total: 5, Admins: 1},
	}))
	must(s.AddGrid(SeedWorkspaceID, Grid{
		ID:          SeedGridID,
		Name:        "Lead Enrichment — Q1",
		Description: "Enriches inbound leads with company and contact data.",
		Settings:    GridSettings{RowLimit: 5000, AutoRun: false, Visibility: "workspace"},
		Columns: []Column{
			{ID: ColumnFullName, Name: "Full Name", Type: TypeText, IsInput: true, Required: true},
			{ID: ColumnCompany, Name: "Company", Type: TypeText, IsInput: true},
			{ID: ColumnEnrichedEmail, Name: "Enriched Email", Type: TypeAIEnrichment, IsOutput: true},
			{ID: ColumnLinkedInURL, Name: "LinkedIn URL", Type: TypeURL, IsOutput: true},
		},
		RowCount:  1500,
		CreatedAt: date("2024-04-01T09:00:00Z"),
		UpdatedAt: date("2024-04-15T11:30:00Z"),
	}))
	must(s.AddGrid(SeedOtherWorkspaceID, Grid{
		ID:          SeedOtherGridID,
		Name:        "Company Research",
		Description: "Profiles target accounts from their website.",
		Settings:    GridSettings{RowLimit: 10000, AutoRun: true, Visibility: "private"},
		Columns: []Column{
			{ID: "5d1e8c3a-2f47-4b69-8a0c-1e2f3a4b5c6d", Name: "Company Website", Type: TypeURL, IsInput: true, Required: true},
			{ID: "6e2f9d4b-3a58-4c7a-9b1d-2f3a4b5c6d7e", Name: "Industry", Type: TypeAIEnrichment, IsOutput: true},
			{ID: "7f3a0e5c-4b69-4d8b-8c2e-3a4b5c6d7e8f", Name: "Employee Count", Type: TypeNumber, IsOutput: true},
			{ID: "8a4b1f6d-5c7a-4e9c-9d3f-4b5c6d7e8f90", Name: "Publicly Traded", Type: TypeBoolean, IsOutput: true},
			{ID: "9b5c2a7e-6d8b-4fad-8e4a-5c6d7e8f9012", Name: "Founded", Type: TypeDate, IsOutput: true},
		},
		RowCount:  320,
		CreatedAt: date("2024-03-12T16:45:00Z"),
		UpdatedAt: date("2024-04-02T08:10:00Z"),
	}))
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// must panics if the seed data, which is fixed, cannot be added.
func must[T any](_ T, err error) {
	if err != nil {
		panic(err)
	}
}
