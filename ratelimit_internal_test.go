package bitscale

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Now()
	rl := parseRateLimit(header("X-RateLimit-Limit", "600", "X-RateLimit-Remaining", "12", "X-RateLimit-Reset", "1712345678"))
	assert.Equal(t, RateLimit{Limit: 600, Remaining: 12, Reset: time.Unix(1712345678, 0)}, rl)

	rl = parseRateLimit(header("X-RateLimit-Reset", "1712345678.5"))
	assert.Equal(t, time.UnixMilli(1712345678500), rl.Reset)

	rl = parseRateLimit(header("X-RateLimit-Reset", "30")) // seconds from now, as some gateways send
	assert.WithinDuration(t, now.Add(30*time.Second), rl.Reset, time.Second)

	assert.Equal(t, RateLimit{}, parseRateLimit(header("X-RateLimit-Limit", "lots", "X-RateLimit-Remaining", "-3", "X-RateLimit-Reset", "soon")))
	assert.Equal(t, RateLimit{}, parseRateLimit(http.Header{}))
	assert.Equal(t, "rate limit unknown", RateLimit{}.String())
}

// X-RateLimit-Reset is Unix seconds from 1e9 (2001) up to, not including,
// 1e11; below 1e9 it is seconds from now, and from 1e11 it is ignored.
func TestParseRateLimitResetBounds(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Unix(1e9, 0), parseRateLimit(header("X-RateLimit-Reset", "1000000000")).Reset)
	assert.Equal(t, time.Unix(1e11-1, 0), parseRateLimit(header("X-RateLimit-Reset", "99999999999")).Reset)
	assert.Zero(t, parseRateLimit(header("X-RateLimit-Reset", "100000000000")).Reset)
	assert.Zero(t, parseRateLimit(header("X-RateLimit-Reset", "0")).Reset)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		" 2 ":                           2 * time.Second,
		"0.25":                          250 * time.Millisecond,
		"0":                             0,
		"-4":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:35 GMT": 30 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0, // past
		"99999999999999999999":          0,
		"NaN":                           0,
		"nan":                           0,
		"Inf":                           0,
		"0x10":                          0,
		"1_000":                         0,
		"1e3":                           0,
		"1.5.2":                         0,
		".":                             0,
		"1000000000":                    1e9 * time.Second, // the longest taken
		"1000000001":                    0,
	} {
		assert.Equal(t, want, parseRetryAfter(in, now), "%q", in)
	}
}

func TestServerWait(t *testing.T) {
	t.Parallel()
	now := time.Now()
	resp := &http.Response{StatusCode: 429, Header: header("X-RateLimit-Reset", fmt.Sprint(now.Add(10*time.Second).Unix()))}
	assert.InDelta(t, 10*time.Second, serverWait(resp, now), float64(time.Second))
	resp.Header.Set("Retry-After", "3")
	assert.Equal(t, 3*time.Second, serverWait(resp, now), "Retry-After wins")
	resp = &http.Response{StatusCode: 503, Header: header("X-RateLimit-Reset", fmt.Sprint(now.Add(10*time.Second).Unix()))}
	assert.Zero(t, serverWait(resp, now), "the reset is a wait only for a 429")
	assert.Zero(t, serverWait(nil, now))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n := 0; n < 40; n++ {
		for i := 0; i < 50; i++ {
			d := backoff(lo, hi, n, nil)
			ceil := min(lo<<min(n, 20), hi)
			require.GreaterOrEqual(t, d, lo, n)
			require.LessOrEqual(t, d, max(ceil, lo), n)
		}
	}
	resp := &http.Response{StatusCode: 503, Header: header("Retry-After", "1")}
	assert.Equal(t, time.Second, backoff(lo, hi, 0, resp))
	resp.Header.Set("Retry-After", "3600")
	assert.Equal(t, hi, backoff(lo, hi, 0, resp), "never beyond the maximum")
	assert.Equal(t, lo, backoff(lo, lo, 5, nil))
	d := backoff(10*time.Second, 30*time.Second, 63, nil)
	assert.True(t, d >= 10*time.Second && d <= 30*time.Second, "no overflow at large attempt numbers: %s", d)
}

func opErr(op string, err error) error {
	return &url.Error{Op: "Post", URL: "https://api.bitscale.ai/api/v1/grids/g/run", Err: &net.OpError{Op: op, Net: "tcp", Err: err}}
}

func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	status := func(code int, kv ...string) *http.Response {
		return &http.Response{StatusCode: code, Header: header(kv...)}
	}
	cases := []struct {
		name     string
		ctx      context.Context
		resp     *http.Response
		err      error
		get, run bool
	}{
		{"dial refused", ctx, nil, opErr("dial", syscall.ECONNREFUSED), true, true},
		{"dns failure", ctx, nil, &url.Error{Op: "Get", Err: &net.DNSError{Err: "no such host", Name: "x"}}, true, true},
		{"reset after connect", ctx, nil, opErr("read", syscall.ECONNRESET), true, false},
		{"write broken", ctx, nil, opErr("write", syscall.EPIPE), true, false},
		{"unexpected EOF", ctx, nil, &url.Error{Op: "Post", Err: errors.New("EOF")}, true, false},
		{"timeout", ctx, nil, &url.Error{Op: "Post", Err: context.DeadlineExceeded}, true, false},
		{"unsent (gate)", ctx, nil, &url.Error{Op: "Post", Err: &unsentError{fmt.Errorf("%w", errGate)}}, false, false},
		{"canceled", canceled, nil, &url.Error{Op: "Get", Err: context.Canceled}, false, false},
		{"unknown authority", ctx, nil, &url.Error{Op: "Get", Err: x509.UnknownAuthorityError{}}, false, false},
		{"too many redirects", ctx, nil, &url.Error{Op: "Get", Err: errors.New("stopped after 10 redirects")}, false, false},
		{"too large", ctx, nil, fmt.Errorf("%w: x", ErrResponseTooLarge), false, false},
		{"429", ctx, status(429), nil, true, true},
		{"429 window spent", ctx, status(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Limit", "10"), nil, true, true},
		{"429 quota with room", ctx, status(429, "X-RateLimit-Remaining", "3", "X-RateLimit-Limit", "10"), nil, false, false},
		{"500", ctx, status(500), nil, true, false},
		{"502", ctx, status(502), nil, true, false},
		{"503", ctx, status(503), nil, true, false},
		{"504", ctx, status(504), nil, true, false},
		{"501", ctx, status(501), nil, false, false},
		{"505", ctx, status(505), nil, false, false},
		{"400", ctx, status(400), nil, false, false},
		{"404", ctx, status(404), nil, false, false},
		{"200", ctx, status(200), nil, false, false},
		{"canceled 503", canceled, status(503), nil, false, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.get, DefaultRetryPolicy(tc.ctx, true, tc.resp, tc.err), "GET: %s", tc.name)
		assert.Equal(t, tc.run, DefaultRetryPolicy(tc.ctx, false, tc.resp, tc.err), "run: %s", tc.name)
	}
}

// windowed returns a RateLimit whose window resets after d.
func windowed(limit, remaining int, d time.Duration) RateLimit {
	return RateLimit{Limit: limit, Remaining: remaining, Reset: time.Now().Add(d)}
}

func TestGateHoldsNothingWithoutHeaders(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	for i := 0; i < 100; i++ {
		require.NoError(t, acquired(g.acquire(context.Background())))
	}
	for i := 0; i < 100; i++ {
		g.release(RateLimit{}, false, true, false)
	}
	require.NoError(t, acquired(g.acquire(context.Background())))
}

func TestGateWaitsForResetWhenSpent(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 0, 150*time.Millisecond), true, true, false)

	start := time.Now()
	require.NoError(t, acquired(g.acquire(context.Background())))
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "held until the reset")
	g.release(windowed(10, 9, time.Minute), true, true, false)
}

func TestGateCountsRequestsInFlight(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 3, time.Minute), true, true, false)
	for i := 0; i < 3; i++ {
		require.NoError(t, acquired(g.acquire(context.Background())), i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := acquired(g.acquire(ctx))
	require.ErrorIs(t, err, context.DeadlineExceeded, "the fourth would exceed what is left")
	require.ErrorIs(t, err, ErrRateLimited)

	// One answer says 2 are left; the other two still out may not be
	// counted yet, so nothing more may go.
	g.release(windowed(10, 2, time.Minute), true, true, false)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	assert.Error(t, acquired(g.acquire(ctx2)))
	g.release(windowed(10, 1, time.Minute), true, true, false)
	g.release(windowed(10, 0, time.Minute), true, true, false)
}

// A probe is a request in flight like any other: an answer that arrives
// while it is out leaves room for one request fewer.
func TestGateCountsProbesInFlight(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	for range 2 {
		require.NoError(t, acquired(g.acquire(context.Background())))
	}
	// The first answer reports a window that has already ended.
	g.release(RateLimit{Limit: 10, Remaining: 0, Reset: time.Now().Add(-time.Second)}, true, true, false)
	probe, err := g.acquire(context.Background())
	require.NoError(t, err)
	require.True(t, probe)

	// The second reports one request left in the new window; the probe,
	// still out, takes it.
	g.release(windowed(10, 1, time.Minute), true, true, false)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, acquired(g.acquire(cancelled)), context.Canceled, "held: the probe uses the one left")

	g.release(windowed(10, 1, time.Minute), true, true, true) // the probe's answer
	require.NoError(t, acquired(g.acquire(cancelled)), "one left, and nothing out")
}

func TestGateCancelEndsWaitAtOnce(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 0, 30*time.Second), true, true, false)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- acquired(g.acquire(ctx)) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select { // a sixth of the wait: it ended with the context, not its timer
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("acquire did not end with its context")
	}
}

func TestGateRefusesWaitsPastMaxOrDeadline(t *testing.T) {
	t.Parallel()
	g := newGate(time.Second, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 0, time.Hour), true, true, false)
	err := acquired(g.acquire(context.Background()))
	require.ErrorIs(t, err, ErrRateLimited)
	assert.Contains(t, err.Error(), "longer than the maximum wait")

	// A wait past the deadline fails now: had it waited for the
	// deadline, an hour away, the test would time out.
	g = newGate(3*time.Hour, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 0, 2*time.Hour), true, true, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	err = acquired(g.acquire(ctx))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "after the context's deadline")
}

func TestGateSendsAFewProbesAfterReset(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(100, 0, 50*time.Millisecond), true, true, false)

	var passed, probes atomic.Int32
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probe, err := g.acquire(ctx)
			if err == nil {
				passed.Add(1)
				if probe {
					probes.Add(1)
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return passed.Load() == 10 }, 2*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.EqualValues(t, 10, passed.Load(), "a tenth of the limit goes before the new window is known")
	assert.EqualValues(t, 10, probes.Load())

	g.release(windowed(100, 99, time.Minute), true, true, true) // a probe's answer
	wg.Wait()
	assert.EqualValues(t, 20, passed.Load())
}

func TestGateProbeEndsOnlyWithItsOwnAnswer(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background()))) // a request from the old window
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(5, 0, 30*time.Millisecond), true, true, false)
	time.Sleep(40 * time.Millisecond)
	probe, err := g.acquire(context.Background())
	require.NoError(t, err)
	require.True(t, probe)

	// The old request's answer, carrying no headers, must not end the probe.
	g.release(RateLimit{}, false, true, false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = g.acquire(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a second probe would go out")
	g.release(windowed(5, 4, time.Minute), true, true, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
}

func TestGateIgnoresAnswersWithoutARemainingCount(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	rl, ok := rateLimitHeaders(header("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "999.0",
		"X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix())))
	require.False(t, ok)
	g.release(rl, ok, true, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.NoError(t, acquired(g.acquire(ctx)), "an unparsable count does not close the gate")
}

func TestGateIgnoresAnswersFromAnEndedWindow(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 9, time.Minute), true, true, false)
	g.release(RateLimit{Limit: 10, Remaining: 0, Reset: time.Now().Add(-time.Minute)}, true, true, false)
	assert.Equal(t, 9, g.rateLimit().Remaining)
	require.NoError(t, acquired(g.acquire(context.Background())), "the stale zero did not close the gate")
}

func TestGateOffOnlyObserves(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, false)
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 0, time.Minute), true, true, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	require.NoError(t, acquired(g.acquire(ctx)))
	assert.Equal(t, 0, g.rateLimit().Remaining)
}

func TestGateKeepsLowestCountOfAWindow(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, true)
	reset := time.Now().Add(time.Minute).Truncate(time.Second)
	for range 3 {
		require.NoError(t, acquired(g.acquire(context.Background())))
	}
	// The server answered 5, 4, 3 in that order; the answers arrive 3, 5, 4.
	g.release(RateLimit{Limit: 10, Remaining: 3, Reset: reset}, true, true, false)
	g.release(RateLimit{Limit: 10, Remaining: 5, Reset: reset}, true, true, false)
	g.release(RateLimit{Limit: 10, Remaining: 4, Reset: reset}, true, true, false)
	assert.Equal(t, 3, g.rateLimit().Remaining)
	for range 3 {
		require.NoError(t, acquired(g.acquire(context.Background())))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	assert.Error(t, acquired(g.acquire(ctx)), "a fourth would be one too many")
}

// acquired drops acquire's probe flag, for tests that only look at errors.
func acquired(_ bool, err error) error { return err }

func TestGateBelievesAResetForTheMaximumWaitAtMost(t *testing.T) {
	t.Parallel()
	const maxWait = 50 * time.Millisecond
	var g *gate
	var released time.Time
	// Only a request that comes within the maximum wait must be refused: on
	// a busy machine the first may come later, and the case is set up again.
	for attempt := 1; ; attempt++ {
		g = newGate(maxWait, true)
		require.NoError(t, acquired(g.acquire(context.Background())))
		released = time.Now()
		g.release(RateLimit{Limit: 10, Reset: time.Now().AddDate(300, 0, 0)}, true, true, false)
		err := acquired(g.acquire(context.Background()))
		if time.Since(released) < maxWait {
			require.ErrorIs(t, err, ErrRateLimited)
			break
		}
		require.Less(t, attempt, 100, "no request came within the maximum wait of the answer")
	}

	time.Sleep(time.Until(released.Add(maxWait + 10*time.Millisecond)))
	probe, err := g.acquire(context.Background())
	require.NoError(t, err)
	require.True(t, probe, "after the maximum wait a probe learns the window")
	g.release(windowed(10, 9, time.Minute), true, true, true)
	assert.Equal(t, 9, g.rateLimit().Remaining, "the real window, though its reset is nearer")
	require.NoError(t, acquired(g.acquire(context.Background())))
}

// sleep with no positive duration sets no timer: only wake or the context
// end it. Were a zero-length timer set, it would be ready with the
// context's end and win about half the time.
func TestSleepOfZeroWaitsForWakeOrContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wake := make(chan struct{})
	for i := range 64 {
		require.ErrorIs(t, sleep(ctx, 0, wake), context.Canceled, i)
	}
	close(wake)
	require.NoError(t, sleep(context.Background(), 0, wake))
}

// The ceiling of the wait before attempt n+2 is lo<<n, exactly, while
// that is under hi and n < 32, and hi after. The draws are random, so each
// bound is tried 64 times: a wrong ceiling survives with a chance of 2^-64
// at most, and a right one never fails.
func TestBackoffCeilingIsExact(t *testing.T) {
	t.Parallel()
	for range 64 {
		// lo<<1 = 2 is under hi = 3: the wait is drawn from [1, 2), so 1.
		require.Equal(t, time.Duration(1), backoff(1, 3, 1, nil))
	}
	// From the 33rd retry the ceiling is hi, though lo<<32 is under it.
	lo, hi := time.Duration(1), time.Duration(1)<<40
	beyond := false
	for range 64 {
		d := backoff(lo, hi, 32, nil)
		require.Less(t, d, hi)
		beyond = beyond || d >= lo<<32
	}
	assert.True(t, beyond, "no draw reached lo<<32, though 255 in 256 of [lo, hi) do")
}

// Once a held request has gone, a request through the gate allocates
// nothing: the wake-up channel is replaced only while someone waits on it.
// Not parallel: AllocsPerRun counts every allocation of the process.
func TestGateAllocatesNothingWhenNoOneWaits(t *testing.T) {
	g := newGate(time.Minute, true)
	require.NoError(t, acquired(g.acquire(context.Background())))
	require.NoError(t, acquired(g.acquire(context.Background())))
	g.release(windowed(10, 0, time.Minute), true, true, false)
	done := make(chan error)
	go func() { done <- acquired(g.acquire(context.Background())) }()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiters == 1
	}, 10*time.Second, time.Millisecond, "the third request waits")
	g.release(windowed(10, 5, time.Minute), true, true, false) // wakes it
	require.NoError(t, <-done)
	g.release(windowed(10, 5, time.Minute), true, true, false)

	rl := windowed(10, 5, time.Minute)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := g.acquire(context.Background()); err == nil {
			g.release(rl, true, true, false)
		}
	})
	assert.Zero(t, allocs)
	g.mu.Lock()
	defer g.mu.Unlock()
	assert.Zero(t, g.waiters)
}
