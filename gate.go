package bitscale

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errGate is matched by the error of a request the rate-limit gate would
// have to hold past the context's deadline or the client's maximum wait.
var errGate = errors.New("rate limit window spent")

// gate holds requests while the organization's rate-limit window is spent,
// so that a busy program sends few requests only to have them refused.
//
// It trusts what the server reports: after each response the requests left
// are the response's X-RateLimit-Remaining less the requests still in
// flight, which the server may not have counted yet. When nothing is left,
// new requests wait for the window's reset. After the reset a few requests
// go first, a tenth of the limit, and the others wait for their answers to
// learn the new window, so that a crowd of waiting goroutines does not
// flood a window that other processes share, and one slow request does
// not hold every other back. Until a response has carried rate-limit
// headers, nothing is held.
//
// A reset is believed for at most the maximum wait after the answer that
// reported it: one answer with a reset years away would otherwise shut the
// gate for as long, since no request would go out to learn better.
type gate struct {
	maxWait time.Duration
	hold    bool // false: only observe, never hold a request

	mu        sync.Mutex
	last      RateLimit     // as last reported by the server
	expires   time.Time     // when last stops holding requests: its reset, or maxWait after it came
	remaining int           // estimate for the current window
	inflight  int           // requests sent and not yet answered
	limited   bool          // the server reports a rate limit
	probes    int           // requests out to learn a new window
	waiters   int           // acquire calls waiting on changed
	changed   chan struct{} // closed and replaced when the state changes
}

func newGate(maxWait time.Duration, hold bool) *gate {
	return &gate{maxWait: maxWait, hold: hold, changed: make(chan struct{})}
}

// acquire waits until a request may be sent and counts it as in flight; it
// reports whether the request is a probe of a new window. Every successful
// acquire must be followed by one release.
func (g *gate) acquire(ctx context.Context) (probe bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		now := time.Now()
		switch {
		case !g.hold || !g.limited || g.remaining > 0:
			g.remaining--
			g.inflight++
			return false, nil
		case !now.Before(g.expires) && g.probes < max(1, g.last.Limit/10):
			g.probes++
			g.inflight++
			return true, nil
		}
		// Before the reset, wait for it; after, for the probes' answers.
		reset := g.last.Reset
		if now.Before(g.expires) && reset.Sub(now) > g.maxWait {
			return false, fmt.Errorf("%w until %s, longer than the maximum wait of %s: %w",
				errGate, reset.Format(time.RFC3339), g.maxWait, ErrRateLimited)
		}
		wait := max(g.expires.Sub(now), 0)
		if dl, ok := ctx.Deadline(); ok && dl.Before(g.expires) {
			return false, fmt.Errorf("%w until %s, after the context's deadline: %w: %w",
				errGate, reset.Format(time.RFC3339), ErrRateLimited, context.DeadlineExceeded)
		}
		g.waiters++
		changed := g.changed
		g.mu.Unlock()
		err := sleep(ctx, wait, changed)
		g.mu.Lock()
		g.waiters--
		if err != nil {
			return false, err
		}
	}
}

// release records the answer to a request counted by acquire: answered is
// false when no response arrived, rl is what the response reported and ok
// whether it reported a remaining count, probe what acquire said.
func (g *gate) release(rl RateLimit, ok, answered, probe bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	if probe {
		g.probes--
	}
	now := time.Now()
	switch {
	case ok && rl.windowEnd().Before(g.last.windowEnd()) && now.Before(g.expires):
		// An answer from a window that has since ended tells nothing new.
	case ok && !rl.Reset.IsZero():
		// Within a window the count only falls: an answer that arrives after
		// a lower one was counted before it, so the lower one stands.
		if rl.windowEnd().Equal(g.last.windowEnd()) && g.last.Remaining < rl.Remaining {
			rl.Remaining = g.last.Remaining
		}
		g.last = rl
		g.expires = rl.Reset
		if limit := now.Add(g.maxWait); limit.Before(rl.Reset) {
			g.expires = limit
		}
		g.limited = true
		g.remaining = rl.Remaining - g.inflight
	case ok:
		// A count with no reset time: there is nothing to wait for.
		g.last = rl
		g.limited = false
	case answered && probe:
		// The server no longer reports its limit: stop holding requests
		// rather than probe one at a time for ever.
		g.limited = false
	}
	if (probe || answered) && g.waiters > 0 {
		close(g.changed)
		g.changed = make(chan struct{})
	}
}

// rateLimit returns the rate limit as last reported by the server.
func (g *gate) rateLimit() RateLimit {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// sleep waits for d, for wake to be closed, or for ctx to end, whichever is
// first; it returns ctx's error in the last case. A non-positive d sets no
// timer: only wake or ctx end the wait.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
	case <-wake:
	}
	return nil
}
