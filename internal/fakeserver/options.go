package fakeserver

import (
	"log/slog"
	"time"
)

// An Option configures a Server when it starts.
type Option func(*Server)

// WithAddr makes the server listen on addr, such as "127.0.0.1:8080",
// instead of a random loopback port.
func WithAddr(addr string) Option {
	return func(s *Server) { s.addr = addr }
}

// WithAPIKey sets the api_key the server accepts (default DefaultAPIKey).
func WithAPIKey(key string) Option {
	return func(s *Server) { s.apiKey = key }
}

// WithWebhookSecret sets the secret webhook deliveries are signed with
// (default DefaultWebhookSecret).
func WithWebhookSecret(secret string) Option {
	return func(s *Server) { s.webhookSecret = secret }
}

// WithoutSeed starts the server with no workspaces and no grids; the user
// is still there.
func WithoutSeed() Option {
	return func(s *Server) { s.seeded = false }
}

// WithEnricher sets the function that computes a run's outputs
// (default DefaultEnricher).
func WithEnricher(e Enricher) Option {
	return func(s *Server) { s.enricher = e }
}

// WithRunCost sets the credits a completed run costs (default 12); a
// negative cost counts as zero.
func WithRunCost(credits int) Option {
	return func(s *Server) { s.runCost = max(credits, 0) }
}

// WithRunDurations sets how long an async run stays queued, then running
// (defaults DefaultQueuedFor and DefaultRunningFor).
func WithRunDurations(queued, running time.Duration) Option {
	return func(s *Server) { s.durations = runDurations{queued: queued, running: running} }
}

// WithPolledStages makes each stage of an async run, queued then running,
// last until a poll of the run has been answered with it, and its
// duration besides: a program that polls sees every stage, however slow
// the machine, so a test of what it shows on each is certain. An async run
// that nobody polls never ends, and so never sends its webhook: a test that
// waits for the webhook alone must not use it.
func WithPolledStages() Option {
	return func(s *Server) { s.polledStages = true }
}

// WithSyncLatency makes every sync run take d before it answers.
func WithSyncLatency(d time.Duration) Option {
	return func(s *Server) { s.syncLatency = d }
}

// WithRateLimit allows limit requests per window to the organization (the
// API key). The window is rounded up to whole seconds; windows start at
// whole multiples of it since the Unix epoch, so X-RateLimit-Reset is
// exact. A limit below 1 is taken as 1. Defaults: 1000 per minute.
func WithRateLimit(limit int, window time.Duration) Option {
	return func(s *Server) { s.limiter = newRateLimiter(limit, window) }
}

// WithWebhookTimeout sets how long a webhook receiver has to answer one
// delivery attempt (default 10 s, as the reference says).
func WithWebhookTimeout(d time.Duration) Option {
	return func(s *Server) { s.webhookTimeout = d }
}

// WithWebhookBackoff sets the wait before the first retry of a webhook
// delivery; each further retry waits twice as long (default 50 ms).
func WithWebhookBackoff(base time.Duration) Option {
	return func(s *Server) { s.webhookBackoff = base }
}

// WithRunErrorString makes failed runs carry their error as a plain JSON
// string, "error": "message", instead of the default object
// {"code": ..., "message": ...}. The reference does not fix the shape, so
// clients should handle both.
func WithRunErrorString() Option {
	return func(s *Server) { s.runErrorString = true }
}

// WithLogger logs one line per request (method, path, status, duration)
// and per webhook delivery attempt. The fake is silent without it.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) { s.logger = l }
}

// WithClock sets what the fake takes as the current time: for timestamps,
// rate-limit windows and the Date header. The fake still waits in real
// time.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.clock = now }
}

// WithLocalWebhooks lets async runs give a webhook_url that is plain
// http:// or points at localhost or a private address, such as a test's
// httptest server, and delivers there. Without it the fake refuses such a
// URL with 422 WEBHOOK_DELIVERY_FAILED before running anything, as BitScale,
// which delivers only to public https:// URLs, refuses it.
func WithLocalWebhooks() Option {
	return func(s *Server) { s.localWebhooks = true }
}
