package bitscale_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGateKeepsBusyClientUnderTheLimit drives 16 goroutines through one
// client against the fake at a limit below their calls, so that they span
// two or three one-second windows.
func TestGateKeepsBusyClientUnderTheLimit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spans several rate-limit windows")
	}
	const limit, callers, calls = 100, 16, 10
	srv := fakeserver.New(fakeserver.WithRateLimit(limit, time.Second))
	defer srv.Close()
	c, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()),
		bitscale.WithRetryWait(10*time.Millisecond, 10*time.Second))
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	var wg sync.WaitGroup
	errs := make(chan error, callers*calls)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				_, _, err := c.Users.Me(context.Background())
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "no 429 reaches the caller")
	}

	reqs := srv.Requests()
	var refused int
	for _, r := range reqs {
		if r.Status == 429 {
			refused++
		}
	}
	t.Logf("%d requests on the wire for %d calls, %d answered 429", len(reqs), callers*calls, refused)
	assert.Less(t, float64(refused), 0.01*float64(len(reqs)), "429s on the wire under 1%% of requests")
	assert.Equal(t, callers*calls, len(reqs)-refused)
}

// After a reset, one slow sync run out as a probe must not hold every other
// request back: the gate lets a tenth of the limit probe, so a GET sent
// while the run is still computing goes out at once. The run is held until
// the GET has returned; a gate that held the GET behind it would never
// answer, which the test reports after a generous bound instead of hanging.
func TestGateSlowProbeDoesNotHoldEveryone(t *testing.T) {
	t.Parallel()
	var first atomic.Bool
	first.Store(true)
	runArrived, releaseRun := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "100")
		if first.CompareAndSwap(true, false) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			// Within the client's 20ms maximum wait, so the next request
			// waits for the reset rather than failing at once.
			w.Header().Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().Add(10*time.Millisecond).UnixMilli())/1000, 'f', 3, 64))
		} else {
			w.Header().Set("X-RateLimit-Remaining", "98")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
		}
		if r.Method == http.MethodPost {
			close(runArrived)
			<-releaseRun // a sync run computing
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"usr_1","status":"completed","outputs":{}}`))
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Users.Me(context.Background()) // spends the window until its reset
	require.NoError(t, err)

	runDone := make(chan error, 1)
	go func() {
		_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
		runDone <- err
	}()
	select {
	case <-runArrived: // waited for the reset, and went out first: the probe
	case err := <-runDone:
		t.Fatalf("the run ended before reaching the server: %v", err)
	}

	meDone := make(chan error, 1)
	go func() {
		_, _, err := c.Users.Me(context.Background())
		meDone <- err
	}()
	select {
	case err := <-meDone:
		assert.NoError(t, err, "GET while a slow run is the probe")
	case <-time.After(30 * time.Second):
		t.Error("GET held behind a sync run out as the probe")
		defer func() { <-meDone }() // it ends once the run does
	}
	close(releaseRun)
	assert.NoError(t, <-runDone)
}

// A response with X-RateLimit-Reset but no parsable X-RateLimit-Remaining
// says nothing of what is left: the gate must stay open.
func TestUnparsableRemainingDoesNotCloseGate(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "999.0") // or absent
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"usr_1"}`))
	})
	c, _ := newTestClient(t, h)
	c.Users.Me(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := c.Users.Me(ctx)
	t.Logf("second call: %v; RateLimit()=%v", err, c.RateLimit())
	if err != nil {
		t.Errorf("gate closed by an unparsable Remaining")
	}
}

type panicOnce struct {
	next  http.RoundTripper
	armed atomic.Bool
}

func (p *panicOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.armed.CompareAndSwap(true, false) {
		panic("boom in a middleware transport")
	}
	return p.next.RoundTrip(r)
}

// A panic in a wrapped transport while the gate's probe is out must not
// leave the gate waiting for an answer that never comes.
func TestGateSurvivesAPanickingTransport(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "10")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().Add(100*time.Millisecond).UnixMilli())/1000, 'f', 3, 64))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"usr_1"}`))
	})
	pt := &panicOnce{next: http.DefaultTransport}
	c, _ := newTestClient(t, h, bitscale.WithHTTPClient(&http.Client{Transport: pt}))
	if _, _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the window has reset: next request is the probe
	pt.armed.Store(true)
	func() {
		defer func() { t.Logf("recovered: %v (as net/http's server would for a handler)", recover()) }()
		c.Users.Me(context.Background())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := c.Users.Me(ctx)
	t.Logf("next call: err=%v after %s", err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Errorf("gate stuck after a panic in RoundTrip")
	}
}

// One answer with the window spent and a reset centuries away does not
// shut the gate for good: calls fail at once for the maximum wait, then a
// call goes out, learns the real window, and calls go through again.
func TestFarResetShutsTheGateForTheMaximumWaitAtMost(t *testing.T) {
	t.Parallel()
	const maxWait = 200 * time.Millisecond
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "100")
		if n.Add(1) == 1 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "99999999999") // the year 5138
		} else {
			w.Header().Set("X-RateLimit-Remaining", "98")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
		}
		serveJSON(200, []byte(`{"id":"usr_abc123"}`))(w, r)
	})
	var c *bitscale.Client
	// Only a call that comes within the maximum wait of the answer must
	// fail: on a busy machine it may come later, and the case is set up
	// again. Both calls within the wait, timed from before the first, is
	// enough.
	for attempt := 1; ; attempt++ {
		n.Store(0)
		c, _ = newTestClient(t, h, bitscale.WithRetryWait(time.Millisecond, maxWait))
		start := time.Now()
		_, _, err := c.Users.Me(context.Background())
		require.NoError(t, err)
		_, _, err = c.Users.Me(context.Background())
		if time.Since(start) < maxWait {
			require.ErrorIs(t, err, bitscale.ErrRateLimited, "a wait longer than the maximum fails at once")
			assert.EqualValues(t, 1, n.Load())
			break
		}
		require.Less(t, attempt, 100, "no call came within the maximum wait of the answer")
	}

	time.Sleep(2 * maxWait)
	_, _, err := c.Users.Me(context.Background())
	require.NoError(t, err, "the reset is not believed for longer than the maximum wait")
	_, _, err = c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 3, n.Load())
	assert.Equal(t, 98, c.RateLimit().Remaining)
}

// The gate waits for a window's end as the server's clock tells it, not the
// local one: a client whose clock is minutes off neither fails at once for
// a reset that seems minutes away, nor sends into a window it takes for
// ended.
func TestGateWaitsForTheResetWhateverTheLocalClock(t *testing.T) {
	t.Parallel()
	for name, skew := range map[string]time.Duration{"server ahead": 10 * time.Minute, "server behind": -10 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const limit = 3
			srv := fakeserver.New(fakeserver.WithRateLimit(limit, time.Second),
				fakeserver.WithClock(func() time.Time { return time.Now().Add(skew) }))
			defer srv.Close()
			c, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()),
				bitscale.WithRetryWait(10*time.Millisecond, 5*time.Second))
			require.NoError(t, err)
			defer c.CloseIdleConnections()

			for i := range limit + 1 { // the last waits for the next window
				_, _, err := c.Users.Me(context.Background())
				require.NoError(t, err, "call %d", i+1)
			}
			for _, r := range srv.Requests() {
				assert.NotEqual(t, http.StatusTooManyRequests, r.Status, "a request sent into a spent window")
			}
			assert.Len(t, srv.Requests(), limit+1)
		})
	}
}
