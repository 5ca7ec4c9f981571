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
// A Server is safe for concurrent use, and Close leaves no goroutine
// behind.
package bitscaletest

import (
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// Server is a running fake BitScale API. Its methods, such as URL, APIKey,
// AddGrid, InjectFault, Requests, Runs and Deliveries, are documented on
// the embedded type.
type Server struct {
	*fakeserver.Server
}

// NewServer starts a fake on a random loopback port. It panics if it
// cannot listen, as httptest.NewServer does.
func NewServer(opts ...Option) *Server {
	return &Server{fakeserver.New(opts...)}
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

// Types of the fake's data, faults and records.
type (
	Option        = fakeserver.Option
	User          = fakeserver.User
	Workspace     = fakeserver.Workspace
	Creator       = fakeserver.Creator
	Plan          = fakeserver.Plan
	Credits       = fakeserver.Credits
	Members       = fakeserver.Members
	Grid          = fakeserver.Grid
	GridSettings  = fakeserver.GridSettings
	Column        = fakeserver.Column
	Run           = fakeserver.Run
	RunError      = fakeserver.RunError
	Enricher      = fakeserver.Enricher
	EnrichRequest = fakeserver.EnrichRequest
	Fault         = fakeserver.Fault
	FaultKind     = fakeserver.FaultKind
	Request       = fakeserver.Request
	Delivery      = fakeserver.Delivery
)

// The kinds of fault InjectFault can cause.
const (
	FaultError         = fakeserver.FaultError
	FaultSlow          = fakeserver.FaultSlow
	FaultReset         = fakeserver.FaultReset
	FaultResetMidBody  = fakeserver.FaultResetMidBody
	FaultMalformedJSON = fakeserver.FaultMalformedJSON
	FaultEmptyBody     = fakeserver.FaultEmptyBody
	FaultHTML          = fakeserver.FaultHTML
)

// IDs of the seeded data, from the API reference's examples.
const (
	SeedUserID           = fakeserver.SeedUserID
	SeedWorkspaceID      = fakeserver.SeedWorkspaceID
	SeedOtherWorkspaceID = fakeserver.SeedOtherWorkspaceID
	SeedGridID           = fakeserver.SeedGridID
	SeedOtherGridID      = fakeserver.SeedOtherGridID
	ColumnFullName       = fakeserver.ColumnFullName
	ColumnCompany        = fakeserver.ColumnCompany
	ColumnEnrichedEmail  = fakeserver.ColumnEnrichedEmail
	ColumnLinkedInURL    = fakeserver.ColumnLinkedInURL
)

// DefaultEnricher computes the fake's outputs from a row's inputs; an
// Enricher of a test's own can call it for the columns it does not care
// about.
var DefaultEnricher = fakeserver.DefaultEnricher

// WithAPIKey sets the API key the fake accepts.
func WithAPIKey(key string) Option { return fakeserver.WithAPIKey(key) }

// WithWebhookSecret sets the secret webhooks are signed with.
func WithWebhookSecret(secret string) Option { return fakeserver.WithWebhookSecret(secret) }

// WithoutSeed starts the fake with its user but no workspaces or grids.
func WithoutSeed() Option { return fakeserver.WithoutSeed() }

// WithEnricher replaces how outputs are computed from inputs; an error
// makes the run fail.
func WithEnricher(e Enricher) Option { return fakeserver.WithEnricher(e) }

// WithRunCost sets the credits each completed run costs.
func WithRunCost(credits int) Option { return fakeserver.WithRunCost(credits) }

// WithRunDurations sets how long async runs stay queued, then running.
func WithRunDurations(queued, running time.Duration) Option {
	return fakeserver.WithRunDurations(queued, running)
}

// WithSyncLatency delays every sync run's answer.
func WithSyncLatency(d time.Duration) Option { return fakeserver.WithSyncLatency(d) }

// WithRunErrorString writes a failed run's error as a plain string instead
// of an object, the other shape the API reference allows.
func WithRunErrorString() Option { return fakeserver.WithRunErrorString() }

// WithRateLimit sets the organization's limit of requests per window.
func WithRateLimit(limit int, window time.Duration) Option {
	return fakeserver.WithRateLimit(limit, window)
}

// WithWebhookTimeout sets how long a webhook receiver has to answer.
func WithWebhookTimeout(d time.Duration) Option { return fakeserver.WithWebhookTimeout(d) }

// WithWebhookBackoff sets the first wait before a webhook is delivered
// again; it doubles with each retry.
func WithWebhookBackoff(base time.Duration) Option { return fakeserver.WithWebhookBackoff(base) }

// WithLocalWebhooks lets runs give a webhook URL that is plain http:// or
// on localhost or a private address, such as an httptest server's, and
// delivers there. Without it the fake refuses such a URL, as BitScale
// does, with 422 WEBHOOK_DELIVERY_FAILED (bitscale.ErrWebhookDeliveryFailed).
// The SDK's own check lets such URLs through to a fake on loopback.
func WithLocalWebhooks() Option { return fakeserver.WithLocalWebhooks() }
