// Command bitscale-fake serves a fake of the BitScale API, seeded with the
// API reference's examples, for trying a client by hand.
//
// Usage:
//
//	bitscale-fake [-addr 127.0.0.1:8080] [flags]
//
// It prints the base URL, the API key, the workspace to use, the webhook
// secret and a curl command to start with, logs every request on standard
// error, and runs until interrupted (SIGINT or SIGTERM).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

func main() {
	var (
		addr    = flag.String("addr", "127.0.0.1:8080", "`address` to listen on")
		apiKey  = flag.String("api-key", fakeserver.DefaultAPIKey, "the api_key to accept")
		secret  = flag.String("webhook-secret", fakeserver.DefaultWebhookSecret, "the `secret` webhook deliveries are signed with")
		limit   = flag.Int("rate-limit", fakeserver.DefaultRateLimit, "requests allowed per rate-limit window")
		window  = flag.Duration("rate-window", fakeserver.DefaultRateWindow, "rate-limit window, in whole seconds")
		queued  = flag.Duration("queued", time.Second, "how long an async run stays queued")
		running = flag.Duration("running", 4*time.Second, "how long an async run stays running")
		latency = flag.Duration("sync-latency", 0, "how long a sync run takes")
		cost    = flag.Int("run-cost", fakeserver.DefaultRunCost, "credits a completed run costs")
	)
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := fakeserver.Start(
		fakeserver.WithAddr(*addr),
		fakeserver.WithAPIKey(*apiKey),
		fakeserver.WithWebhookSecret(*secret),
		fakeserver.WithRateLimit(*limit, *window),
		fakeserver.WithRunDurations(*queued, *running),
		fakeserver.WithSyncLatency(*latency),
		fakeserver.WithRunCost(*cost),
		fakeserver.WithLogger(logger),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bitscale-fake:", err)
		os.Exit(1)
	}
	printBanner(os.Stdout, s)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	logger.Info("shutting down")
	s.Close()
}

func printBanner(w io.Writer, s *fakeserver.Server) {
	fmt.Fprintf(w, `BitScale fake API
  base URL:        %[1]s
  api_key:         %[2]s
  workspace-id:    %[3]s
  webhook secret:  %[4]s

For the Go SDK:
  export BITSCALE_BASE_URL=%[1]s BITSCALE_API_KEY=%[2]s BITSCALE_WORKSPACE_ID=%[3]s

Try a run:
  curl -s -X POST '%[1]sgrids/%[5]s/run' \
    -H 'api_key: %[2]s' \
    -H 'workspace-id: %[3]s' \
    -H 'Content-Type: application/json' \
    -d '{"mode":"sync","inputs":{"%[6]s":"Jane Doe","%[7]s":"Acme Corp"}}'

`, s.URL(), s.APIKey(), fakeserver.SeedWorkspaceID, s.WebhookSecret(),
		fakeserver.SeedGridID, fakeserver.ColumnFullName, fakeserver.ColumnCompany)
}
