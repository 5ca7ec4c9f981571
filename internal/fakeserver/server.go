// Package fakeserver is an in-process fake of the BitScale HTTP API v1.
//
// A Server listens on a loopback port and serves the API's seven operations
// under /api/v1, seeded with the API reference's own examples: the user
// usr_abc123, the workspaces ws_abc123 and ws_def456, and the grid grid_001.
// It checks the api_key and workspace-id headers, answers with the
// reference's JSON fields and error envelope, runs grids synchronously or
// asynchronously (queued, running, completed or failed), charges credits,
// enforces run quotas and a per-organization rate limit, signs and retries
// webhook deliveries, and can be told to misbehave with InjectFault.
//
// Everything it saw and did is recorded: Requests, Runs, Deliveries. A
// Server is safe for concurrent use; Close stops it and waits for every
// goroutine it started.
package fakeserver

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of the options of the same names.
const (
	DefaultAPIKey         = "bsk_test_fakeserver"
	DefaultWebhookSecret  = "whsec_test_fakeserver"
	DefaultRunCost        = 12
	DefaultQueuedFor      = 20 * time.Millisecond
	DefaultRunningFor     = 100 * time.Millisecond
	DefaultRateLimit      = 1000
	DefaultRateWindow     = time.Minute
	DefaultWebhookTimeout = 10 * time.Second
	DefaultWebhookBackoff = 50 * time.Millisecond
)

// basePath is where the API lives; every route is below it.
const basePath = "/api/v1/"

// maxBody bounds the request bodies the fake reads.
const maxBody = 1 << 20

// Server is a running fake of the BitScale API.
type Server struct {
	// Set by the options, fixed once the server runs.
	addr           string
	apiKey         string
	webhookSecret  string
	seeded         bool
	logger         *slog.Logger
	clock          func() time.Time
	syncLatency    time.Duration
	webhookTimeout time.Duration
	webhookBackoff time.Duration
	runErrorString bool
	localWebhooks  bool
	polledStages   bool

	base      string
	srv       *http.Server
	ln        net.Listener
	conns     connTracker
	webhook   *http.Client
	ctx       context.Context // ends when Close begins
	cancel    context.CancelFunc
	serving   chan struct{} // closed when Serve has returned
	workers   sync.WaitGroup
	closeOnce sync.Once

	mu             sync.Mutex
	closed         bool
	enricher       Enricher
	runCost        int
	durations      runDurations
	limiter        rateLimiter
	user           User
	workspaces     map[string]*workspace
	workspaceOrder []string
	grids          map[string]*grid
	gridOrder      []string
	runs           map[string]*run
	runOrder       []string
	requests       []Request
	seq            uint64 // numbers the requests recorded
	deliveries     []Delivery
	faults         []*pendingFault
}

// New starts a fake on a random loopback port, or on the address given
// with WithAddr. It panics if it cannot listen, as httptest.NewServer
// does; use Start to get the error instead.
func New(opts ...Option) *Server {
	s, err := Start(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Start is New that returns an error instead of panicking when it cannot
// listen on the address.
func Start(opts ...Option) (*Server, error) {
	s := &Server{
		addr:           "127.0.0.1:0",
		apiKey:         DefaultAPIKey,
		webhookSecret:  DefaultWebhookSecret,
		seeded:         true,
		clock:          time.Now,
		webhookTimeout: DefaultWebhookTimeout,
		webhookBackoff: DefaultWebhookBackoff,
		runCost:        DefaultRunCost,
		durations:      runDurations{queued: DefaultQueuedFor, running: DefaultRunningFor},
		limiter:        newRateLimiter(DefaultRateLimit, DefaultRateWindow),
		workspaces:     make(map[string]*workspace),
		grids:          make(map[string]*grid),
		runs:           make(map[string]*run),
		serving:        make(chan struct{}),
	}
	for _, opt := range opts {
		opt(s)
	}
	s.user = seedUser()
	if s.seeded {
		s.seed()
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("fakeserver: %w", err)
	}
	s.serve(ln)
	return s, nil
}

// serve starts serving the API on ln, in a goroutine Close waits for.
func (s *Server) serve(ln net.Listener) {
	s.ln = ln
	s.base = "http://" + ln.Addr().String() + basePath
	s.ctx, s.cancel = context.WithCancel(context.Background())

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // deliveries go straight to the test's own listener
	tr.DisableKeepAlives = true
	s.webhook = &http.Client{Transport: tr, Timeout: s.webhookTimeout}

	errLog := log.New(io.Discard, "", 0)
	if s.logger != nil {
		errLog = slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)
	}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ConnState:         s.conns.track,
		ErrorLog:          errLog,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(s.serving)
		s.srv.Serve(ln)
	}()
}

// URL returns the API's base URL, version path and trailing slash
// included: "http://127.0.0.1:PORT/api/v1/".
func (s *Server) URL() string { return s.base }

// APIKey returns the only api_key the fake accepts.
func (s *Server) APIKey() string { return s.apiKey }

// WebhookSecret returns the secret the fake signs webhook deliveries with.
func (s *Server) WebhookSecret() string { return s.webhookSecret }

// Handler returns the fake's HTTP handler, for mounting it elsewhere.
// Poll URLs it hands out still point at the fake's own listener.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops the server: it stops accepting connections, cuts every wait
// (async run stages, slow responses, webhook backoffs and deliveries in
// flight), lets requests being served finish, and returns once every
// goroutine the fake started has ended. Runs still queued or running stay
// so. Close is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()

		s.srv.SetKeepAlivesEnabled(false)
		s.ln.Close()
		<-s.serving
		s.conns.closeIdle()
		s.conns.wg.Wait()
		s.workers.Wait()
		s.webhook.CloseIdleConnections()
	})
}

// now reads the fake's clock.
func (s *Server) now() time.Time { return s.clock() }

// wait pauses for d. It reports false, early, if ctx ends or the server
// closes.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil && s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

// call is one request being served.
type call struct {
	r       *http.Request
	body    []byte
	bodyErr error
	args    []string // path parameters of the matched route, unescaped
	outcome string   // what a fault did instead of answering, for the log
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, now: s.now}
	c := &call{r: r}
	c.body, c.bodyErr = readBody(r)
	seq := s.record(r, c.body)

	if f, ok := s.takeFault(r.Method, strings.TrimPrefix(r.URL.EscapedPath(), basePath)); ok {
		s.serveFault(sw, c, f)
	} else {
		s.serveAPI(sw, c)
	}
	s.recordStatus(seq, sw.status)

	if s.logger != nil {
		attrs := []any{"method", r.Method, "path", r.URL.EscapedPath(), "status", sw.status, "duration", time.Since(start).Round(time.Microsecond)}
		if c.outcome != "" {
			attrs = append(attrs, "fault", c.outcome)
		}
		s.logger.Info("request", attrs...)
	}
}

// serveAPI is the API itself: authentication, rate limit, then the route.
func (s *Server) serveAPI(w http.ResponseWriter, c *call) {
	key := c.r.Header.Get("api_key")
	if key == "" {
		writeError(w, errorf(CodeInvalidAPIKey, "missing api_key header"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.apiKey)) != 1 {
		writeError(w, errorf(CodeInvalidAPIKey, "the provided api_key is invalid or expired"))
		return
	}
	if !s.admit(w) {
		return
	}
	s.route(w, c)
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err == nil && len(b) > maxBody {
		return b[:maxBody], errBodyTooLarge
	}
	return b, err
}

var errBodyTooLarge = fmt.Errorf("request body larger than %d bytes", maxBody)

// splitPath returns the unescaped segments of an escaped path below
// basePath. Splitting before unescaping keeps an escaped slash inside its
// segment: ".../grids/..%2Fuser%2Fme" names the grid "../user/me".
func splitPath(escaped string) ([]string, bool) {
	rest, ok := strings.CutPrefix(escaped, basePath)
	if !ok {
		return nil, false
	}
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

// statusWriter remembers the status written, for the log.
type statusWriter struct {
	http.ResponseWriter
	now    func() time.Time
	status int
}

// WriteHeader notes the status and dates the answer by the fake's clock
// as it is sent, as a server dates its answers by its own: a fake given a
// clock ahead of the client's stands in for a server whose clock is.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.Header().Set("Date", w.now().UTC().Format(http.TimeFormat))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection to hijack it.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// connTracker follows the server's connections so that Close can end the
// idle ones at once and wait for the others to finish their request.
type connTracker struct {
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]http.ConnState
	wg     sync.WaitGroup
}

func (t *connTracker) track(c net.Conn, st http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch st {
	case http.StateNew, http.StateActive, http.StateIdle:
		if t.conns == nil {
			t.conns = make(map[net.Conn]http.ConnState)
		}
		if _, ok := t.conns[c]; !ok {
			t.wg.Add(1)
		}
		t.conns[c] = st
		if t.closed && st != http.StateActive {
			c.Close()
		}
	case http.StateHijacked, http.StateClosed:
		if _, ok := t.conns[c]; ok {
			delete(t.conns, c)
			t.wg.Done()
		}
	}
}

// closeIdle closes the connections not serving a request, and any that
// become idle from now on.
func (t *connTracker) closeIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for c, st := range t.conns {
		if st != http.StateActive {
			c.Close()
		}
	}
}
