package bitscaletest

// IDs of the data a fake starts with, unless WithoutSeed is given. All but
// grid_002 come from the API reference's examples.
const (
	// SeedUserID is the user the API key belongs to, Jane Doe.
	SeedUserID = "usr_abc123"
	// SeedWorkspaceID is "Acme Corp — Sales", where SeedGridID lives; the
	// workspace Client uses.
	SeedWorkspaceID = "ws_abc123"
	// SeedOtherWorkspaceID is "Acme Corp — Marketing", the user's second
	// workspace.
	SeedOtherWorkspaceID = "ws_def456"
	// SeedGridID is "Lead Enrichment — Q1", with the input columns
	// ColumnFullName (required) and ColumnCompany, and the output columns
	// ColumnEnrichedEmail and ColumnLinkedInURL.
	SeedGridID = "grid_001"
	// SeedOtherGridID is "Company Research", a grid of
	// SeedOtherWorkspaceID with columns of other types.
	SeedOtherGridID = "grid_002"
)

// Column IDs of SeedGridID, with the names its columns have.
const (
	ColumnFullName      = "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890" // "Full Name", text, required input
	ColumnCompany       = "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234" // "Company", text input
	ColumnEnrichedEmail = "a1b2c3d4-e5f6-7890-abcd-ef1234567890" // "Enriched Email", ai_enrichment output
	ColumnLinkedInURL   = "b2c3d4e5-f6a7-8901-bcde-f12345678901" // "LinkedIn URL", url output
)
