package bitscale

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serverWait is how long the server asked the client to wait before the
// next attempt: Retry-After, or on a 429 the time until X-RateLimit-Reset.
func serverWait(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return 0
	}
	if d := retryAfter(resp.Header, now); d > 0 {
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
