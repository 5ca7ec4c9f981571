package fakeserver

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rateLimiter counts one organization's requests in fixed windows aligned
// to whole multiples of the window since the Unix epoch.
type rateLimiter struct {
	limit  int
	window int64 // seconds
	start  int64 // Unix second the counted window began
	used   int
}

func newRateLimiter(limit int, window time.Duration) rateLimiter {
	secs := int64((window + time.Second - 1) / time.Second)
	return rateLimiter{limit: max(limit, 1), window: max(secs, 1)}
}

// take counts a request made at now unless the window is spent. It returns
// the requests left after it, the Unix second the window resets, and
// whether the request is allowed.
func (l *rateLimiter) take(now time.Time) (remaining int, reset int64, ok bool) {
	sec := now.Unix()
	start := sec - sec%l.window
	if start != l.start {
		l.start, l.used = start, 0
	}
	reset = start + l.window
	if l.used >= l.limit {
		return 0, reset, false
	}
	l.used++
	return l.limit - l.used, reset, true
}

// SetRateLimit replaces the rate limit, as WithRateLimit does, and starts
// counting afresh.
func (s *Server) SetRateLimit(limit int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter = newRateLimiter(limit, window)
}

// admit counts an authenticated request against the rate limit and sets
// the rate-limit headers. If the window is spent it answers 429
// RATE_LIMITED with Retry-After and reports false.
func (s *Server) admit(w http.ResponseWriter) bool {
	now := s.now()
	s.mu.Lock()
	remaining, reset, ok := s.limiter.take(now)
	limit, window := s.limiter.limit, s.limiter.window
	s.mu.Unlock()

	h := w.Header()
	setHeader(h, "X-RateLimit-Limit", strconv.Itoa(limit))
	setHeader(h, "X-RateLimit-Remaining", strconv.Itoa(remaining))
	setHeader(h, "X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	if ok {
		return true
	}
	wait := time.Unix(reset, 0).Sub(now)
	secs := max(int64((wait+time.Second-1)/time.Second), 1)
	setHeader(h, "Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, errorf(CodeRateLimited, "rate limit of %d requests per %d s exceeded; retry in %d s", limit, window, secs))
	return false
}

// setHeader sets a header under exactly the given name, replacing it under
// any other spelling: the fake writes names as the reference spells them,
// "X-RateLimit-Limit" rather than Go's canonical "X-Ratelimit-Limit".
func setHeader(h http.Header, name string, values ...string) {
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
	h[name] = values
}
