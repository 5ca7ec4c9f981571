package bitscale

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit is the organization's request budget as a response reported it
// in X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset. The
// zero value means the response carried no such headers.
type RateLimit struct {
	Limit     int // requests allowed per window
	Remaining int // requests left in the current window
	// Reset is when the current window ends, on the local clock: when the
	// response's Date shows the server's clock two seconds or more off,
	// the server's reset is moved by the difference.
	Reset time.Time

	// window is the reset as the server gave it, if Reset was moved: every
	// answer of a window gives the same, where Reset, moved by a
	// difference read from a Date truncated to the second, may vary by up
	// to a second.
	window time.Time
}

// String formats the rate limit for logs.
func (r RateLimit) String() string {
	if r.Limit == 0 && r.Remaining == 0 && r.Reset.IsZero() {
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
		now := time.Now()
		if v < 1e9 {
			rl.Reset = now.Add(time.Duration(v * float64(time.Second))).Truncate(time.Millisecond)
		} else {
			rl.Reset = time.UnixMilli(int64(v * 1000))
			if skew := clockSkew(h, now); skew != 0 {
				rl.window, rl.Reset = rl.Reset, rl.Reset.Add(skew)
			}
		}
	}
	return rl, ok
}

// windowEnd is the reset as the server gave it, which tells one window
// from another: the same in every answer of a window.
func (r RateLimit) windowEnd() time.Time {
	if r.window.IsZero() {
		return r.Reset
	}
	return r.window
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
