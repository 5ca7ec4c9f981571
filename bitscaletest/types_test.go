package bitscaletest

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// TestTypesMatchTheFake keeps the package's types in step with the fake's:
// a field added to one and not the other would be silently dropped by the
// conversions between them.
func TestTypesMatchTheFake(t *testing.T) {
	pairs := []struct{ ours, fakes any }{
		{User{}, fakeserver.User{}},
		{Workspace{}, fakeserver.Workspace{}},
		{Creator{}, fakeserver.Creator{}},
		{Plan{}, fakeserver.Plan{}},
		{Credits{}, fakeserver.Credits{}},
		{Members{}, fakeserver.Members{}},
		{Grid{}, fakeserver.Grid{}},
		{GridSettings{}, fakeserver.GridSettings{}},
		{Column{}, fakeserver.Column{}},
		{Run{}, fakeserver.Run{}},
		{RunError{}, fakeserver.RunError{}},
		{EnrichRequest{}, fakeserver.EnrichRequest{}},
		{Fault{}, fakeserver.Fault{}},
		{Request{}, fakeserver.Request{}},
		{Delivery{}, fakeserver.Delivery{}},
	}
	for _, p := range pairs {
		ours, fakes := reflect.TypeOf(p.ours), reflect.TypeOf(p.fakes)
		if got, want := exportedFields(ours), exportedFields(fakes); got != want {
			t.Errorf("%v has the fields\n\t%s\nbut %v has\n\t%s", ours, got, fakes, want)
		}
	}
	if next := fakeserver.FaultKind(FaultHTML + 1).String(); !strings.HasPrefix(next, "FaultKind(") {
		t.Errorf("the fake has a fault kind %q after the last of this package's", next)
	}
}

// exportedFields writes a struct's exported fields as "Name kind", with
// the name of the field's type where it is not of either package.
func exportedFields(t reflect.Type) string {
	var fields []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		typ := f.Type.String()
		typ = strings.NewReplacer("fakeserver.", "", "bitscaletest.", "").Replace(typ)
		fields = append(fields, f.Name+" "+typ)
	}
	return strings.Join(fields, ", ")
}

func TestConstantsAreTheFakes(t *testing.T) {
	kinds := []struct {
		ours  FaultKind
		fakes fakeserver.FaultKind
	}{
		{FaultError, fakeserver.FaultError}, {FaultSlow, fakeserver.FaultSlow}, {FaultReset, fakeserver.FaultReset},
		{FaultResetMidBody, fakeserver.FaultResetMidBody}, {FaultMalformedJSON, fakeserver.FaultMalformedJSON},
		{FaultEmptyBody, fakeserver.FaultEmptyBody}, {FaultHTML, fakeserver.FaultHTML},
	}
	for _, k := range kinds {
		if fakeserver.FaultKind(k.ours) != k.fakes || k.ours.String() != k.fakes.String() {
			t.Errorf("%v is %d here, %v (%d) in the fake", k.ours, k.ours, k.fakes, k.fakes)
		}
	}
	ids := [][2]string{
		{SeedUserID, fakeserver.SeedUserID}, {SeedWorkspaceID, fakeserver.SeedWorkspaceID},
		{SeedOtherWorkspaceID, fakeserver.SeedOtherWorkspaceID}, {SeedGridID, fakeserver.SeedGridID},
		{SeedOtherGridID, fakeserver.SeedOtherGridID}, {ColumnFullName, fakeserver.ColumnFullName},
		{ColumnCompany, fakeserver.ColumnCompany}, {ColumnEnrichedEmail, fakeserver.ColumnEnrichedEmail},
		{ColumnLinkedInURL, fakeserver.ColumnLinkedInURL},
	}
	for _, id := range ids {
		if id[0] != id[1] {
			t.Errorf("seeded ID %q here, %q in the fake", id[0], id[1])
		}
	}
}

func TestWorkspaceAndGridRoundTrip(t *testing.T) {
	srv := NewServer(WithoutSeed())
	defer srv.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ws := Workspace{
		ID: "ws_round", Name: "Round", Role: "member", CreatedAt: at,
		CreatedBy: Creator{ID: "usr_x", Name: "X", Email: "x@example.com"},
		Plan:      Plan{Name: "Growth", CreditsIncluded: 500, RenewalDate: at.Add(time.Hour)},
		Credits:   Credits{Total: 500, Used: 100, Remaining: 400},
		Members:   Members{Total: 3, Admins: 2},
	}
	added, err := srv.AddWorkspace(ws)
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := srv.Workspace(ws.ID)
	if !ok || !reflect.DeepEqual(added, ws) || !reflect.DeepEqual(stored, ws) {
		t.Errorf("AddWorkspace returned %+v and stored %+v (found %v), want %+v", added, stored, ok, ws)
	}
	if _, err := srv.AddWorkspace(ws); err == nil || !strings.HasPrefix(err.Error(), "bitscaletest: ") {
		t.Errorf("adding it again: %v, want an error of this package", err)
	}

	g := Grid{
		ID: "grid_round", Name: "Round", Description: "d",
		Settings:  GridSettings{RowLimit: 7, AutoRun: true, Visibility: "private"},
		Columns:   []Column{{ID: "c1", Name: "In", Type: "text", IsInput: true, Required: true}, {ID: "c2", Name: "Out", Type: "email", IsOutput: true}},
		RowCount:  9,
		CreatedAt: at, UpdatedAt: at.Add(time.Minute),
	}
	gotGrid, err := srv.AddGrid(ws.ID, g)
	if err != nil {
		t.Fatal(err)
	}
	storedGrid, ok := srv.Grid(g.ID)
	if !ok || !reflect.DeepEqual(gotGrid, g) || !reflect.DeepEqual(storedGrid, g) {
		t.Errorf("AddGrid returned %+v and stored %+v (found %v), want %+v", gotGrid, storedGrid, ok, g)
	}
	if _, ok := srv.Grid("grid_none"); ok {
		t.Error("found a grid never added")
	}
}

// TestEnricherSeesTheGridAndChoosesTheErrorCode runs an enricher of this
// package's through the fake: it gets the grid with its columns, and the
// code of a *RunError it returns becomes the failed run's.
func TestEnricherSeesTheGridAndChoosesTheErrorCode(t *testing.T) {
	var seen EnrichRequest
	srv := NewServer(WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		seen = req
		return nil, &RunError{Code: "NO_MATCH", Message: "nobody by that name"}
	}))
	defer srv.Close()
	c := srv.Client()
	defer c.CloseIdleConnections()
	ctx := context.Background()
	grid, _, err := c.Grids.Get(ctx, SeedGridID)
	if err != nil {
		t.Fatal(err)
	}
	req, err := grid.RunRequest(map[string]any{"Full Name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Grids.Run(ctx, SeedGridID, req); !errors.Is(err, bitscale.ErrRunFailed) {
		t.Fatalf("the run returned %v, want it failed", err)
	}

	runs := srv.Runs()
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	if runs[0].Status != "failed" || runs[0].Error == nil || runs[0].Error.Code != "NO_MATCH" {
		t.Errorf("run ended %s with %+v, want failed with NO_MATCH", runs[0].Status, runs[0].Error)
	}
	if seen.WorkspaceID != SeedWorkspaceID || seen.Grid.ID != SeedGridID || len(seen.Grid.Columns) != 4 || seen.Inputs[ColumnFullName] != "Ada" {
		t.Errorf("the enricher was given %+v", seen)
	}
	got, ok := srv.Run(runs[0].ID)
	if !ok || !reflect.DeepEqual(got, runs[0]) {
		t.Errorf("Run(%q) = %+v, %v; want %+v", runs[0].ID, got, ok, runs[0])
	}
	var re *RunError
	if !errors.As(runs[0].Error, &re) {
		t.Error("a run's error is not a *RunError")
	}
}

// TestPathsAreWrittenAlike checks that a Fault.Path written as
// Request.Path reports a request matches that request, and that the
// relative form matches it too.
func TestPathsAreWrittenAlike(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	get := func() int {
		t.Helper()
		r, err := http.NewRequest(http.MethodGet, srv.URL()+"user/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header["api_key"] = []string{srv.APIKey()}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	defer http.DefaultClient.CloseIdleConnections()

	if status := get(); status != http.StatusOK {
		t.Fatalf("GET user/me answered %d", status)
	}
	recorded := srv.Requests()[0].Path
	if recorded != "/api/v1/user/me" {
		t.Errorf("Request.Path is %q, want the path from the server's root", recorded)
	}
	for _, path := range []string{recorded, "user/me", "/api/v1/user/*"} {
		srv.InjectFault(Fault{Path: path, Status: http.StatusTeapot})
		if status := get(); status != http.StatusTeapot {
			t.Errorf("a fault on %q did not match %q: answered %d", path, recorded, status)
		}
	}
	srv.InjectFault(Fault{Path: "/api/v1/workspaces", Status: http.StatusTeapot})
	if status := get(); status != http.StatusOK {
		t.Errorf("a fault on another path matched: answered %d", status)
	}
	srv.ClearFaults()
	srv.ClearHistory()
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests after ClearHistory", n)
	}
}
