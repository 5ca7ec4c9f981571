// Package bitscaletest provides a fake BitScale API server for the tests of
// programs that use package bitscale.
//
// The fake runs in-process on a loopback port and behaves as the API
// reference says BitScale behaves: it checks the api_key and workspace-id
// headers, validates run inputs against the grid's columns, charges
// credits, moves async runs through queued and running to completed or
// failed, signs and retries webhooks, and enforces a rate limit. It starts
// seeded with the reference's example data (user usr_abc123, workspaces
// ws_abc123 and ws_def456, grid grid_001 with its columns); tests add their
// own workspaces and grids, inject faults, and inspect what was sent:
//
//	srv := bitscaletest.NewServer()
//	defer srv.Close()
//	client := srv.Client()
//	// ... exercise code that takes a *bitscale.Client ...
//	if runs := srv.Runs(); len(runs) != 1 {
//		t.Fatalf("ran %d times, want once", len(runs))
//	}
//
// Paths are given as the client sends them, escaped and from the server's
// root: a recorded Request.Path reads "/api/v1/grids/grid_001/run", and a
// Fault.Path written the same way matches it.
//
// A Server is safe for concurrent use, and Close leaves no goroutine
// behind.
package bitscaletest

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// Server is a running fake BitScale API. Make one with NewServer and stop
// it with Close.
type Server struct {
	fake *fakeserver.Server
}

// NewServer starts a fake on a random loopback port, configured by opts.
// It panics if it cannot listen, as httptest.NewServer does.
func NewServer(opts ...Option) *Server {
	s, err := Start(opts...)
	if err != nil {
		panic("bitscaletest: " + err.Error())
	}
	return s
}

// Start is NewServer for a program that serves the fake, such as on the
// address WithAddr gives: it returns the error of a port that cannot be
// listened on instead of panicking.
func Start(opts ...Option) (*Server, error) {
	var c config
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	fake, err := fakeserver.Start(c.opts...)
	if err != nil {
		return nil, err
	}
	return &Server{fake}, nil
}

// Client returns a client of the fake with its API key and the seeded
// workspace ws_abc123, then opts. Retries start after 10ms instead of
// 500ms, to keep tests fast; the longest wait stays the SDK's default, so
// that Retry-After and rate-limit resets are honoured as in production.
// It panics when an option is invalid.
func (s *Server) Client(opts ...bitscale.Option) *bitscale.Client {
	base := []bitscale.Option{
		bitscale.WithBaseURL(s.URL()),
		bitscale.WithWorkspaceID(SeedWorkspaceID),
		bitscale.WithRetryWait(10*time.Millisecond, bitscale.DefaultRetryWaitMax),
	}
	c, err := bitscale.NewClient(s.APIKey(), append(base, opts...)...)
	if err != nil {
		panic("bitscaletest: " + err.Error())
	}
	return c
}

// URL returns the fake API's base URL, version path and trailing slash
// included: "http://127.0.0.1:PORT/api/v1/". Give it to
// bitscale.WithBaseURL.
func (s *Server) URL() string { return s.fake.URL() }

// APIKey returns the only api_key the fake accepts: the one given with
// WithAPIKey, or a fixed test key. Any other key is answered 401
// INVALID_API_KEY.
func (s *Server) APIKey() string { return s.fake.APIKey() }

// WebhookSecret returns the secret the fake signs webhook deliveries with:
// the one given with WithWebhookSecret, or a fixed test secret. Give it to
// bitscale.WithWebhookSecret.
func (s *Server) WebhookSecret() string { return s.fake.WebhookSecret() }

// Handler returns the fake's HTTP handler, for mounting it on a server of
// one's own. Poll URLs it hands out still point at the fake's own
// listener, which stays open until Close.
func (s *Server) Handler() http.Handler { return s.fake.Handler() }

// Close stops the fake: it stops accepting connections, cuts every wait
// (async run stages, slow responses, webhook backoffs and deliveries in
// flight), lets requests being served finish, and returns once every
// goroutine the fake started has ended. Runs still queued or running stay
// so. Close is safe to call more than once.
func (s *Server) Close() { s.fake.Close() }

// User returns the account GET /user/me describes.
func (s *Server) User() User { return User(s.fake.User()) }

// SetUser replaces the account GET /user/me describes. Workspaces added
// later name it as their creator by default.
func (s *Server) SetUser(u User) { s.fake.SetUser(fakeserver.User(u)) }

// AddWorkspace adds a workspace the user is a member of and returns it as
// stored. Empty fields get defaults: a random "ws_" ID, role "admin", the
// current time, the user as creator, an "Enterprise" plan renewing in 30
// days that includes Credits.Total credits (100000 if that is zero too),
// and one member. A zero Credits is a full balance of the plan's credits;
// otherwise a zero Total becomes Used+Remaining and a zero Remaining
// becomes Total-Used (use SetCredits for an empty balance). It returns an
// error, and adds nothing, if a workspace with that ID exists.
func (s *Server) AddWorkspace(ws Workspace) (Workspace, error) {
	got, err := s.fake.AddWorkspace(ws.toFake())
	if err != nil {
		return Workspace{}, rename(err)
	}
	return workspaceFromFake(got), nil
}

// Workspace returns the workspace with the given ID as the API would show
// it, and false if there is none.
func (s *Server) Workspace(id string) (Workspace, bool) {
	ws, ok := s.fake.Workspace(id)
	return workspaceFromFake(ws), ok
}

// SetCredits sets a workspace's remaining credits; Total becomes Used plus
// remaining. Runs that would need more credits than remain are refused
// with 402 INSUFFICIENT_CREDITS. It returns an error if the workspace does
// not exist or remaining is negative.
func (s *Server) SetCredits(workspaceID string, remaining int) error {
	return rename(s.fake.SetCredits(workspaceID, remaining))
}

// SetRunQuota lets a workspace start n more runs, sync or async, whatever
// their outcome; after that POST /grids/{id}/run answers 429
// RUN_LIMIT_EXCEEDED. A negative n removes the quota. It returns an error
// if the workspace does not exist.
func (s *Server) SetRunQuota(workspaceID string, n int) error {
	return rename(s.fake.SetRunQuota(workspaceID, n))
}

// AddGrid adds a grid to a workspace and returns it as stored. Empty
// fields get defaults: a random "grid_" ID, a random UUID for each column
// without one, type "text" for a column without one, row limit 5000,
// visibility "workspace", and the current time. It returns an error, and
// adds nothing, if the workspace does not exist, a grid with that ID
// exists, two columns share an ID, or a column's type is not one of the
// reference's (the bitscale.Column* constants).
func (s *Server) AddGrid(workspaceID string, g Grid) (Grid, error) {
	got, err := s.fake.AddGrid(workspaceID, g.toFake())
	if err != nil {
		return Grid{}, rename(err)
	}
	return gridFromFake(got), nil
}

// Grid returns the grid with the given ID, with its columns, and false if
// there is none.
func (s *Server) Grid(id string) (Grid, bool) {
	g, ok := s.fake.Grid(id)
	return gridFromFake(g), ok
}

// SetGridRunDurations makes async runs of one grid stay queued, then
// running, for the given durations instead of the server's. It returns an
// error if the grid does not exist.
func (s *Server) SetGridRunDurations(gridID string, queued, running time.Duration) error {
	return rename(s.fake.SetGridRunDurations(gridID, queued, running))
}

// SetEnricher replaces the function that computes run outputs, as
// WithEnricher does; nil restores DefaultEnricher. Runs already running
// keep the one they had.
func (s *Server) SetEnricher(e Enricher) { s.fake.SetEnricher(e.toFake()) }

// SetRunCost sets the credits a completed run costs, as WithRunCost does;
// a negative cost counts as zero.
func (s *Server) SetRunCost(credits int) { s.fake.SetRunCost(credits) }

// SetRunDurations sets how long async runs accepted from now on stay
// queued, then running, as WithRunDurations does, unless their grid has
// its own durations (SetGridRunDurations). Negative durations count as
// zero.
func (s *Server) SetRunDurations(queued, running time.Duration) {
	s.fake.SetRunDurations(queued, running)
}

// SetRateLimit replaces the organization's rate limit, as WithRateLimit
// does, and starts counting afresh.
func (s *Server) SetRateLimit(limit int, window time.Duration) { s.fake.SetRateLimit(limit, window) }

// Runs returns every run the fake accepted so far, sync and async, oldest
// first, each as it stands now. It returns an empty slice if there were
// none.
func (s *Server) Runs() []Run {
	fr := s.fake.Runs()
	out := make([]Run, len(fr))
	for i, r := range fr {
		out[i] = runFromFake(r)
	}
	return out
}

// Run returns the run with the given ID as it stands now, and false if the
// fake accepted none with that ID.
func (s *Server) Run(id string) (Run, bool) {
	r, ok := s.fake.Run(id)
	return runFromFake(r), ok
}

// InjectFault queues a fault. Faults are tried in the order injected; a
// matching request consumes one use of the first that matches. A kind
// that is not one of the Fault constants acts as FaultError.
func (s *Server) InjectFault(f Fault) { s.fake.InjectFault(f.toFake()) }

// ClearFaults drops every fault not used up yet.
func (s *Server) ClearFaults() { s.fake.ClearFaults() }

// Requests returns every request the fake received so far, oldest first,
// faulted and refused ones included, with the api_key header's value
// replaced by "[redacted]". It returns an empty slice if there were none.
func (s *Server) Requests() []Request {
	fr := s.fake.Requests()
	out := make([]Request, len(fr))
	for i, r := range fr {
		out[i] = requestFromFake(r)
	}
	return out
}

// Deliveries returns every webhook delivery attempt so far, oldest first;
// a delivery retried three times shows as four attempts. It returns an
// empty slice if there were none.
func (s *Server) Deliveries() []Delivery {
	fd := s.fake.Deliveries()
	out := make([]Delivery, len(fd))
	for i, d := range fd {
		out[i] = Delivery(d)
	}
	return out
}

// ClearHistory forgets the recorded requests and webhook deliveries, for a
// test that checks what one step sent. Runs, being state the API serves,
// stay.
func (s *Server) ClearHistory() { s.fake.ClearHistory() }

// rename gives an error of the fake the name of this package.
func rename(err error) error {
	if err == nil {
		return nil
	}
	msg, ok := strings.CutPrefix(err.Error(), "fakeserver: ")
	if !ok {
		return err
	}
	return errors.New("bitscaletest: " + msg)
}
