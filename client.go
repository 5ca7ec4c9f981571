package bitscale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults for the options of the same names.
const (
	DefaultMaxRetries      = 4
	DefaultRetryWaitMin    = 500 * time.Millisecond
	DefaultRetryWaitMax    = 60 * time.Second
	DefaultMaxResponseSize = 64 << 20
)

// ErrNoWorkspace is returned, before any request is sent, by the methods of
// endpoints that need a workspace when the client has none.
var ErrNoWorkspace = errors.New("bitscale: no workspace ID: set one with WithWorkspaceID, " +
	"the BITSCALE_WORKSPACE_ID environment variable, or Client.ForWorkspace")

// Client talks to the BitScale API. Create one with NewClient or
// NewClientFromEnv and share it: it is safe for concurrent use.
type Client struct {
	Users      *UsersService
	Workspaces *WorkspacesService
	Grids      *GridsService
	Runs       *RunsService

	workspaceID string
	core        *core // shared with the clients made by ForWorkspace
}

// core is what every client of one NewClient call shares.
type core struct {
	key         *string // a pointer, which fmt prints as an address
	baseURL     *url.URL
	base        string // baseURL as a string, to join paths to
	userAgent   string
	maxResponse int64
	gate        *gate
	conns       *transport
	replayable  *retryablehttp.Client // for requests safe to send twice
	once        *retryablehttp.Client // for requests that are not (grid runs)
}

type service struct{ client *Client }

// UsersService reads the account of the API key's user.
type UsersService service

// WorkspacesService lists and reads workspaces.
type WorkspacesService service

// GridsService lists, reads and runs grids.
type GridsService service

// RunsService reads asynchronous runs and waits for them to end.
type RunsService service

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

// NewClient returns a client that authenticates with apiKey. It sends no
// request. It returns an error for an empty key, a key that cannot be sent
// in a header, or an invalid option.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	key := strings.TrimSpace(apiKey)
	if key == "" {
		return nil, errors.New("bitscale: empty API key: pass the key of your BitScale account, such as " +
			"os.Getenv(\"BITSCALE_API_KEY\") with BITSCALE_API_KEY set, or use NewClientFromEnv")
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, errors.New("bitscale: API key holds spaces or control characters")
	}
	s := settings{
		baseURL:     DefaultBaseURL,
		maxRetries:  DefaultMaxRetries,
		waitMin:     DefaultRetryWaitMin,
		waitMax:     DefaultRetryWaitMax,
		policy:      DefaultRetryPolicy,
		gate:        true,
		maxResponse: DefaultMaxResponseSize,
	}
	for _, opt := range opts {
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(s.baseURL, s.allowHTTP)
	if err != nil {
		return nil, err
	}
	c := &core{
		key:         &key,
		baseURL:     base,
		base:        base.String(),
		userAgent:   strings.TrimSpace(s.userAgent + " bitscale-go/" + Version),
		maxResponse: s.maxResponse,
		gate:        newGate(s.waitMax, s.gate),
	}
	c.conns = &transport{key: []string{key}, base: base, gate: c.gate}
	hc := httpClient(s, c.conns)
	c.replayable = retryClient(s, c, hc, true)
	c.once = retryClient(s, c, hc, false)
	return newClient(c, s.workspaceID), nil
}

// NewClientFromEnv returns a client configured from BITSCALE_API_KEY,
// BITSCALE_WORKSPACE_ID and BITSCALE_BASE_URL; opts are applied after them
// and so win. It returns an error when BITSCALE_API_KEY is unset, or as
// NewClient does.
func NewClientFromEnv(opts ...Option) (*Client, error) {
	key := os.Getenv("BITSCALE_API_KEY")
	if strings.TrimSpace(key) == "" {
		return nil, errors.New("bitscale: BITSCALE_API_KEY is not set")
	}
	var env []Option
	if ws := os.Getenv("BITSCALE_WORKSPACE_ID"); ws != "" {
		env = append(env, WithWorkspaceID(ws))
	}
	if u := os.Getenv("BITSCALE_BASE_URL"); u != "" {
		env = append(env, WithBaseURL(u))
	}
	return NewClient(key, append(env, opts...)...)
}

func newClient(c *core, workspaceID string) *Client {
	cl := &Client{core: c, workspaceID: workspaceID}
	cl.Users = &UsersService{cl}
	cl.Workspaces = &WorkspacesService{cl}
	cl.Grids = &GridsService{cl}
	cl.Runs = &RunsService{cl}
	return cl
}

// ForWorkspace returns a client for another workspace that shares this
// client's connections, options and rate-limit gate, for programs that serve
// several workspaces. An empty ID gives a client with no workspace.
func (c *Client) ForWorkspace(workspaceID string) *Client {
	return newClient(c.core, strings.TrimSpace(workspaceID))
}

// WorkspaceID returns the workspace sent in the workspace-id header, or "".
func (c *Client) WorkspaceID() string { return c.workspaceID }

// BaseURL returns a copy of the base URL requests are sent to.
func (c *Client) BaseURL() *url.URL {
	u := *c.core.baseURL
	return &u
}

// RateLimit returns the rate limit the API last reported to this client or
// to any client made from it with ForWorkspace. It is safe for concurrent use.
func (c *Client) RateLimit() RateLimit { return c.core.gate.rateLimit() }

// String describes the client without its API key, or a password in the
// base URL.
func (c *Client) String() string {
	return fmt.Sprintf("bitscale.Client{base: %s, workspace: %q}", c.core.baseURL.Redacted(), c.workspaceID)
}

func parseBaseURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("bitscale: base URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return nil, fmt.Errorf("bitscale: base URL %q is not an absolute http(s) URL", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("bitscale: base URL %q has a query or fragment", raw)
	case u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()):
		return nil, fmt.Errorf("bitscale: base URL %q would send the API key unencrypted; "+
			"use https, or WithAllowHTTP if this is intended", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/api/v1/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// idleTimeout is how long the default transport keeps a connection idle:
// less than load balancers commonly do (60s, nginx 75s), so that the client
// closes it first rather than reuse one the server is closing.
const idleTimeout = 30 * time.Second

// runIdleTimeout is how long the connections may all have been idle and
// still carry a run. A run written on a connection the server was just
// closing cannot be told from one the server took and then failed, so its
// outcome would be unknown. A connection used this recently is open unless
// the server closes idle connections sooner than common ones do (1s at the
// least, and 2s to 75s usually), so a busy batch keeps its connections, and
// a run after a quiet spell dials afresh.
const runIdleTimeout = 500 * time.Millisecond

// httpClient returns a copy of the configured HTTP client whose transport
// is t wrapped around the configured one.
func httpClient(s settings, t *transport) *http.Client {
	var hc http.Client
	if s.httpClient != nil {
		hc = *s.httpClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Keep a connection per concurrent caller, not net/http's default of
		// two, so that parallel callers reuse connections instead of opening
		// new ones for every request.
		tr.MaxIdleConnsPerHost = 100
		tr.IdleConnTimeout = idleTimeout
		// Learn how soon the server closes idle connections, so that a
		// run is never sent on one it may be closing.
		tr.DialContext = watchConns(tr.DialContext, t)
		hc.Transport = tr
	}
	t.next = hc.Transport
	if t.next == nil {
		t.next = http.DefaultTransport
	}
	hc.Transport = t
	t.timeout = s.attemptTimeout
	hc.CheckRedirect = checkRedirect(hc.CheckRedirect, t.key[0])
	return &hc
}

// errDowngrade is the error of a redirect from https to plain http.
var errDowngrade = errors.New("refusing a redirect from https to http")

// checkRedirect returns a redirect policy that never follows a redirect of
// a request that is not safe to send twice, which would make its outcome a
// guess (the answer to the redirect is not the answer to the run), and
// never follows one from https to http, saying where it led, without key,
// should the server have put it in the URL; then asks next, or stops after
// 10.
func checkRedirect(next func(*http.Request, []*http.Request) error, key string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case !replayable(via[0].Method):
			return http.ErrUseLastResponse
		case via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https":
			to := strings.ReplaceAll(req.URL.Redacted(), key, redacted)
			return fmt.Errorf("%w (to %s)", errDowngrade, to)
		case next != nil:
			return next(req, via)
		case len(via) >= 10:
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// retryClient returns the retrying client for requests that are, or are
// not, safe to send twice. Its CheckRetry decides whether to retry and
// waits before saying yes: only it knows the call (from the context) and so
// the attempt number, the deadline and what the attempt left behind.
func retryClient(s settings, c *core, hc *http.Client, replayable bool) *retryablehttp.Client {
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     s.maxRetries,
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		PrepareRetry: freshBody,
	}
	policy, waitMin, waitMax, log := s.policy, s.waitMin, s.waitMax, s.logger
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		cl := ctx.Value(callKey{}).(*call)
		if err == nil {
			// Read the body inside the retry loop, so that a body cut off
			// mid-way is retried like any other failed attempt.
			err = cl.read(resp)
		}
		if cl.retries >= s.maxRetries {
			return false, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if err == nil || !errors.Is(err, ctxErr) {
				cl.stop = ctxErr // the attempt's own error does not say it
			}
			return false, nil
		}
		if !policy(ctx, replayable, resp, err) {
			return false, nil
		}
		// Rather than wait and try again in vain, give the caller the
		// server's answer now when its wait is longer than allowed.
		if serverWait(resp, time.Now()) > waitMax {
			return false, nil
		}
		wait := backoff(waitMin, waitMax, cl.retries, resp)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			cl.stop = fmt.Errorf("waiting %s would pass the context's deadline: %w",
				wait.Round(time.Millisecond), context.DeadlineExceeded)
			return false, nil
		}
		cl.cause = c.attemptError(cl, resp, err)
		if log != nil {
			logRetry(log, resp, err)
		}
		if wait > 0 {
			if err := sleep(ctx, wait, nil); err != nil {
				cl.stop = err
				return false, nil
			}
		}
		cl.retries++
		return true, nil
	}
	if log != nil {
		rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, n int) {
			log.Debug("bitscale: request", "method", req.Method, "path", req.URL.EscapedPath(), "attempt", n+1)
		}
		rc.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
			log.Debug("bitscale: response", "method", resp.Request.Method, "path", resp.Request.URL.EscapedPath(),
				"status", resp.StatusCode, "rate_limit", parseRateLimit(resp.Header).String())
		}
	}
	return rc
}

// freshBody gives a retry a new body from GetBody. It runs on the retry's
// own copy of the request: the attempt before may still be reading the old
// body, so rewinding that one would race with it.
func freshBody(req *http.Request) error {
	if req.GetBody == nil || req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	req.Body = body
	return nil
}

func logRetry(log *slog.Logger, resp *http.Response, err error) {
	if resp != nil {
		log.Info("bitscale: retrying", "method", resp.Request.Method, "path", resp.Request.URL.EscapedPath(),
			"status", resp.StatusCode)
		return
	}
	log.Info("bitscale: retrying", "error", err)
}

// transport adds the API key to requests for the API's host, and only those,
// passes them through the rate-limit gate, and bounds each attempt.
type transport struct {
	next    http.RoundTripper
	key     []string // the api_key header value, shared and never changed
	base    *url.URL
	gate    *gate
	timeout time.Duration // per attempt, or 0
	idle    atomic.Int64  // when a connection last went back to the pool, in Unix nanoseconds
	// serverIdle is the shortest time, in nanoseconds, after which the
	// server was seen to close an idle connection, or 0.
	serverIdle atomic.Int64
}

// pooled records that an answer was read whole, so its connection went
// back to the pool, newest of all: net/http reuses the newest first.
func (t *transport) pooled(resp *http.Response) {
	if !resp.Close {
		t.idle.Store(time.Now().UnixNano())
	}
}

// dropStale closes the idle connections when even the newest of them has
// been idle longer than runIdle allows, so that the run about to be sent
// dials a connection of its own rather than take one the server may be
// closing. Connections in use are not touched.
func (t *transport) dropStale() {
	if time.Since(time.Unix(0, t.idle.Load())) <= t.runIdle() {
		return
	}
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// RoundTrip sends one attempt. It does not change req: the key goes on a
// copy, so the caller's request and Response.Request never hold it.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.base.Scheme || req.URL.Host != t.base.Host {
		// A redirect or a URL from a response led elsewhere: the key is
		// never added, and net/http copied the workspace header, so drop it.
		//lint:ignore SA1008 the header is stored as the API spells it, not canonicalized.
		if _, ok := req.Header[headerWorkspace]; ok {
			r := *req
			r.Header = req.Header.Clone()
			delete(r.Header, headerWorkspace)
			req = &r
		}
		return t.next.RoundTrip(req)
	}
	probe, err := t.gate.acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &unsentError{err}
	}
	var (
		rl           RateLimit
		ok, answered bool
	)
	defer func() { t.gate.release(rl, ok, answered, probe) }() // even if next panics

	ctx := req.Context()
	var sent *sendTrace
	if !replayable(req.Method) {
		sent = newSendTrace()
		ctx = httptrace.WithClientTrace(ctx, &sent.trace)
	}
	r := req.WithContext(ctx) // the copy that carries the key
	r.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	r.Header[headerAPIKey] = t.key
	if sent != nil {
		// net/http's HTTP/2 transport resends a request it can rebuild
		// after some stream errors, even once the server had all of it:
		// a run must not be sent twice behind the SDK's back.
		r.GetBody = nil
		t.dropStale()
	}
	resp, err := t.send(r)
	if err != nil && sent != nil && sent.unsent() {
		err = &unsentError{err}
	}
	if resp == nil {
		return nil, err
	}
	rl, ok = rateLimitHeaders(resp.Header)
	answered = true
	resp.Request = req
	return resp, err
}

// send sends r, bounded by the attempt timeout if there is one; then the
// attempt's context ends when the body is closed, once it has been read.
func (t *transport) send(r *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.next.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if resp == nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			err = fmt.Errorf("attempt timed out after %s: %w", t.timeout, err)
		}
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{resp.Body, cancel}
	return resp, err
}

// sendTrace follows one attempt, to tell whether the request was written.
type sendTrace struct {
	trace          httptrace.ClientTrace
	gotConn, wrote atomic.Bool
}

func newSendTrace() *sendTrace {
	s := new(sendTrace)
	s.trace.GetConn = func(string) { s.gotConn.Store(true) }
	s.trace.WroteHeaders = func() { s.wrote.Store(true) }
	return s
}

// unsent reports whether the attempt surely ended before the server could
// see the request: the transport reports its steps, and the headers were
// never written.
func (s *sendTrace) unsent() bool { return s.gotConn.Load() && !s.wrote.Load() }

// cancelBody ends an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// unsentError wraps the error of an attempt that failed before the server
// could see the request, which is safe to send again.
type unsentError struct{ err error }

func (e *unsentError) Error() string { return e.err.Error() }
func (e *unsentError) Unwrap() error { return e.err }

// Response is the API's HTTP response. Its body has been read and closed;
// the decoded value is what the method returned.
type Response struct {
	*http.Response

	// RateLimit is the rate limit this response reported.
	RateLimit RateLimit
}

// NewRequest returns a request for path, relative to the client's base URL
// (such as "grids/grid_001"), with body encoded as JSON when not nil. It
// sets the Accept, User-Agent, Content-Type and workspace-id headers; the API
// key is added when the request is sent, and only to the API's host. IDs in
// path must already be escaped with url.PathEscape. It returns an error for a
// path that does not parse or a body that cannot be encoded.
func (c *Client) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	target := path
	if !strings.HasPrefix(path, "https://") && !strings.HasPrefix(path, "http://") {
		// Joined as strings, so the URL is parsed once, by net/http.
		target = c.core.base + strings.TrimPrefix(path, "/")
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("bitscale: encoding %s %s body: %w", method, path, err)
		}
		r = bytes.NewReader(b) // net/http sets GetBody, which retries use
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return nil, fmt.Errorf("bitscale: request %s %q: %w", method, path, err)
	}
	if !headerSafe(c.workspaceID) {
		return nil, &ArgumentError{Name: "workspace ID", Reason: "holds control characters"}
	}
	req.Header["Accept"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{c.core.userAgent}
	if body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	if c.workspaceID != "" {
		req.Header[headerWorkspace] = []string{c.workspaceID}
	}
	return req, nil
}

// Do sends req, retrying as the client's policy allows, and decodes a 2xx
// JSON response into v: v may be nil to discard the body, or an io.Writer to
// receive it raw. It returns an *APIError for any other status, a
// *DecodeError for a 2xx body that cannot be read or decoded, and the
// context's error when ctx ends first; when an attempt failed before, that
// error also holds the attempt's cause. The *Response is returned whenever
// the server answered.
func (c *Client) Do(req *http.Request, v any) (*Response, error) {
	method, path := req.Method, req.URL.EscapedPath()
	if err := req.Context().Err(); err != nil {
		return nil, fmt.Errorf("bitscale: %s %s: %w", method, path, err)
	}
	cl := &call{Context: req.Context(), method: method, path: path, limit: c.core.maxResponse, conns: c.core.conns}
	req = req.WithContext(cl)
	cl.req.Request = req
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// A body that cannot be made again is read into memory, so that a
		// retry can send it again. Others get a fresh body in freshBody.
		r, err := retryablehttp.FromRequest(req)
		if err != nil {
			return nil, fmt.Errorf("bitscale: %s %s: reading request body: %w", method, path, err)
		}
		cl.req = *r
	}
	replayable := replayable(method)
	rc := c.core.replayable
	if !replayable {
		rc = c.core.once
	}
	resp, err := rc.Do(&cl.req)
	if err != nil {
		// No answer, or one refused unread (a redirect not followed).
		var r *Response
		if resp != nil {
			r = &Response{Response: resp, RateLimit: parseRateLimit(resp.Header)}
		}
		return r, c.sendError(method, path, replayable, err, cl)
	}
	r := &Response{Response: resp, RateLimit: parseRateLimit(resp.Header)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.core.apiError(method, path, resp, cl.body, r.RateLimit)
		if !replayable && mayHaveRun(resp.StatusCode) {
			return r, &OutcomeError{Err: cl.explain(apiErr)}
		}
		return r, cl.explain(apiErr)
	}
	readErr := cl.readErr
	if readErr == nil {
		readErr = c.decode(resp, cl.body, v)
	}
	if readErr != nil {
		var apiErr *APIError
		if errors.As(readErr, &apiErr) {
			return r, apiErr
		}
		err := cl.explain(&DecodeError{Method: method, Path: path, StatusCode: resp.StatusCode, Err: readErr})
		if !replayable {
			err = &OutcomeError{Err: err, note: "it was carried out, but its answer could not be read; not sent again"}
		}
		return r, err
	}
	return r, nil
}

// mayHaveRun reports whether a request that got this non-2xx status may
// have been carried out: a redirect (not followed for such requests) or a
// server error, but for 501 and 505, which refuse the request as such.
func mayHaveRun(status int) bool {
	switch {
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return false
	case status >= 300 && status <= 399, status >= 500:
		return true
	}
	return false
}

// replayable reports whether a request with this method may be sent twice.
func replayable(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// sendError wraps the error of a request that got no response. Whether a
// run may have been carried out is judged on the last attempt's error
// alone: the cause kept from an attempt before is only told.
func (c *Client) sendError(method, path string, replayable bool, err error, cl *call) error {
	wrapped := cl.explain(fmt.Errorf("bitscale: %s %s: %w", method, path, attemptCause(err)))
	// Only an attempt's error (a *url.Error) can come from a request the
	// server saw; a bare context error ended a wait between attempts.
	var ue *url.Error
	if !replayable && errors.As(err, &ue) && connected(err) {
		return &OutcomeError{Err: wrapped}
	}
	return wrapped
}

// attemptCause returns the error of an attempt without the *url.Error
// around it, which repeats the method and URL.
func attemptCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// callKey is the context key under which a *call finds itself.
type callKey struct{}

// call is one Do call as its attempts go: the request as go-retryablehttp
// sends it, the body of the last answer, and what the retry decisions left
// for the error that ends the call. It is also the request's context, the
// caller's with the call added, which is how CheckRetry finds it; being one
// allocation rather than two keeps a call's cost down.
type call struct {
	context.Context // the caller's
	req             retryablehttp.Request
	method, path    string
	limit           int64      // on a 2xx body
	conns           *transport // told when an answer was read whole

	body    []byte // of the last answer
	readErr error  // from reading body

	retries int   // retries granted so far
	cause   error // the error of the last attempt retried
	stop    error // why a retry the policy wanted was not made
}

// Value returns the call itself for callKey, and otherwise what the
// caller's context holds.
func (cl *call) Value(key any) any {
	if key == (callKey{}) {
		return cl
	}
	return cl.Context.Value(key)
}

// read reads and closes the body of an attempt's answer.
func (cl *call) read(resp *http.Response) error {
	failed := resp.StatusCode < 200 || resp.StatusCode > 299
	limit := cl.limit
	if failed {
		limit = maxErrorBody
	}
	var body []byte
	var err error
	if !failed && resp.ContentLength > limit {
		// Refused before a byte is read or a buffer is sized for it.
		err = fmt.Errorf("%w: Content-Length %d, more than %d bytes", ErrResponseTooLarge, resp.ContentLength, limit)
	} else {
		body, err = readLimited(resp, limit)
	}
	resp.Body.Close()
	resp.Body = http.NoBody // nothing left for go-retryablehttp to drain
	if err == nil {
		cl.conns.pooled(resp)
	}
	if failed {
		err = nil // the part read still makes a useful APIError
	}
	cl.body, cl.readErr = body, err
	return err
}

// explain returns err, the error that ends the call, with what it would
// otherwise lose: why the call stopped when a retry was wanted, or the cause
// of the attempt before when the context ended the last one.
func (cl *call) explain(err error) error {
	if cl.stop != nil {
		return fmt.Errorf("%w (not tried again: %w)", err, cl.stop)
	}
	if ctxErr := cl.Err(); cl.cause != nil && ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (the attempt before failed: %w)", err, cl.cause)
	}
	return err
}

// attemptError returns the error of an attempt that is to be retried, for
// the call's error should the context end the next one.
func (c *core) attemptError(cl *call, resp *http.Response, err error) error {
	switch {
	case resp == nil:
		return attemptCause(err)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return c.apiError(cl.method, cl.path, resp, cl.body, parseRateLimit(resp.Header))
	case err != nil:
		return &DecodeError{Method: cl.method, Path: cl.path, StatusCode: resp.StatusCode, Err: err}
	}
	return fmt.Errorf("%d %s answer retried by the policy", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// apiError returns the *APIError for a non-2xx answer whose body was read,
// without the API key should the server have echoed it: the bytes are
// redacted, and so are the decoded strings, in which JSON escapes such as
// \u0062 may have spelled the key differently.
func (c *core) apiError(method, path string, resp *http.Response, body []byte, rl RateLimit) *APIError {
	e := newAPIError(resp, c.redact(body), rl)
	e.Method, e.Path = method, path
	key := *c.key
	e.Code = strings.ReplaceAll(e.Code, key, redacted)
	e.Message = strings.ReplaceAll(e.Message, key, redacted)
	redactValue(e.Details, key)
	return e
}

// redactValue returns v, a decoded JSON value, with key replaced in every
// string it holds, map keys included; maps and slices are changed in place.
func redactValue(v any, key string) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, key, redacted)
	case []any:
		for i, e := range v {
			v[i] = redactValue(e, key)
		}
	case map[string]any:
		var echoed []string
		for k, e := range v {
			v[k] = redactValue(e, key)
			if strings.Contains(k, key) {
				echoed = append(echoed, k)
			}
		}
		for _, k := range echoed { // renamed after the loop, which must not meet them again
			v[strings.ReplaceAll(k, key, redacted)] = v[k]
			delete(v, k)
		}
	}
	return v
}

// maxPresize bounds the buffer allocated from a Content-Length before any
// byte arrives.
const maxPresize = 16 << 20

// readLimited reads at most limit bytes of resp.Body into a buffer sized
// from Content-Length when the server sent one, so that a large body is held
// once, not grown by copying. A longer body gives its first limit bytes and
// an error matching ErrResponseTooLarge. It does not close the body.
func readLimited(resp *http.Response, limit int64) ([]byte, error) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil, nil // HEAD, 204, 304: a Content-Length, but no body
	}
	limit = min(limit, math.MaxInt64-1) // so that limit+1 cannot overflow
	// Content-Length sizes the buffer, up to a bound: it is a claim, and
	// the bytes may never come.
	if n := resp.ContentLength; n >= 0 && n <= min(limit, maxPresize) {
		buf := make([]byte, n)
		k, err := io.ReadFull(resp.Body, buf)
		return buf[:k], err
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if int64(b.Len()) > limit {
		// The part read is returned: enough for an error's excerpt.
		return b.Bytes()[:limit], fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	return b.Bytes(), err
}

// decode decodes a 2xx body into v. It unwraps a {"success":…,"data":…}
// envelope, which the body is taken to be when decoding it directly leaves v
// empty, and turns {"success":false,"error":…} into an *APIError.
func (c *Client) decode(resp *http.Response, body []byte, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case io.Writer:
		_, err := v.Write(body)
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if resp.StatusCode == http.StatusNoContent {
			return nil
		}
		return errors.New("empty body where JSON was expected")
	}
	if err := unmarshal(body, v); err != nil {
		return err
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		return nil
	}
	env := struct {
		Success *bool           `json:"success"`
		Data    any             `json:"data"`
		Error   json.RawMessage `json:"error"`
	}{Data: v}
	if err := unmarshal(body, &env); err != nil {
		return err
	}
	if env.Success != nil && !*env.Success {
		return c.core.apiError(resp.Request.Method, resp.Request.URL.EscapedPath(), resp, body, parseRateLimit(resp.Header))
	}
	return nil
}

// unmarshal decodes body into v. A number too large for a float64 in an
// interface value, such as a run's outputs, does not lose the whole answer:
// the body is decoded again keeping such numbers as json.Number, and the
// others as float64. Only an answer with such a number pays for it.
func unmarshal(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil || !tooBigNumber(err) {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	floatNumbers(reflect.ValueOf(v))
	return nil
}

// tooBigNumber reports whether err is encoding/json's for a number that
// did not fit the value it was decoded into. It is apart from unmarshal so
// that only an error pays for the target errors.As needs.
func tooBigNumber(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te) && strings.HasPrefix(te.Value, "number")
}

// floatNumbers turns the json.Number values held in interfaces within v
// into float64 where they fit, so that only the numbers a float64 cannot
// hold stay json.Number.
func floatNumbers(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if f, ok := fitFloat(v); ok {
			if v.CanSet() {
				v.Set(f)
			}
			return
		}
		floatNumbers(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				floatNumbers(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			floatNumbers(v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			// A map's values cannot be set in place: they are stored anew.
			if f, ok := fitFloat(it.Value()); ok {
				v.SetMapIndex(it.Key(), f)
				continue
			}
			floatNumbers(it.Value())
		}
	}
}

// fitFloat returns the float64 of an interface value holding a json.Number
// that fits one.
func fitFloat(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() != reflect.Interface || v.IsNil() {
		return reflect.Value{}, false
	}
	n, ok := v.Elem().Interface().(json.Number)
	if !ok {
		return reflect.Value{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return reflect.Value{}, false
	}
	return reflect.ValueOf(f), true
}

// redacted replaces the API key wherever the server echoed it.
const redacted = "[redacted]"

// redact removes the API key from a body, in case the server echoed it
// back in an error; done on the bytes, before any of it is cut or parsed.
func (c *core) redact(body []byte) []byte {
	key := []byte(*c.key)
	if !bytes.Contains(body, key) {
		return body
	}
	return bytes.ReplaceAll(body, key, []byte(redacted))
}

// send builds a request, sends it and decodes the answer into a new T.
func send[T any](ctx context.Context, c *Client, method, path string, body any) (*T, *Response, error) {
	req, err := c.NewRequest(ctx, method, path, body)
	if err != nil {
		return nil, nil, err
	}
	v := new(T)
	resp, err := c.Do(req, v)
	if err != nil {
		return nil, resp, err
	}
	return v, resp, nil
}

// needWorkspace returns ErrNoWorkspace when the client has no workspace.
func (c *Client) needWorkspace() error {
	if c.workspaceID == "" {
		return ErrNoWorkspace
	}
	return nil
}

// CloseIdleConnections closes the connections the client keeps open for
// reuse, such as before a program exits. The client stays usable.
func (c *Client) CloseIdleConnections() {
	// The transport wrapper hides this method from http.Client on purpose:
	// go-retryablehttp closes idle connections whenever retries run out,
	// which would make a busy client's other callers reconnect.
	if ci, ok := c.core.conns.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
