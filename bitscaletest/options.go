package bitscaletest

import (
	"log/slog"
	"time"

	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// Defaults of the options of the same names; the fake's key and secret
// are test values, never real ones.
const (
	DefaultAPIKey        = fakeserver.DefaultAPIKey
	DefaultWebhookSecret = fakeserver.DefaultWebhookSecret
	DefaultRunCost       = fakeserver.DefaultRunCost
	DefaultRateLimit     = fakeserver.DefaultRateLimit  // requests per DefaultRateWindow
	DefaultRateWindow    = fakeserver.DefaultRateWindow //
)

// An Option configures a Server when NewServer starts it.
type Option func(*config)

// config collects the options given to NewServer.
type config struct {
	opts []fakeserver.Option
}

func option(o fakeserver.Option) Option {
	return func(c *config) { c.opts = append(c.opts, o) }
}

// WithAPIKey sets the API key the fake accepts, which APIKey and Client
// then use, instead of a fixed test key.
func WithAPIKey(key string) Option { return option(fakeserver.WithAPIKey(key)) }

// WithWebhookSecret sets the secret webhook deliveries are signed with,
// which WebhookSecret then returns, instead of a fixed test secret.
func WithWebhookSecret(secret string) Option {
	return option(fakeserver.WithWebhookSecret(secret))
}

// WithoutSeed starts the fake with its user but no workspaces or grids;
// add them with AddWorkspace and AddGrid. Client still names the seeded
// workspace, so give it bitscale.WithWorkspaceID.
func WithoutSeed() Option { return option(fakeserver.WithoutSeed()) }

// WithEnricher replaces how outputs are computed from inputs (default
// DefaultEnricher); an error makes the run fail. SetEnricher does the
// same on a running fake.
func WithEnricher(e Enricher) Option { return option(fakeserver.WithEnricher(e.toFake())) }

// WithRunCost sets the credits each completed run costs (default 12); a
// negative cost counts as zero.
func WithRunCost(credits int) Option { return option(fakeserver.WithRunCost(credits)) }

// WithRunDurations sets how long async runs stay queued, then running
// (default 20ms, then 100ms).
func WithRunDurations(queued, running time.Duration) Option {
	return option(fakeserver.WithRunDurations(queued, running))
}

// WithPolledStages makes each stage of an async run, queued then running,
// last until a poll of the run has been answered with it, and its
// duration besides: a program that polls sees every stage, however slow
// the machine, so a test of what it shows on each is certain. An async run
// that nobody polls never ends, and so never sends its webhook: a test that
// waits for the webhook alone must not use it.
func WithPolledStages() Option { return option(fakeserver.WithPolledStages()) }

// WithSyncLatency makes every sync run take d before it answers.
func WithSyncLatency(d time.Duration) Option { return option(fakeserver.WithSyncLatency(d)) }

// WithRunErrorString writes a failed run's error as a plain string instead
// of an object, the other shape the API reference allows.
func WithRunErrorString() Option { return option(fakeserver.WithRunErrorString()) }

// WithRateLimit allows limit requests per window to the organization (the
// API key), default 1000 per minute. The window is rounded up to whole
// seconds, and a limit below 1 is taken as 1. A request over the limit is
// answered 429 with the rate-limit headers.
func WithRateLimit(limit int, window time.Duration) Option {
	return option(fakeserver.WithRateLimit(limit, window))
}

// WithWebhookTimeout sets how long a webhook receiver has to answer one
// delivery attempt (default 10s, as the reference says).
func WithWebhookTimeout(d time.Duration) Option { return option(fakeserver.WithWebhookTimeout(d)) }

// WithWebhookBackoff sets the first wait before a webhook is delivered
// again (default 50ms); it doubles with each of the three retries.
func WithWebhookBackoff(base time.Duration) Option {
	return option(fakeserver.WithWebhookBackoff(base))
}

// WithLocalWebhooks lets runs give a webhook URL that is plain http:// or
// on localhost or a private address, such as an httptest server's, and
// delivers there. Without it the fake refuses such a URL, as BitScale
// does, with 422 WEBHOOK_DELIVERY_FAILED (bitscale.ErrWebhookDeliveryFailed).
// The SDK's own check lets such URLs through to a fake on loopback.
func WithLocalWebhooks() Option { return option(fakeserver.WithLocalWebhooks()) }

// WithAddr makes the fake listen on addr, such as "127.0.0.1:8080", instead
// of a random loopback port.
func WithAddr(addr string) Option { return option(fakeserver.WithAddr(addr)) }

// WithLogger logs a line for each request (method, path, status and
// duration) and each webhook delivery attempt. The fake is silent without
// it; the API key is never logged.
func WithLogger(l *slog.Logger) Option { return option(fakeserver.WithLogger(l)) }
