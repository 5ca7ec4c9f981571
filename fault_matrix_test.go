package bitscale_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outcome is how a call through a fault ended.
type outcome int

const (
	succeeded   outcome = iota
	apiError            // *APIError, the run surely not started
	decodeError         // *DecodeError
	netError            // no response
	unknown             // ErrOutcomeUnknown: the run may have started
)

func (o outcome) String() string {
	return [...]string{"succeeded", "API error", "decode error", "network error", "outcome unknown"}[o]
}

func classify(err error) outcome {
	var apiErr *bitscale.APIError
	var decErr *bitscale.DecodeError
	switch {
	case err == nil:
		return succeeded
	case errors.Is(err, bitscale.ErrOutcomeUnknown):
		return unknown
	case errors.As(err, &apiErr):
		return apiError
	case errors.As(err, &decErr):
		return decodeError
	}
	return netError
}

// expect is what one fault does to a call: the attempts the server saw (or
// dials, when there is no server), how the call ended, and the runs the
// fake recorded.
type expect struct {
	attempts int
	outcome  outcome
	runs     int
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	// Waits the server asks for are fractions of a second, which the
	// client takes as readily as whole seconds, so that the matrix does
	// not spend its time asleep.
	retryAfter := http.Header{"Retry-After": {"0.05"}}
	cases := []struct {
		name  string
		fault fakeserver.Fault // Times 0: the next matching request only
		// after: for the run POST, apply the fault after the fake ran the
		// request, as a failure between a server and its client would.
		after    bool
		refused  bool // no server at all
		get, run expect
	}{
		{name: "connection refused", refused: true,
			get: expect{3, netError, 0}, run: expect{3, netError, 0}},
		{name: "reset before response", fault: fakeserver.Fault{Kind: fakeserver.FaultReset}, after: true,
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 1}},
		{name: "reset mid-body", fault: fakeserver.Fault{Kind: fakeserver.FaultResetMidBody}, after: true,
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 1}},
		{name: "429 with Retry-After", fault: fakeserver.Fault{Status: 429, Code: "RATE_LIMITED", Header: retryAfter},
			get: expect{2, succeeded, 0}, run: expect{2, succeeded, 1}},
		{name: "429 with only X-RateLimit-Reset", fault: fakeserver.Fault{Status: 429, Code: "RATE_LIMITED"},
			get: expect{2, succeeded, 0}, run: expect{2, succeeded, 1}},
		{name: "500", fault: fakeserver.Fault{Status: 500}, after: true,
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 1}},
		{name: "502 with an HTML body", fault: fakeserver.Fault{Kind: fakeserver.FaultHTML, Status: 502}, after: true,
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 1}},
		{name: "503 with Retry-After", fault: fakeserver.Fault{Status: 503, Header: retryAfter},
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 0}},
		{name: "504", fault: fakeserver.Fault{Status: 504}, after: true,
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 1}},
		{name: "slow past the attempt timeout", fault: fakeserver.Fault{Kind: fakeserver.FaultSlow, Delay: 2 * time.Second}, after: true,
			get: expect{2, succeeded, 0}, run: expect{1, unknown, 1}},
		{name: "malformed JSON", fault: fakeserver.Fault{Kind: fakeserver.FaultMalformedJSON}, after: true,
			get: expect{1, decodeError, 0}, run: expect{1, unknown, 1}},
		{name: "empty 200", fault: fakeserver.Fault{Kind: fakeserver.FaultEmptyBody}, after: true,
			get: expect{1, decodeError, 0}, run: expect{1, unknown, 1}},
	}
	for _, tc := range cases {
		for _, op := range []string{"GET", "run POST"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				t.Parallel()
				want := tc.get
				if op == "run POST" {
					want = tc.run
				}
				srv := fakeserver.New()
				defer srv.Close()
				var dials atomic.Int32
				c := matrixClient(t, srv, tc.refused, &dials)

				f := tc.fault
				f.AfterHandling = tc.after && op == "run POST"
				if tc.name == "429 with only X-RateLimit-Reset" {
					f.Header = http.Header{"X-Ratelimit-Reset": {unixMilliIn(50 * time.Millisecond)}, "X-Ratelimit-Remaining": {"0"}}
				}
				var err error
				if op == "GET" {
					f.Method, f.Path = "GET", "grids/grid_001"
					srv.InjectFault(f)
					_, _, err = c.Grids.Get(context.Background(), "grid_001")
				} else {
					f.Method, f.Path = "POST", "grids/grid_001/run"
					srv.InjectFault(f)
					_, _, err = c.Grids.Run(context.Background(), "grid_001", janeDoe())
				}

				assert.Equal(t, want.outcome, classify(err), "error: %v", err)
				attempts := len(srv.Requests())
				if tc.refused {
					attempts = int(dials.Load())
				}
				assert.Equal(t, want.attempts, attempts, "attempts")
				assert.Equal(t, want.runs, len(srv.Runs()), "runs recorded")
				if want.outcome == unknown {
					assert.Contains(t, err.Error(), "not sent again")
				}
			})
		}
	}
}

// matrixClient returns a client of srv, or of refusedURL when refused,
// with a 1s attempt timeout and no connection reuse: net/http silently
// resends a GET whose reused connection fails, which would hide attempts.
func matrixClient(t *testing.T, srv *fakeserver.Server, refused bool, dials *atomic.Int32) *bitscale.Client {
	t.Helper()
	base := srv.URL()
	if refused {
		base = refusedURL + "/api/v1/"
	}
	var d net.Dialer
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	c, err := bitscale.NewClient(srv.APIKey(),
		bitscale.WithBaseURL(base),
		bitscale.WithWorkspaceID(fakeserver.SeedWorkspaceID),
		bitscale.WithHTTPClient(&http.Client{Transport: tr}),
		bitscale.WithMaxRetries(2),
		bitscale.WithRetryWait(5*time.Millisecond, 5*time.Second),
		bitscale.WithAttemptTimeout(time.Second))
	require.NoError(t, err)
	return c
}

// refusedURL is an address that refuses connections: port 1, which no
// test listens on, and which is never handed out as an ephemeral port. A
// port a test listened on and closed could be given to another test's
// server, running in parallel, before it is dialled.
const refusedURL = "http://127.0.0.1:1"

// unixMilliIn returns the Unix time d from now in seconds with
// milliseconds, an X-RateLimit-Reset the client takes as exactly as one in
// whole seconds.
func unixMilliIn(d time.Duration) string {
	return strconv.FormatFloat(float64(time.Now().Add(d).UnixMilli())/1000, 'f', 3, 64)
}

func janeDoe() *bitscale.RunRequest {
	return &bitscale.RunRequest{Inputs: map[string]any{
		fakeserver.ColumnFullName: "Jane Doe",
		fakeserver.ColumnCompany:  "Acme Corp",
	}}
}

func TestCancelDuringLongRetryAfterWait(t *testing.T) {
	t.Parallel()
	srv := fakeserver.New()
	defer srv.Close()
	srv.InjectFault(fakeserver.Fault{Method: "GET", Path: "user/me", Status: 429, Code: "RATE_LIMITED", RetryAfter: 30 * time.Second})
	c, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()), bitscale.WithRetryWait(time.Millisecond, time.Minute))
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Users.Me(ctx)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(srv.Requests()) == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // into the 30s wait
	cancel()
	select { // a third of the wait: it ended with the context, not its timer
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the call sat out the Retry-After wait")
	}
	assert.Len(t, srv.Requests(), 1)
}
