package bitscaletest

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// User is the account the fake's API key belongs to, as GET /user/me
// shows it.
type User struct {
	ID        string
	Name      string
	Email     string
	AvatarURL string
	CreatedAt time.Time
	Plan      string // "enterprise" for the seeded user
}

// Workspace is a workspace the user is a member of, with everything the
// list and detail endpoints show. AddWorkspace fills in the fields left
// empty.
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

// Credits is a workspace's credit balance for the billing cycle. The fake
// keeps Total equal to Used plus Remaining, and charges a run's cost to
// Used when the run completes.
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

// Grid is a grid of a workspace, with its column definitions. AddGrid
// fills in the fields left empty.
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

// Column is one column of a grid. Runs key their inputs and outputs by its
// ID; the SDK lets callers name it instead.
type Column struct {
	ID       string
	Name     string
	Type     string // a column type of the reference, such as "text" or "email" (bitscale.ColumnText, ...)
	IsInput  bool
	IsOutput bool
	Required bool
}

// Run is a run the fake accepted, sync or async, as Runs reports it.
type Run struct {
	ID            string // sync runs get one too, though the API does not show it
	GridID        string
	WorkspaceID   string
	Mode          string         // "sync" or "async"
	Status        string         // "queued", "running", "completed" or "failed"
	Inputs        map[string]any // as sent, keyed by column ID; JSON numbers are json.Number
	OutputColumns []string       // the run's output_columns, as sent
	WebhookURL    string         // as sent, the ref query parameter the SDK adds included
	Outputs       map[string]any // as answered, after OutputColumns filtering
	Credits       int            // credits charged: the run cost once completed, else 0
	Remaining     int            // the workspace's credits left after the charge
	Error         *RunError      // why a failed run failed, else nil
	CreatedAt     time.Time
	StartedAt     time.Time // zero while queued
	CompletedAt   time.Time // zero until the run ends
}

// RunError is why a run failed. An Enricher may return one to choose the
// code of the failed run's error; any other error fails the run with
// ENRICHMENT_FAILED and the error's text as the message.
type RunError struct {
	Code    string
	Message string
}

// Error returns the code and the message, as "CODE: message".
func (e *RunError) Error() string { return e.Code + ": " + e.Message }

// EnrichRequest is what an Enricher computes a run's outputs from.
type EnrichRequest struct {
	WorkspaceID string
	Grid        Grid           // the grid run, with its columns
	Inputs      map[string]any // keyed by column ID; JSON numbers are json.Number
}

// An Enricher computes a run's outputs, keyed by column ID; the fake then
// keeps only the run's output_columns, if it named any. An error fails the
// run: with the error's code if it is a *RunError, else
// ENRICHMENT_FAILED. The context ends when the server closes; the enricher
// should return then.
type Enricher func(ctx context.Context, req EnrichRequest) (map[string]any, error)

// DefaultEnricher computes the fake's outputs unless a test gives its own
// Enricher, which can call it for the columns it does not care about. It
// echoes the inputs and fills each output column with a value of the
// column's type that depends only on the column and the inputs. An email
// column is "first.last@company.com" and a LinkedIn column is
// "https://linkedin.com/in/firstlast", from the inputs whose columns are
// named like "Name" and "Company": for the reference's Jane Doe of Acme
// Corp, "jane.doe@acmecorp.com" and "https://linkedin.com/in/janedoe".
// Other columns get deterministic placeholders. It never fails.
func DefaultEnricher(ctx context.Context, req EnrichRequest) (map[string]any, error) {
	return fakeserver.DefaultEnricher(ctx, req.toFake())
}

// A FaultKind says what a Fault does instead of the normal response.
type FaultKind int

// The kinds of fault InjectFault can cause.
const (
	// FaultError answers with Status (default 500) and the error envelope
	// carrying Code (default INTERNAL_ERROR) and Message.
	FaultError FaultKind = iota
	// FaultSlow answers normally, after Delay.
	FaultSlow
	// FaultReset closes the connection, with a TCP reset, without a
	// response.
	FaultReset
	// FaultResetMidBody sends the status line and headers, with a
	// Content-Length, then half the body, and closes the connection.
	FaultResetMidBody
	// FaultMalformedJSON answers 200 (or Status) with a JSON body cut
	// short.
	FaultMalformedJSON
	// FaultEmptyBody answers 200 (or Status) with an empty body.
	FaultEmptyBody
	// FaultHTML answers Status (default 502) with an HTML error page, as a
	// proxy in front of the API would.
	FaultHTML
)

// String returns the kind's name, such as "reset mid-body", or
// "FaultKind(n)" for a number that is not a kind.
func (k FaultKind) String() string { return fakeserver.FaultKind(k).String() }

// Fault makes the fake misbehave on matching requests; InjectFault queues
// one.
//
// A fault applies either before handling (the default), so the request
// never reaches the API, not even its authentication: no run is created,
// no credit spent, no rate limit counted; or after handling
// (AfterHandling), so the request is served for real and only its
// response is replaced: a client that then sees a timeout or a reset
// cannot tell whether its run happened, and it did. Delay combines with
// every kind; with AfterHandling it makes a slow response to a request
// already served.
//
// Go's http.Transport silently resends an idempotent request (a GET) whose
// reused connection closed without a response, so a client that must see
// FaultReset on a GET should not reuse connections.
type Fault struct {
	Method string // the request method to match; "" matches any
	// Path is the escaped path to match, written as Request.Path reports
	// it: "/api/v1/grids/grid_001/run". A path relative to the base URL,
	// "grids/grid_001/run", means the same. A trailing "*" matches any
	// path with that prefix, and "" matches every path.
	Path string
	// Times is how many matching requests the fault applies to: 0 means
	// one, a negative number means every one until ClearFaults.
	Times         int
	Kind          FaultKind
	AfterHandling bool          // serve the request, then replace its answer
	Delay         time.Duration // wait before answering (or not)

	Status     int           // overrides the kind's status
	Code       string        // FaultError's error code
	Message    string        // FaultError's message
	RetryAfter time.Duration // sent as Retry-After, in whole seconds, if set
	Header     http.Header   // extra headers, such as X-RateLimit-Reset
}

// Request is a request the fake received, as Requests reports it.
type Request struct {
	Method string
	// Path is the escaped path as sent, from the server's root:
	// "/api/v1/grids/grid_001/run". Fault.Path matches it written the
	// same way.
	Path     string
	RawQuery string      // the query, escaped, without the "?"
	Header   http.Header // as sent, the api_key value replaced by "[redacted]"
	Body     []byte
	Time     time.Time // when it arrived
	// Status is the status answered: 0 while the request is being served,
	// and when a reset fault took the connection over.
	Status int
}

// Delivery is one attempt to deliver a run's webhook, as Deliveries
// reports it.
type Delivery struct {
	RunID      string
	URL        string // the run's webhook URL
	Attempt    int    // 1 for the first attempt, up to 4
	StatusCode int    // the receiver's status, or 0 if it did not answer
	Err        error  // why no answer came, or nil
	Body       []byte // the payload sent, the same on every attempt
	Signature  string // the X-BitScale-Signature header sent
	Time       time.Time
}

// Conversions to and from the fake's own types. Types whose fields are all
// of other packages convert directly; the others are copied field by field
// (TestTypesMatchTheFake checks that no field is forgotten).

func (ws Workspace) toFake() fakeserver.Workspace {
	return fakeserver.Workspace{
		ID:        ws.ID,
		Name:      ws.Name,
		Role:      ws.Role,
		CreatedAt: ws.CreatedAt,
		CreatedBy: fakeserver.Creator(ws.CreatedBy),
		Plan:      fakeserver.Plan(ws.Plan),
		Credits:   fakeserver.Credits(ws.Credits),
		Members:   fakeserver.Members(ws.Members),
	}
}

func workspaceFromFake(ws fakeserver.Workspace) Workspace {
	return Workspace{
		ID:        ws.ID,
		Name:      ws.Name,
		Role:      ws.Role,
		CreatedAt: ws.CreatedAt,
		CreatedBy: Creator(ws.CreatedBy),
		Plan:      Plan(ws.Plan),
		Credits:   Credits(ws.Credits),
		Members:   Members(ws.Members),
	}
}

func (g Grid) toFake() fakeserver.Grid {
	var cols []fakeserver.Column
	if g.Columns != nil {
		cols = make([]fakeserver.Column, len(g.Columns))
		for i, c := range g.Columns {
			cols[i] = fakeserver.Column(c)
		}
	}
	return fakeserver.Grid{
		ID:          g.ID,
		Name:        g.Name,
		Description: g.Description,
		Settings:    fakeserver.GridSettings(g.Settings),
		Columns:     cols,
		RowCount:    g.RowCount,
		CreatedAt:   g.CreatedAt,
		UpdatedAt:   g.UpdatedAt,
	}
}

func gridFromFake(g fakeserver.Grid) Grid {
	var cols []Column
	if g.Columns != nil {
		cols = make([]Column, len(g.Columns))
		for i, c := range g.Columns {
			cols[i] = Column(c)
		}
	}
	return Grid{
		ID:          g.ID,
		Name:        g.Name,
		Description: g.Description,
		Settings:    GridSettings(g.Settings),
		Columns:     cols,
		RowCount:    g.RowCount,
		CreatedAt:   g.CreatedAt,
		UpdatedAt:   g.UpdatedAt,
	}
}

func runFromFake(r fakeserver.Run) Run {
	var runErr *RunError
	if r.Error != nil {
		e := RunError(*r.Error)
		runErr = &e
	}
	return Run{
		ID:            r.ID,
		GridID:        r.GridID,
		WorkspaceID:   r.WorkspaceID,
		Mode:          r.Mode,
		Status:        r.Status,
		Inputs:        maps.Clone(r.Inputs),
		OutputColumns: slices.Clone(r.OutputColumns),
		WebhookURL:    r.WebhookURL,
		Outputs:       maps.Clone(r.Outputs),
		Credits:       r.Credits,
		Remaining:     r.Remaining,
		Error:         runErr,
		CreatedAt:     r.CreatedAt,
		StartedAt:     r.StartedAt,
		CompletedAt:   r.CompletedAt,
	}
}

func (req EnrichRequest) toFake() fakeserver.EnrichRequest {
	return fakeserver.EnrichRequest{WorkspaceID: req.WorkspaceID, Grid: req.Grid.toFake(), Inputs: req.Inputs}
}

func enrichRequestFromFake(req fakeserver.EnrichRequest) EnrichRequest {
	return EnrichRequest{WorkspaceID: req.WorkspaceID, Grid: gridFromFake(req.Grid), Inputs: req.Inputs}
}

// toFake makes an enricher of the fake's from e; nil stays nil, which the
// fake takes as its default. A *RunError e returns becomes the fake's.
func (e Enricher) toFake() fakeserver.Enricher {
	if e == nil {
		return nil
	}
	return func(ctx context.Context, req fakeserver.EnrichRequest) (map[string]any, error) {
		out, err := e(ctx, enrichRequestFromFake(req))
		var re *RunError
		if errors.As(err, &re) {
			return out, &fakeserver.RunError{Code: re.Code, Message: re.Message}
		}
		return out, err
	}
}

func (f Fault) toFake() fakeserver.Fault {
	return fakeserver.Fault{
		Method:        f.Method,
		Path:          f.Path,
		Times:         f.Times,
		Kind:          fakeserver.FaultKind(f.Kind),
		AfterHandling: f.AfterHandling,
		Delay:         f.Delay,
		Status:        f.Status,
		Code:          f.Code,
		Message:       f.Message,
		RetryAfter:    f.RetryAfter,
		Header:        f.Header,
	}
}

func requestFromFake(r fakeserver.Request) Request {
	return Request{
		Method:   r.Method,
		Path:     r.Path,
		RawQuery: r.RawQuery,
		Header:   r.Header,
		Body:     r.Body,
		Time:     r.Time,
		Status:   r.Status,
	}
}
