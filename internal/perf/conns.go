package perf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// ConnResult is what Connections measured.
type ConnResult struct {
	Callers, Calls int
	Conns          int         // TCP connections the server accepted
	Statuses       map[int]int // answers on the wire, retries included, by status
	// Pauses counts the calls that began when no call was in flight and
	// ended PauseAfter or longer after the last one had, as on a busy
	// machine that stalls the callers:
	// the SDK then sends a run on a new connection, by design, rather than
	// trust one the server may have dropped meanwhile.
	Pauses int
}

// PauseAfter is a pause in the calls that Connections counts: less than the
// 500ms that the SDK trusts an idle connection with a run.
const PauseAfter = 400 * time.Millisecond

// Grids of the fake that Connections adds for its faults, so that a fault
// meant for one call is never taken by another caller's.
const (
	flakyGrid = "grid_flaky" // its next GET answers 500 once, then 200
	brokenRun = "grid_500"   // every run answers 500
)

// Connections makes calls SDK calls, shared among callers goroutines, to
// the fake BitScale server, and counts the TCP connections they opened.
// One call in three is answered 4xx or 5xx (404, 400, 422, a 500 on a GET
// that is retried and then succeeds, and a 500 on a grid run, which is not
// retried): a client that closed its connection after an error answer
// would show here as one connection per error.
//
// The server holds the callers' first calls until each caller has one in
// flight. Without that, net/http's Transport may dial more connections
// than callers while they start, whoever its user (see ColdStart): a
// request waiting for its dial takes a connection another caller has just
// freed, and the dial, which is not cancelled, adds a connection to the
// pool while that other caller dials again.
//
// It returns an error if a call did not end as planned.
func Connections(callers, calls int) (ConnResult, error) {
	fake := fakeserver.New(fakeserver.WithRateLimit(1<<30, time.Minute))
	defer fake.Close()
	if _, err := fake.AddGrid(fakeserver.SeedWorkspaceID, fakeserver.Grid{ID: flakyGrid}); err != nil {
		return ConnResult{}, err
	}
	fake.InjectFault(fakeserver.Fault{Method: http.MethodPost, Path: "grids/" + brokenRun + "/run", Times: -1})
	wire := NewWire(fake.Handler(), min(callers, calls))
	defer wire.Close()
	c, err := bitscale.NewClient(fake.APIKey(),
		bitscale.WithBaseURL(wire.URL()),
		bitscale.WithWorkspaceID(fakeserver.SeedWorkspaceID),
		// Retries wait as little as possible: only connections count.
		bitscale.WithRetryWait(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		return ConnResult{}, err
	}
	defer c.CloseIdleConnections()

	errs := make([]error, callers)
	var mu sync.Mutex
	inFlight, pauses, idleSince := 0, 0, time.Now()
	parallelCalls(callers, calls, func(w, i int) bool {
		mu.Lock()
		quiet, since := inFlight == 0 && i >= callers, idleSince
		inFlight++
		mu.Unlock()
		err := mixedCall(c, fake, i)
		mu.Lock()
		// The SDK looks at the pause when it sends, during the call.
		if quiet && time.Since(since) >= PauseAfter {
			pauses++
		}
		if inFlight--; inFlight == 0 {
			idleSince = time.Now()
		}
		mu.Unlock()
		if err != nil {
			errs[w] = fmt.Errorf("call %d: %w", i, err)
			return false
		}
		return true
	})
	res := ConnResult{Callers: callers, Calls: calls, Conns: wire.Conns(), Statuses: map[int]int{}, Pauses: pauses}
	for _, s := range wire.Statuses() {
		res.Statuses[s.Code]++
	}
	return res, errors.Join(errs...)
}

// parallelCalls makes calls numbered 0 to calls-1, shared among callers
// goroutines: goroutine w makes calls w, w+callers, ... until call returns
// false.
func parallelCalls(callers, calls int, call func(w, i int) bool) {
	var wg sync.WaitGroup
	for w := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls; i += callers {
				if !call(w, i) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// ColdStart makes calls Grids.Get calls, shared among callers goroutines
// that start at once, through the SDK and then through the Baseline, each
// against a Server of its own, and returns the connections each opened.
// It shows what Connections avoids by holding the first calls: net/http may
// open more connections than callers, SDK or not.
func ColdStart(callers, calls int) (sdk, base int, err error) {
	ctx := context.Background()
	sdk, err = coldConns(callers, calls, func(s *Server) (func() error, func(), error) {
		c, err := NewClient(s, false)
		if err != nil {
			return nil, nil, err
		}
		return func() error { return gridsGet.sdk(ctx, c) }, c.CloseIdleConnections, nil
	})
	if err != nil {
		return 0, 0, err
	}
	base, err = coldConns(callers, calls, func(s *Server) (func() error, func(), error) {
		bl := NewBaseline(s.URL(), nil)
		return func() error { return gridsGet.base(ctx, bl) }, bl.CloseIdleConnections, nil
	})
	return sdk, base, err
}

// coldConns starts a Server, makes the calls with the function client
// returns, and returns the number of connections the server accepted.
func coldConns(callers, calls int, client func(*Server) (call func() error, closeIdle func(), err error)) (int, error) {
	s := NewServer()
	defer s.Close()
	call, closeIdle, err := client(s)
	if err != nil {
		return 0, err
	}
	defer closeIdle()
	errs := make([]error, callers)
	parallelCalls(callers, calls, func(w, _ int) bool {
		errs[w] = call()
		return errs[w] == nil
	})
	return s.Conns(), errors.Join(errs...)
}

// mixedCall makes call number i of a mix that repeats every 20 calls: 13
// that succeed, 5 answered 4xx, one answered 500 then retried and
// answered 200, one answered 500 and not retried.
// It returns an error if the call does not end as planned.
func mixedCall(c *bitscale.Client, fake *fakeserver.Server, i int) error {
	ctx := context.Background()
	var err, want error
	switch i % 20 {
	case 8:
		_, _, err = c.Users.Me(ctx)
	case 9:
		_, _, err = c.Workspaces.List(ctx)
	case 10:
		_, _, err = c.Grids.List(ctx, "", nil)
	case 11:
		_, _, err = c.Grids.Run(ctx, fakeserver.SeedGridID, RunRequest())
	case 12:
		_, _, err = c.Grids.Get(ctx, MissingGrid)
		want = bitscale.ErrGridNotFound // 404
	case 13:
		_, _, err = c.Runs.Get(ctx, fakeserver.SeedGridID, "run_missing")
		want = bitscale.ErrNotFound // 404
	case 14:
		_, _, err = c.Grids.Run(ctx, fakeserver.SeedGridID, &bitscale.RunRequest{
			Inputs: map[string]any{fakeserver.ColumnFullName: 42},
		})
		want = bitscale.ErrInvalidColumnType // 422
	case 15:
		_, _, err = c.Grids.Run(ctx, fakeserver.SeedGridID, &bitscale.RunRequest{
			Inputs: map[string]any{fakeserver.ColumnCompany: "Acme Corp"},
		})
		want = bitscale.ErrMissingRequiredField // 400
	case 16:
		fake.InjectFault(fakeserver.Fault{Method: http.MethodGet, Path: "grids/" + flakyGrid})
		_, _, err = c.Grids.Get(ctx, flakyGrid) // 500, retried, then 200
	case 17:
		_, _, err = c.Grids.Run(ctx, brokenRun, RunRequest())
		want = bitscale.ErrOutcomeUnknown // 500, not retried
	case 18:
		_, _, err = c.Workspaces.Get(ctx, "ws_missing")
		want = bitscale.ErrNotFound // 404
	default:
		_, _, err = c.Grids.Get(ctx, fakeserver.SeedGridID)
	}
	switch {
	case want == nil && err != nil:
		return err
	case want != nil && !errors.Is(err, want):
		return fmt.Errorf("got %v, want an error matching %v", err, want)
	}
	return nil
}
