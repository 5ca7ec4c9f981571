package bitscale

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Defaults for the options of the same names.
const (
	DefaultMaxRetries      = 4
	DefaultRetryWaitMin    = 500 * time.Millisecond
	DefaultRetryWaitMax    = 60 * time.Second
	DefaultMaxResponseSize = 64 << 20
)

// Option configures a Client in NewClient or NewClientFromEnv.
type Option func(*settings) error

type settings struct {
	baseURL        string
	workspaceID    string
	httpClient     *http.Client
	userAgent      string
	maxRetries     int
	waitMin        time.Duration
	waitMax        time.Duration
	attemptTimeout time.Duration
	logger         *slog.Logger
	policy         RetryPolicy
	gate           bool
	allowHTTP      bool
	maxResponse    int64
}

// WithBaseURL sets the API's base URL, such as a fake server's. A URL with
// no path gets the version path /api/v1/. NewClient refuses a relative URL,
// one with a query or fragment, and plain http:// to a host other than
// loopback unless WithAllowHTTP is also given.
func WithBaseURL(rawURL string) Option {
	return func(s *settings) error { s.baseURL = rawURL; return nil }
}

// WithWorkspaceID sets the workspace sent in the workspace-id header. It
// returns an error from NewClient when id holds control characters.
func WithWorkspaceID(id string) Option {
	return func(s *settings) error {
		s.workspaceID = strings.TrimSpace(id)
		if !headerSafe(s.workspaceID) {
			return errors.New("bitscale: WithWorkspaceID: control character in workspace ID")
		}
		return nil
	}
}

// headerSafe reports whether s can be sent as a header value as it is.
func headerSafe(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// WithHTTPClient sets the HTTP client whose transport, redirect policy,
// cookie jar and timeout are used. The client is copied, not changed. Before
// a grid run, when every idle connection has sat unused for half a second
// or more, the client closes them through the transport's
// CloseIdleConnections method, so that the run is not written on a
// connection the server may be closing; a transport without that method
// (*http.Transport has it) carries runs on whatever connection it picks.
// The client's own transport, used without this option, also learns how
// soon the server closes idle connections and shortens that half second to
// half of it. It returns an error from NewClient when c is nil.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) error {
		if c == nil {
			return errors.New("bitscale: WithHTTPClient: nil *http.Client")
		}
		s.httpClient = c
		return nil
	}
}

// WithUserAgent puts a product token of the caller's, such as
// "leadsync/2.1", before the SDK's own in the User-Agent header.
func WithUserAgent(product string) Option {
	return func(s *settings) error {
		if !headerSafe(product) {
			return errors.New("bitscale: WithUserAgent: control character in user agent")
		}
		s.userAgent = strings.TrimSpace(product)
		return nil
	}
}

// WithMaxRetries sets how many times a failed request may be sent again
// (DefaultMaxRetries); 0 sends every request once. It returns an error from
// NewClient when n is negative.
func WithMaxRetries(n int) Option {
	return func(s *settings) error {
		if n < 0 {
			return fmt.Errorf("bitscale: WithMaxRetries: negative count %d", n)
		}
		s.maxRetries = n
		return nil
	}
}

// WithRetryWait sets the shortest and longest wait between attempts
// (DefaultRetryWaitMin, DefaultRetryWaitMax). The longest wait also bounds
// how long the client honours Retry-After and rate-limit resets: when the
// server asks for a longer wait, the call returns its error at once. It
// returns an error from NewClient when min is negative or above max.
func WithRetryWait(min, max time.Duration) Option {
	return func(s *settings) error {
		if min < 0 || max < min {
			return fmt.Errorf("bitscale: WithRetryWait: need 0 <= min <= max, got %s and %s", min, max)
		}
		s.waitMin, s.waitMax = min, max
		return nil
	}
}

// WithAttemptTimeout bounds each attempt, reading its response included,
// besides the deadline of the call's context. Zero means no bound.
func WithAttemptTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 {
			return fmt.Errorf("bitscale: WithAttemptTimeout: negative duration %s", d)
		}
		s.attemptTimeout = d
		return nil
	}
}

// WithLogger logs each attempt and retry at debug and info level. The
// client is silent without it. Nothing logged holds the API key.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error { s.logger = l; return nil }
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(s *settings) error {
		if p == nil {
			return errors.New("bitscale: WithRetryPolicy: nil policy")
		}
		s.policy = p
		return nil
	}
}

// WithRateLimitGate turns the rate-limit gate on (the default) or off. While
// on, requests wait for the window's reset when the organization's requests
// are spent instead of being sent only to be refused with 429.
func WithRateLimitGate(on bool) Option {
	return func(s *settings) error { s.gate = on; return nil }
}

// WithAllowHTTP lets the base URL use plain http:// to a host other than
// loopback, which sends the API key unencrypted.
func WithAllowHTTP() Option {
	return func(s *settings) error { s.allowHTTP = true; return nil }
}

// WithMaxResponseSize bounds the size of a response body the client reads
// (DefaultMaxResponseSize); a larger one is an error matching
// ErrResponseTooLarge.
func WithMaxResponseSize(n int64) Option {
	return func(s *settings) error {
		if n <= 0 {
			return fmt.Errorf("bitscale: WithMaxResponseSize: need a positive size, got %d", n)
		}
		s.maxResponse = n
		return nil
	}
}
