package fakeserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// User is the account the fake's API key belongs to, as GET /user/me shows it.
type User struct {
	ID        string
	Name      string
	Email     string
	AvatarURL string
	CreatedAt time.Time
	Plan      string
}

// Workspace is a workspace the user is a member of, with everything the
// list and detail endpoints show.
type Workspace struct {
	ID        string
	Name      string
	Role      string // the user's role in it: "admin", "member", ...
	CreatedAt time.Time
	CreatedBy Creator
	Plan      Plan
	Credits   Credits
	Members   Members
}

// Creator names the user who created a workspace.
type Creator struct {
	ID    string
	Name  string
	Email string
}

// Plan is a workspace's subscription plan.
type Plan struct {
	Name            string
	CreditsIncluded int
	RenewalDate     time.Time
}

// Credits is a workspace's credit balance for the billing cycle.
// The fake keeps Total equal to Used plus Remaining.
type Credits struct {
	Total     int
	Used      int
	Remaining int
}

// Members counts a workspace's members.
type Members struct {
	Total  int
	Admins int
}

// Grid is a grid of a workspace, with its column definitions.
type Grid struct {
	ID          string
	Name        string
	Description string
	Settings    GridSettings
	Columns     []Column
	RowCount    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GridSettings is a grid's configuration.
type GridSettings struct {
	RowLimit   int
	AutoRun    bool
	Visibility string // "workspace", "private" or "public"
}

// Column is one column of a grid. Runs key their inputs and outputs by its ID.
type Column struct {
	ID       string
	Name     string
	Type     string // one of the Type constants
	IsInput  bool
	IsOutput bool
	Required bool
}

// Column types, as the reference lists them.
const (
	TypeText         = "text"
	TypeNumber       = "number"
	TypeURL          = "url"
	TypeEmail        = "email"
	TypeDate         = "date"
	TypeBoolean      = "boolean"
	TypeAIEnrichment = "ai_enrichment"
	TypeFormula      = "formula"
)

var columnTypes = []string{TypeText, TypeNumber, TypeURL, TypeEmail, TypeDate, TypeBoolean, TypeAIEnrichment, TypeFormula}

// Defaults the fake fills in for what AddWorkspace and AddGrid leave empty.
const (
	defaultCredits  = 100000
	defaultRowLimit = 5000
)

// workspace is a Workspace with the fake's bookkeeping.
type workspace struct {
	Workspace
	quota int // runs it may still start; negative means no quota
}

// grid is a Grid with the fake's bookkeeping.
type grid struct {
	Grid
	workspaceID string
	durations   *runDurations // nil: the server's
}

// runDurations is how long an async run stays queued, then running.
type runDurations struct {
	queued, running time.Duration
}

// SetUser replaces the account GET /user/me describes.
// Workspaces added later name it as their creator by default.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = u
}

// User returns the account GET /user/me describes.
func (s *Server) User() User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// AddWorkspace adds a workspace the user is a member of and returns it as
// stored. Empty fields get defaults: a random "ws_" ID, role "admin", the
// current time, the user as creator, an "Enterprise" plan renewing in 30
// days that includes Credits.Total credits (100000 if that is zero too), and
// one member. A zero Credits is a full balance of the plan's credits;
// otherwise a zero Total becomes Used+Remaining and a zero Remaining becomes
// Total-Used (use SetCredits for an empty balance). It returns an error if a
// workspace with that ID exists.
func (s *Server) AddWorkspace(ws Workspace) (Workspace, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ws.ID == "" {
		ws.ID = "ws_" + randomHex(6)
	}
	if _, ok := s.workspaces[ws.ID]; ok {
		return Workspace{}, fmt.Errorf("fakeserver: workspace %q already exists", ws.ID)
	}
	s.fillWorkspace(&ws)
	s.workspaces[ws.ID] = &workspace{Workspace: ws, quota: -1}
	s.workspaceOrder = append(s.workspaceOrder, ws.ID)
	return ws, nil
}

func (s *Server) fillWorkspace(ws *Workspace) {
	now := s.now()
	if ws.Name == "" {
		ws.Name = ws.ID
	}
	if ws.Role == "" {
		ws.Role = "admin"
	}
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = now
	}
	if ws.CreatedBy == (Creator{}) {
		ws.CreatedBy = Creator{ID: s.user.ID, Name: s.user.Name, Email: s.user.Email}
	}
	if ws.Plan.Name == "" {
		ws.Plan.Name = "Enterprise"
	}
	if ws.Plan.CreditsIncluded == 0 {
		ws.Plan.CreditsIncluded = ws.Credits.Total
		if ws.Plan.CreditsIncluded == 0 {
			ws.Plan.CreditsIncluded = defaultCredits
		}
	}
	if ws.Plan.RenewalDate.IsZero() {
		ws.Plan.RenewalDate = now.Add(30 * 24 * time.Hour)
	}
	c := &ws.Credits
	switch {
	case *c == Credits{}:
		c.Total, c.Remaining = ws.Plan.CreditsIncluded, ws.Plan.CreditsIncluded
	case c.Total == 0:
		c.Total = c.Used + c.Remaining
	case c.Remaining == 0:
		c.Remaining = max(c.Total-c.Used, 0)
	}
	if ws.Members.Total == 0 {
		ws.Members.Total = 1
	}
	if ws.Members.Admins == 0 && ws.Role == "admin" {
		ws.Members.Admins = 1
	}
}

// Workspace returns the workspace with the given ID and whether it exists.
func (s *Server) Workspace(id string) (Workspace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.workspaces[id]
	if !ok {
		return Workspace{}, false
	}
	return ws.Workspace, true
}

// SetCredits sets a workspace's remaining credits; Total becomes Used plus
// remaining. It returns an error if the workspace does not exist or
// remaining is negative.
func (s *Server) SetCredits(workspaceID string, remaining int) error {
	if remaining < 0 {
		return errors.New("fakeserver: negative credits")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.workspaces[workspaceID]
	if !ok {
		return fmt.Errorf("fakeserver: no workspace %q", workspaceID)
	}
	ws.Credits.Remaining = remaining
	ws.Credits.Total = ws.Credits.Used + remaining
	return nil
}

// SetRunQuota lets a workspace start n more runs, sync or async, whatever
// their outcome; after that POST /grids/{id}/run answers 429
// RUN_LIMIT_EXCEEDED. A negative n removes the quota. It returns an error
// if the workspace does not exist.
func (s *Server) SetRunQuota(workspaceID string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.workspaces[workspaceID]
	if !ok {
		return fmt.Errorf("fakeserver: no workspace %q", workspaceID)
	}
	ws.quota = max(n, -1)
	return nil
}

// AddGrid adds a grid to a workspace and returns it as stored. Empty fields
// get defaults: a random "grid_" ID, a random UUID for each column without
// one, type "text" for a column without one, row limit 5000, visibility
// "workspace", and the current time. It returns an error if the workspace
// does not exist, a grid with that ID exists, two columns share an ID, or a
// column's type is not one of the reference's.
func (s *Server) AddGrid(workspaceID string, g Grid) (Grid, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.workspaces[workspaceID]; !ok {
		return Grid{}, fmt.Errorf("fakeserver: no workspace %q", workspaceID)
	}
	if g.ID == "" {
		g.ID = "grid_" + randomHex(6)
	}
	if _, ok := s.grids[g.ID]; ok {
		return Grid{}, fmt.Errorf("fakeserver: grid %q already exists", g.ID)
	}
	g.Columns = slices.Clone(g.Columns)
	seen := make(map[string]bool)
	for i := range g.Columns {
		col := &g.Columns[i]
		if col.ID == "" {
			col.ID = newUUID()
		}
		if col.Type == "" {
			col.Type = TypeText
		}
		if !slices.Contains(columnTypes, col.Type) {
			return Grid{}, fmt.Errorf("fakeserver: column %q has unknown type %q", col.ID, col.Type)
		}
		if seen[col.ID] {
			return Grid{}, fmt.Errorf("fakeserver: two columns with ID %q", col.ID)
		}
		seen[col.ID] = true
	}
	if g.Settings.RowLimit == 0 {
		g.Settings.RowLimit = defaultRowLimit
	}
	if g.Settings.Visibility == "" {
		g.Settings.Visibility = "workspace"
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = g.CreatedAt
	}
	s.grids[g.ID] = &grid{Grid: g, workspaceID: workspaceID}
	s.gridOrder = append(s.gridOrder, g.ID)
	return cloneGrid(g), nil
}

// Grid returns the grid with the given ID and whether it exists.
func (s *Server) Grid(id string) (Grid, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grids[id]
	if !ok {
		return Grid{}, false
	}
	return cloneGrid(g.Grid), true
}

// SetGridRunDurations makes async runs of one grid stay queued, then
// running, for the given durations instead of the server's. It returns an
// error if the grid does not exist.
func (s *Server) SetGridRunDurations(gridID string, queued, running time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grids[gridID]
	if !ok {
		return fmt.Errorf("fakeserver: no grid %q", gridID)
	}
	g.durations = &runDurations{queued: queued, running: running}
	return nil
}

func cloneGrid(g Grid) Grid {
	g.Columns = slices.Clone(g.Columns)
	return g
}

// randomHex returns 2n random lowercase hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
