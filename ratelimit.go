package bitscale

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is the organization's request budget as a response reported it
// in X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset. The
// zero value means the response carried no such headers.
type RateLimit struct {
	Limit     int       // requests allowed per window
	Remaining int       // requests left in the current window
	Reset     time.Time // when the current window ends
}

// String formats the rate limit for logs.
func (r RateLimit) String() string {
	if r == (RateLimit{}) {
		return "rate limit unknown"
	}
	return fmt.Sprintf("%d/%d remaining, resets %s", r.Remaining, r.Limit, r.Reset.Format(time.RFC3339))
}

// parseRateLimit reads the rate-limit headers. Reset is Unix seconds, as the
// API documents; a value too small to be a Unix time is taken as seconds from
// now, which some gateways send. Headers that do not parse are ignored.
func parseRateLimit(h http.Header) RateLimit {
	rl, _ := rateLimitHeaders(h)
	return rl
}

// rateLimitHeaders is parseRateLimit that also reports whether
// X-RateLimit-Remaining was there and parsed: without it the headers say
// nothing about how many requests may still go.
func rateLimitHeaders(h http.Header) (rl RateLimit, ok bool) {
	if v, err := strconv.Atoi(strings.TrimSpace(first(h, "X-Ratelimit-Limit"))); err == nil && v >= 0 {
		rl.Limit = v
	}
	if v, err := strconv.Atoi(strings.TrimSpace(first(h, "X-Ratelimit-Remaining"))); err == nil && v >= 0 {
		rl.Remaining, ok = v, true
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(first(h, "X-Ratelimit-Reset")), 64); err == nil && v > 0 && v < 1e11 {
		if v < 1e9 {
			rl.Reset = time.Now().Add(time.Duration(v * float64(time.Second))).Truncate(time.Millisecond)
		} else {
			rl.Reset = time.UnixMilli(int64(v * 1000))
		}
	}
	return rl, ok
}

// first returns the first value of a header given its canonical name.
// Unlike Header.Get it does not canonicalize the name, which for the
// X-RateLimit headers would allocate on every response.
func first(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// It returns zero for an empty, unparsable or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if isDecimal(v) {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || !(secs > 0 && secs <= 1e9) {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// isDecimal reports whether s is digits with at most one decimal point:
// delay seconds, which ParseFloat alone would take with NaN, Inf, hex and
// underscores besides.
func isDecimal(s string) bool {
	digits, dot := 0, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// serverWait is how long the server asked the client to wait before the
// next attempt: Retry-After, or on a 429 the time until X-RateLimit-Reset.
func serverWait(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return 0
	}
	if d := parseRetryAfter(first(resp.Header, "Retry-After"), now); d > 0 {
		return d
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if rl := parseRateLimit(resp.Header); rl.Reset.After(now) {
			return rl.Reset.Sub(now)
		}
	}
	return 0
}

// RetryPolicy decides whether an attempt that ended with resp or err is sent
// again. replayable is false for a request that is not safe to send twice, a
// grid run. The client stops anyway when the request's context has ended, when
// the attempts are spent, when the server asks for a longer wait than the
// client's maximum, or when the wait before the next attempt would pass the
// context's deadline.
type RetryPolicy func(ctx context.Context, replayable bool, resp *http.Response, err error) bool

// DefaultRetryPolicy is the policy clients use unless WithRetryPolicy says
// otherwise:
//
//	                            GET (replayable)   grid run POST
//	request never sent          retry              retry
//	(no connection, or none written before the attempt ended)
//	other network error         retry              no: ErrOutcomeUnknown
//	attempt timeout             retry              no: ErrOutcomeUnknown
//	429 Too Many Requests       retry              retry
//	500, 502, 503, 504          retry              no: ErrOutcomeUnknown
//	other 4xx and 5xx           no                 no
//
// Redirects are not retries: a GET follows them (never from https to
// http); a grid run does not, and a 3xx answer to it is returned matching
// ErrOutcomeUnknown.
//
// A 429 is not retried when X-RateLimit-Remaining says the window still has
// room: that 429 is a quota such as RUN_LIMIT_EXCEEDED, which waiting does
// not lift. TLS certificate errors and too many redirects are not retried.
func DefaultRetryPolicy(ctx context.Context, replayable bool, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		if !transient(err) {
			return false
		}
		return replayable || !connected(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		rl, ok := rateLimitHeaders(resp.Header)
		return !ok || rl.Remaining == 0
	case http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return replayable
	}
	return false
}

// transient reports whether a transport error may go away on its own.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, errGate) || errors.Is(err, ErrResponseTooLarge) ||
		errors.Is(err, errDowngrade) {
		return false
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		invalidCert      x509.CertificateInvalidError
		wrongHost        x509.HostnameError
		verifyErr        *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &invalidCert) ||
		errors.As(err, &wrongHost) || errors.As(err, &verifyErr) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "stopped after") {
		return false // too many redirects
	}
	return true
}

// connected reports whether err may have come after the request reached
// the server. A failed dial or name lookup, or an attempt the transport
// traced to its end before the request was written, prove it did not.
func connected(err error) bool {
	var unsent *unsentError
	if errors.As(err, &unsent) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return false
	}
	return true
}

// backoff is the wait before attempt n+2: what the server asked for, or an
// exponential wait with full jitter between lo and hi.
func backoff(lo, hi time.Duration, n int, resp *http.Response) time.Duration {
	if d := serverWait(resp, time.Now()); d > 0 {
		return min(d, hi)
	}
	ceil := hi
	if n < 32 && lo <= hi>>uint(n) {
		ceil = lo << uint(n)
	}
	if ceil <= lo {
		return lo
	}
	return lo + rand.N(ceil-lo)
}

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
	case ok && rl.Reset.Before(g.last.Reset) && now.Before(g.expires):
		// An answer from a window that has since ended tells nothing new.
	case ok && !rl.Reset.IsZero():
		// Within a window the count only falls: an answer that arrives after
		// a lower one was counted before it, so the lower one stands.
		if rl.Reset.Equal(g.last.Reset) && g.last.Remaining < rl.Remaining {
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
