package bitscale_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangUp closes the connection of every request without an answer; reset
// makes it a reset (RST) rather than an orderly close.
func hangUp(t *testing.T, n *atomic.Int32, reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok && reset {
			tc.SetLinger(0)
		}
		conn.Close()
	}
}

// A retry whose wait cannot end before the deadline is not started: the
// call returns at once with the cause of the failed attempt, and matches
// context.DeadlineExceeded.
func TestRetryWaitPastTheDeadlineIsNotStarted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reset bool
		cause error
	}{
		{"closed", false, io.EOF},
		{"reset", true, syscall.ECONNRESET},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			c, _ := newTestClient(t, hangUp(t, &n, tc.reset), bitscale.WithRetryWait(time.Hour, time.Hour))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, _, err := c.Users.Me(ctx)
			t.Logf("err=%v", err)
			require.Error(t, err)
			assert.EqualValues(t, 1, n.Load(), "requests sent")
			assert.NoError(t, ctx.Err(), "the call sat out (part of) a wait it could not finish")
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorIs(t, err, tc.cause)
			assert.Contains(t, err.Error(), "GET /api/v1/user/me: ")
			assert.Contains(t, err.Error(), "would pass the context's deadline")
		})
	}
}

// A 503 ends the same way, and the caller still gets its *APIError.
func TestRetryWaitPastTheDeadlineKeepsTheAPIError(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503, 200)
	c, _ := newTestClient(t, h, bitscale.WithRetryWait(time.Hour, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, resp, err := c.Users.Me(ctx)
	t.Logf("err=%v", err)
	assert.EqualValues(t, 1, n.Load())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, bitscale.ErrServer)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "attempt 1", apiErr.Message)
	assert.Contains(t, err.Error(), "503 Service Unavailable: E503: attempt 1")
	require.NotNil(t, resp)
	assert.Equal(t, 503, resp.StatusCode)
}

// The default shortest wait is what a retry waits at least: a deadline
// nearer than that leaves no room for a second attempt, however fast the
// first one fails.
func TestDefaultRetryWaitMinIsTheShortestWait(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 500*time.Millisecond, bitscale.DefaultRetryWaitMin, "the README documents 500ms")
	h, n := countingServer(t, 503, 200)
	srv := newServer(t, h)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL))
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), bitscale.DefaultRetryWaitMin-time.Millisecond)
	defer cancel()
	_, _, err = c.Users.Me(ctx)
	t.Logf("err=%v", err)
	assert.EqualValues(t, 1, n.Load(), "requests sent")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// When the deadline ends an attempt, the attempt before it is not
// forgotten: its 503 is in the error's text and chain.
func TestDeadlineDuringARetryKeepsTheCauseBefore(t *testing.T) {
	t.Parallel()
	ctx := newExpiringContext()
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			serveJSON(503, []byte(`{"error":{"code":"UNAVAILABLE","message":"down for maintenance"}}`))(w, r)
			return
		}
		ctx.expire() // the next attempt is under way when the deadline passes
		<-r.Context().Done()
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Users.Me(ctx)
	t.Logf("err=%v", err)
	assert.EqualValues(t, 2, n.Load())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr, "the 503 before the deadline")
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "down for maintenance")
}

// A run refused with 429 is retried; a deadline too near for the wait
// returns the 429 at once, which is not an unknown outcome: the run was
// refused.
func TestRun429WithNoTimeToWaitIsNotOutcomeUnknown(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "30")
		serveJSON(429, []byte(`{"error":{"code":"RATE_LIMITED","message":"slow down"}}`))(w, r)
	})
	c, _ := newTestClient(t, h, bitscale.WithRetryWait(time.Millisecond, time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	t.Logf("err=%v", err)
	assert.EqualValues(t, 1, n.Load())
	assert.ErrorIs(t, err, bitscale.ErrRateLimited)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "waiting 30s would pass the context's deadline")
}

// A run whose first attempt never reached the server is retried; when the
// deadline ends the second one after it was written, the outcome is
// unknown, judged on that attempt alone, and the first one's dial error
// is still told.
func TestRunDeadlineAfterAnUnsentAttemptIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	ctx := newExpiringContext()
	var posts atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		io.ReadAll(r.Body)
		ctx.expire() // after the run was written; then the server sees the client hang up
		<-r.Context().Done()
	}))
	var dials atomic.Int32
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("no route to host (test)")}
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL), bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithRetryWait(time.Millisecond, time.Millisecond), bitscale.WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	_, _, err = c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	t.Logf("err=%v", err)
	assert.EqualValues(t, 1, posts.Load(), "runs the server saw")
	assert.ErrorIs(t, err, bitscale.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
	assert.Equal(t, "dial", opErr.Op)
	assert.Contains(t, err.Error(), "no route to host (test)")
	assert.Equal(t, 1, strings.Count(err.Error(), "may or may not have been carried out"))
}

// A cancel during a wait between attempts keeps the cause too.
func TestCancelDuringAWaitKeepsTheCause(t *testing.T) {
	t.Parallel()
	h, n := countingServer(t, 503, 200)
	waiting := make(chan struct{})
	log := slog.New(slog.NewTextHandler(&onRetry{waiting: waiting}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, _ := newTestClient(t, h, bitscale.WithRetryWait(time.Hour, time.Hour), bitscale.WithLogger(log))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Users.Me(ctx)
		done <- err
	}()
	<-waiting
	cancel()
	err := <-done
	t.Logf("err=%v", err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, bitscale.ErrServer)
	assert.EqualValues(t, 1, n.Load())
}

// onRetry closes waiting when the client logs that it will retry, which it
// does before it waits.
type onRetry struct {
	waiting chan struct{}
	once    sync.Once
}

func (w *onRetry) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("bitscale: retrying")) {
		w.once.Do(func() { close(w.waiting) })
	}
	return len(p), nil
}

// newServer starts a server with h, closed when t ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// WithAttemptTimeout(0) bounds nothing: an answer that takes its time
// arrives.
func TestAttemptTimeoutZeroMeansNoBound(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		serveJSON(200, []byte(`{"id":"usr_abc123"}`))(w, r)
	}), bitscale.WithMaxRetries(0), bitscale.WithAttemptTimeout(0))
	me, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "usr_abc123", me.ID)
}

// An attempt that outlives WithAttemptTimeout while the caller's context is
// still alive ends with an error that says so.
func TestAttemptTimeoutIsNamedInTheError(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only once the client gives up
	}), bitscale.WithMaxRetries(0), bitscale.WithAttemptTimeout(50*time.Millisecond))
	_, _, err := c.Users.Me(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "bitscale: GET /api/v1/user/me: attempt timed out after 50ms")
}
