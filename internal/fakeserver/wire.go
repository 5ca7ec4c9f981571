package fakeserver

import "time"

// The JSON shapes the fake answers with, field for field as the reference
// names them.

// stamp is a time written as RFC 3339 in UTC with whole seconds,
// "2024-04-15T12:00:00Z", as the reference writes timestamps.
type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

// IsZero lets omitzero leave out unset times.
func (t stamp) IsZero() bool { return time.Time(t).IsZero() }

type userJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	AvatarURL string `json:"avatar_url"`
	CreatedAt stamp  `json:"created_at"`
	Plan      string `json:"plan"`
}

type workspaceListJSON struct {
	Workspaces []workspaceItemJSON `json:"workspaces"`
	Total      int                 `json:"total"`
}

type workspaceItemJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Role        string `json:"role"`
	MemberCount int    `json:"member_count"`
	CreatedAt   stamp  `json:"created_at"`
}

type workspaceJSON struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	CreatedAt stamp       `json:"created_at"`
	CreatedBy creatorJSON `json:"created_by"`
	Plan      planJSON    `json:"plan"`
	Credits   creditsJSON `json:"credits"`
	Members   membersJSON `json:"members"`
}

type creatorJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type planJSON struct {
	Name            string `json:"name"`
	CreditsIncluded int    `json:"credits_included"`
	RenewalDate     stamp  `json:"renewal_date"`
}

type creditsJSON struct {
	Total     int `json:"total"`
	Used      int `json:"used"`
	Remaining int `json:"remaining"`
}

type membersJSON struct {
	Total  int `json:"total"`
	Admins int `json:"admins"`
}

type gridListJSON struct {
	Grids []gridItemJSON `json:"grids"`
	Total int            `json:"total"`
}

type gridItemJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	RowCount    int    `json:"row_count"`
	ColumnCount int    `json:"column_count"`
	CreatedAt   stamp  `json:"created_at"`
	UpdatedAt   stamp  `json:"updated_at"`
}

type gridJSON struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Settings    settingsJSON `json:"settings"`
	Columns     []columnJSON `json:"columns"`
	RowCount    int          `json:"row_count"`
	CreatedAt   stamp        `json:"created_at"`
	UpdatedAt   stamp        `json:"updated_at"`
}

type settingsJSON struct {
	RowLimit   int    `json:"row_limit"`
	AutoRun    bool   `json:"auto_run"`
	Visibility string `json:"visibility"`
}

type columnJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	IsInput  bool   `json:"is_input"`
	IsOutput bool   `json:"is_output"`
	Required bool   `json:"required"`
}

// runJSON is every shape a run takes: the sync result, the async
// acceptance, the poll response and the webhook payload.
type runJSON struct {
	Mode        string          `json:"mode,omitempty"`
	RunID       string          `json:"run_id,omitempty"`
	GridID      string          `json:"grid_id,omitempty"`
	Status      string          `json:"status"`
	PollURL     string          `json:"poll_url,omitempty"`
	Outputs     map[string]any  `json:"outputs,omitzero"`
	Credits     *runCreditsJSON `json:"credits,omitempty"`
	Error       any             `json:"error,omitempty"` // runErrorJSON or a string
	StartedAt   stamp           `json:"started_at,omitzero"`
	CompletedAt stamp           `json:"completed_at,omitzero"`
}

type runCreditsJSON struct {
	Consumed  int `json:"consumed"`
	Remaining int `json:"remaining"`
}

type runErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func toUserJSON(u User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Email: u.Email, AvatarURL: u.AvatarURL, CreatedAt: stamp(u.CreatedAt), Plan: u.Plan}
}

func toWorkspaceItemJSON(ws Workspace) workspaceItemJSON {
	return workspaceItemJSON{ID: ws.ID, Name: ws.Name, Role: ws.Role, MemberCount: ws.Members.Total, CreatedAt: stamp(ws.CreatedAt)}
}

func toWorkspaceJSON(ws Workspace) workspaceJSON {
	return workspaceJSON{
		ID:        ws.ID,
		Name:      ws.Name,
		CreatedAt: stamp(ws.CreatedAt),
		CreatedBy: creatorJSON(ws.CreatedBy),
		Plan:      planJSON{Name: ws.Plan.Name, CreditsIncluded: ws.Plan.CreditsIncluded, RenewalDate: stamp(ws.Plan.RenewalDate)},
		Credits:   creditsJSON(ws.Credits),
		Members:   membersJSON(ws.Members),
	}
}

func toGridItemJSON(g Grid) gridItemJSON {
	return gridItemJSON{
		ID:          g.ID,
		Name:        g.Name,
		Description: g.Description,
		RowCount:    g.RowCount,
		ColumnCount: len(g.Columns),
		CreatedAt:   stamp(g.CreatedAt),
		UpdatedAt:   stamp(g.UpdatedAt),
	}
}

func toGridJSON(g Grid) gridJSON {
	cols := make([]columnJSON, len(g.Columns))
	for i, c := range g.Columns {
		cols[i] = columnJSON(c)
	}
	return gridJSON{
		ID:          g.ID,
		Name:        g.Name,
		Description: g.Description,
		Settings:    settingsJSON(g.Settings),
		Columns:     cols,
		RowCount:    g.RowCount,
		CreatedAt:   stamp(g.CreatedAt),
		UpdatedAt:   stamp(g.UpdatedAt),
	}
}
