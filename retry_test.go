package bitscale_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingServer answers with the statuses in order, repeating the last.
func countingServer(t *testing.T, statuses ...int) (http.Handler, *atomic.Int32) {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		status := statuses[min(i, len(statuses)-1)]
		if status == 200 {
			serveJSON(200, []byte(`{"id":"usr_abc123","mode":"sync","status":"completed"}`))(w, r)
			return
		}
		serveJSON(status, []byte(fmt.Sprintf(`{"error":{"code":"E%d","message":"attempt %d"}}`, status, i+1)))(w, r)
	}), &n
}

func TestGetRetriesTransientStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{429, 500, 502, 503, 504} {
		h, n := countingServer(t, status, status, 200)
		c, _ := newTestClient(t, h)
		_, _, err := c.Users.Me(context.Background())
		require.NoError(t, err, status)
		assert.EqualValues(t, 3, n.Load(), status)
	}
}

func TestGetDoesNotRetryOtherStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 409, 422, 501, 505} {
		h, n := countingServer(t, status, 200)
		c, _ := newTestClient(t, h)
		_, _, err := c.Users.Me(context.Background())
		require.Error(t, err, status)
		assert.EqualValues(t, 1, n.Load(), status)
	}
}

func TestLastRealErrorAfterRetriesRunOut(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503)
	c, _ := newTestClient(t, h, bitscale.WithMaxRetries(2))
	_, resp, err := c.Users.Me(context.Background())
	assert.EqualValues(t, 3, n.Load())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, "attempt 3", apiErr.Message)
	assert.NotContains(t, err.Error(), "giving up")
	assert.Equal(t, 503, resp.StatusCode)
}

func TestRunPostIsRetriedOnlyWhereItSurelyDidNotRun(t *testing.T) {
	t.Parallel()
	req := &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}}

	h, n := countingServer(t, 429, 200)
	c, _ := newTestClient(t, h)
	_, _, err := c.Grids.Run(context.Background(), "grid_001", req)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n.Load(), "a 429 was refused before running, so it is sent again")

	for _, status := range []int{500, 502, 503, 504} {
		h, n := countingServer(t, status, 200)
		c, _ := newTestClient(t, h)
		_, _, err := c.Grids.Run(context.Background(), "grid_001", req)
		assert.EqualValues(t, 1, n.Load(), "a %d may have run: never resent", status)
		require.ErrorIs(t, err, bitscale.ErrOutcomeUnknown, status)
		require.ErrorIs(t, err, bitscale.ErrServer, status)
		var apiErr *bitscale.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, status, apiErr.StatusCode)
		assert.Contains(t, err.Error(), "may or may not have been carried out")
	}

	h, n = countingServer(t, 422, 200)
	c, _ = newTestClient(t, h)
	_, _, err = c.Grids.Run(context.Background(), "grid_001", req)
	assert.EqualValues(t, 1, n.Load())
	require.ErrorIs(t, err, bitscale.ErrUnprocessable)
	assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown, "a 4xx says the run did not happen")
}

// Each attempt of a run is judged on its own: after a 429 (written, and
// refused), an attempt that never got a connection sent nothing, so the run is sent again rather than reported as
// maybe carried out.
func TestRunAttemptAfterA429IsJudgedAlone(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if posts.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.01")
			w.Header().Set("Connection", "close") // the next attempt dials
			serveJSON(429, []byte(`{"error":{"code":"RATE_LIMITED","message":"slow down"}}`))(w, r)
			return
		}
		serveJSON(200, []byte(`{"mode":"sync","run_id":"run_1","status":"completed"}`))(w, r)
	}))
	var dials atomic.Int32
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 2 {
			// Not a *net.OpError of a dial: only the attempt's trace
			// shows that nothing was written.
			return nil, errors.New("proxy refused the connection (test)")
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL), bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithRetryWait(time.Millisecond, time.Second), bitscale.WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	run, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	require.NoError(t, err)
	assert.Equal(t, "run_1", run.ID)
	assert.EqualValues(t, 2, posts.Load(), "the 429 and the run")
	assert.EqualValues(t, 3, dials.Load())
}

// The last attempt allowed is not followed by a retry's log line or wait:
// a call with two retries logs two and sends three requests, numbered
// from 1 in the debug log.
func TestNoRetryIsLoggedAfterTheLastAttempt(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503, 503, 503, 200)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _ := newTestClient(t, h, bitscale.WithMaxRetries(2), bitscale.WithLogger(logger))
	_, _, err := c.Users.Me(context.Background())
	require.ErrorIs(t, err, bitscale.ErrServer)
	assert.EqualValues(t, 3, n.Load())
	out := logs.String()
	assert.Equal(t, 2, strings.Count(out, "bitscale: retrying"), out)
	for i := 1; i <= 3; i++ {
		assert.Equal(t, 1, strings.Count(out, fmt.Sprintf("msg=\"bitscale: request\" method=GET path=/api/v1/user/me attempt=%d\n", i)), out)
	}
	assert.Equal(t, 3, strings.Count(out, "bitscale: request"), out)
}

func TestQuota429IsNotRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "42")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Minute).Unix()))
		serveJSON(429, []byte(`{"error":{"code":"RUN_LIMIT_EXCEEDED","message":"quota"}}`))(w, r)
	}))
	_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	require.ErrorIs(t, err, bitscale.ErrRunLimitExceeded)
	assert.EqualValues(t, 1, n.Load(), "waiting does not lift a quota")
}

func TestRetryAfterLongerThanMaxWaitReturnsAtOnce(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 429, 200)
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		h.ServeHTTP(w, r)
	}), bitscale.WithRetryWait(time.Millisecond, time.Second))
	start := time.Now()
	_, _, err := c.Users.Me(context.Background())
	require.ErrorIs(t, err, bitscale.ErrRateLimited)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, time.Hour, apiErr.RetryAfter)
	assert.EqualValues(t, 1, n.Load())
	assert.Less(t, time.Since(start), 30*time.Second, "did not wait for the server's hour")
}

func TestCustomRetryPolicy(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 500, 200)
	var calls []bool
	never := func(ctx context.Context, replayable bool, resp *http.Response, err error) bool {
		calls = append(calls, replayable)
		return false
	}
	c, _ := newTestClient(t, h, bitscale.WithRetryPolicy(never))
	_, _, err := c.Users.Me(context.Background())
	require.ErrorIs(t, err, bitscale.ErrServer)
	assert.EqualValues(t, 1, n.Load())
	assert.Equal(t, []bool{true}, calls)

	// A policy may resend a run, the caller's own decision.
	h, n = countingServer(t, 500, 200)
	always := func(ctx context.Context, replayable bool, resp *http.Response, err error) bool {
		return resp != nil && resp.StatusCode == 500
	}
	c, _ = newTestClient(t, h, bitscale.WithRetryPolicy(always))
	_, _, err = c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	require.NoError(t, err)
	assert.EqualValues(t, 2, n.Load())
}

func TestMaxRetriesZeroSendsOnce(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503, 200)
	c, _ := newTestClient(t, h, bitscale.WithMaxRetries(0))
	_, _, err := c.Users.Me(context.Background())
	require.ErrorIs(t, err, bitscale.ErrServer)
	assert.EqualValues(t, 1, n.Load())
}

func TestRetriedPostSendsItsWholeBodyEachTime(t *testing.T) {
	t.Parallel()
	var bodies []string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if len(bodies) == 1 {
			serveJSON(429, []byte(`{"error":{"code":"RATE_LIMITED","message":"slow down"}}`))(w, r)
			return
		}
		serveJSON(200, []byte(`{"mode":"sync","status":"completed"}`))(w, r)
	}))
	_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	require.NoError(t, err)
	require.Len(t, bodies, 2)
	assert.JSONEq(t, `{"mode":"sync","inputs":{"a":"b"}}`, bodies[0])
	assert.Equal(t, bodies[0], bodies[1])

	// A body the caller made from a plain reader is kept for the retry too.
	bodies = nil
	req, err := c.NewRequest(context.Background(), http.MethodPost, "grids/grid_001/run", nil)
	require.NoError(t, err)
	req.Body = io.NopCloser(strings.NewReader(`{"mode":"sync","inputs":{"x":1}}`))
	req.GetBody = nil
	_, err = c.Do(req, nil)
	require.NoError(t, err)
	require.Len(t, bodies, 2)
	assert.Equal(t, `{"mode":"sync","inputs":{"x":1}}`, bodies[1])
}

// A 300 answer to a run, like any redirect, may follow a run that
// happened: it is not followed, and the outcome is unknown.
func TestRun300IsAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.Header().Set("Location", "/api/v1/grids/grid_001/runs/r1")
		w.WriteHeader(http.StatusMultipleChoices)
	}))
	_, resp, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	t.Logf("err=%v", err)
	require.ErrorIs(t, err, bitscale.ErrOutcomeUnknown)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 300, apiErr.StatusCode)
	assert.Equal(t, 300, resp.StatusCode)
	assert.EqualValues(t, 1, posts.Load())
}

// A run answered with any 3xx or 5xx may have run, but for 501 and 505,
// which refuse the request as such; a 4xx says it did not. None is sent
// again.
func TestRunAnswerStatusesThatMayFollowARun(t *testing.T) {
	t.Parallel()
	for status, unknown := range map[int]bool{
		399: true, 400: false, 499: false, 500: true, 501: false, 505: false, 599: true,
	} {
		var posts atomic.Int32
		c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			w.WriteHeader(status)
		}))
		_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
		var apiErr *bitscale.APIError
		require.ErrorAs(t, err, &apiErr, status)
		assert.Equal(t, status, apiErr.StatusCode)
		assert.Equal(t, unknown, errors.Is(err, bitscale.ErrOutcomeUnknown), "status %d: %v", status, err)
		assert.EqualValues(t, 1, posts.Load(), status)
	}
}

// A dial that never completes within the attempt timeout sent nothing: the
// run is retried, and its error is not ErrOutcomeUnknown.
func TestRunNeverConnectedWithinAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return blackhole(t)(ctx, network, addr)
	}}
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("http://127.0.0.1:1/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace), bitscale.WithRetryWait(time.Millisecond, time.Millisecond),
		bitscale.WithMaxRetries(2),
		bitscale.WithHTTPClient(&http.Client{Transport: tr}), bitscale.WithAttemptTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v dials=%d outcomeUnknown=%v", err, dials.Load(), errors.Is(err, bitscale.ErrOutcomeUnknown))
	if errors.Is(err, bitscale.ErrOutcomeUnknown) {
		t.Errorf("a run whose connection was never made is reported as ErrOutcomeUnknown")
	}
}

// A context that ends while the connection is being dialled sent nothing
// either.
func TestRunCancelledWhileDiallingIsNotOutcomeUnknown(t *testing.T) {
	t.Parallel()
	tr := &http.Transport{DialContext: blackhole(t)}
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("http://127.0.0.1:1/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace), bitscale.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v outcomeUnknown=%v", err, errors.Is(err, bitscale.ErrOutcomeUnknown))
	if errors.Is(err, bitscale.ErrOutcomeUnknown) {
		t.Errorf("a run never connected is reported as ErrOutcomeUnknown")
	}
}

// blackhole returns a dialer whose connections never complete, as with a
// host that drops packets. net/http goes on dialling after a request gives
// up, so the dial also ends with the test.
func blackhole(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-ctx.Done():
		case <-done:
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: context.Canceled}
	}
}

// A Retry-After of exactly the longest wait allowed is waited for, and the
// request sent again.
func TestRetryAfterOfExactlyTheMaxWaitIsWaitedFor(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503, 200)
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0.01")
		h.ServeHTTP(w, r)
	}), bitscale.WithRetryWait(time.Millisecond, 10*time.Millisecond))
	user, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "usr_abc123", user.ID)
	assert.EqualValues(t, 2, n.Load())
}

// With WithRetryWait(0, 0) a retry is sent at once.
func TestRetryWaitOfZeroRetriesAtOnce(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503, 200)
	c, _ := newTestClient(t, h, bitscale.WithRetryWait(0, 0))
	// The deadline only bounds a wait that would never end.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err := c.Users.Me(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n.Load())
}

// A 2xx answer that a custom policy retries is not an API error: when the
// context ends the next attempt, the error names that answer as the cause
// before, and holds no *APIError.
func TestRetried2xxAnswerIsNamedAsTheCauseBefore(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 299} {
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int32
		c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				serveJSON(status, []byte(`{"id":"usr_abc123"}`))(w, r)
				return
			}
			cancel()
			<-r.Context().Done()
		}), bitscale.WithRetryPolicy(func(_ context.Context, _ bool, resp *http.Response, _ error) bool {
			return resp != nil && resp.StatusCode < 300
		}))
		_, _, err := c.Users.Me(ctx)
		require.ErrorIs(t, err, context.Canceled, status)
		assert.ErrorContains(t, err, fmt.Sprintf("(the attempt before failed: %d %s answer retried by the policy)", status, http.StatusText(status)))
		var apiErr *bitscale.APIError
		assert.False(t, errors.As(err, &apiErr), "a %d is not an API error: %v", status, err)
		assert.EqualValues(t, 2, n.Load())
	}
}
