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
//
// It delivers webhooks to local and plain http:// URLs, such as a receiver
// on the same machine, which is what trying things by hand needs. BitScale
// delivers only to public https:// URLs; -local-webhooks=false makes the
// fake refuse the others as BitScale does, with 422 WEBHOOK_DELIVERY_FAILED.
package main

import (
	"context"
	"errors"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bitscale-fake:", err)
		os.Exit(1)
	}
}

// errUsage marks a command line the flags refused; they printed why.
var errUsage = errors.New("usage")

// run serves the fake until ctx ends.
func run(ctx context.Context, args []string, out, logOut io.Writer) error {
	fs := flag.NewFlagSet("bitscale-fake", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		addr    = fs.String("addr", "127.0.0.1:8080", "`address` to listen on")
		apiKey  = fs.String("api-key", fakeserver.DefaultAPIKey, "the api_key to accept")
		secret  = fs.String("webhook-secret", fakeserver.DefaultWebhookSecret, "the `secret` webhook deliveries are signed with")
		limit   = fs.Int("rate-limit", fakeserver.DefaultRateLimit, "requests allowed per rate-limit window")
		window  = fs.Duration("rate-window", fakeserver.DefaultRateWindow, "rate-limit window, in whole seconds")
		queued  = fs.Duration("queued", time.Second, "how long an async run stays queued")
		running = fs.Duration("running", 4*time.Second, "how long an async run stays running")
		latency = fs.Duration("sync-latency", 0, "how long a sync run takes")
		cost    = fs.Int("run-cost", fakeserver.DefaultRunCost, "credits a completed run costs")
		local   = fs.Bool("local-webhooks", true, "deliver webhooks to local and http:// URLs too; false refuses them as BitScale does")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	logger := slog.New(slog.NewTextHandler(logOut, nil))
	opts := []fakeserver.Option{
		fakeserver.WithAddr(*addr),
		fakeserver.WithAPIKey(*apiKey),
		fakeserver.WithWebhookSecret(*secret),
		fakeserver.WithRateLimit(*limit, *window),
		fakeserver.WithRunDurations(*queued, *running),
		fakeserver.WithSyncLatency(*latency),
		fakeserver.WithRunCost(*cost),
		fakeserver.WithLogger(logger),
	}
	if *local {
		opts = append(opts, fakeserver.WithLocalWebhooks())
	}
	s, err := fakeserver.Start(opts...)
	if err != nil {
		return err
	}
	printBanner(out, s, *local)

	<-ctx.Done()
	logger.Info("shutting down")
	s.Close()
	return nil
}

func printBanner(w io.Writer, s *fakeserver.Server, localWebhooks bool) {
	webhooks := "public https:// URLs only, as BitScale (-local-webhooks=false)"
	if localWebhooks {
		webhooks = "local and http:// URLs too, unlike BitScale (-local-webhooks)"
	}
	fmt.Fprintf(w, `BitScale fake API
  base URL:        %[1]s
  api_key:         %[2]s
  workspace-id:    %[3]s
  webhook secret:  %[4]s
  webhooks to:     %[8]s

For the Go SDK:
  export BITSCALE_BASE_URL=%[1]s BITSCALE_API_KEY=%[2]s BITSCALE_WORKSPACE_ID=%[3]s

Try a run:
  curl -s -X POST '%[1]sgrids/%[5]s/run' \
    -H 'api_key: %[2]s' \
    -H 'workspace-id: %[3]s' \
    -H 'Content-Type: application/json' \
    -d '{"mode":"sync","inputs":{"%[6]s":"Jane Doe","%[7]s":"Acme Corp"}}'

`, s.URL(), s.APIKey(), fakeserver.SeedWorkspaceID, s.WebhookSecret(),
		fakeserver.SeedGridID, fakeserver.ColumnFullName, fakeserver.ColumnCompany, webhooks)
}
