package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/spf13/cobra"
)

// fakeFlags are the flags of bitscale fake.
type fakeFlags struct {
	addr, apiKey, secret string
	limit                int
	window               time.Duration
	queued, running      time.Duration
	latency              time.Duration
	cost                 int
	localWebhooks        bool
}

func (a *app) fakeCommand() *cobra.Command {
	var f fakeFlags
	cmd := &cobra.Command{
		Use:   "fake",
		Short: "Serve a fake BitScale API on a port, for curl and other languages",
		Long: `Serve a fake of the BitScale API, seeded with the API reference's examples,
until interrupted. It prints the base URL, API key, workspace and webhook
secret to use, and logs each request on stderr.

It delivers webhooks to local and plain http:// URLs, such as a receiver on
the same machine. BitScale delivers only to public https:// URLs;
--local-webhooks=false refuses the others as BitScale does, with 422
WEBHOOK_DELIVERY_FAILED.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := slog.New(slog.NewTextHandler(a.stderr, nil))
			opts := []bitscaletest.Option{
				bitscaletest.WithAddr(f.addr),
				bitscaletest.WithAPIKey(f.apiKey),
				bitscaletest.WithWebhookSecret(f.secret),
				bitscaletest.WithRateLimit(f.limit, f.window),
				bitscaletest.WithRunDurations(f.queued, f.running),
				bitscaletest.WithSyncLatency(f.latency),
				bitscaletest.WithRunCost(f.cost),
				bitscaletest.WithLogger(logger),
			}
			if f.localWebhooks {
				opts = append(opts, bitscaletest.WithLocalWebhooks())
			}
			s, err := bitscaletest.Start(opts...)
			if err != nil {
				return err
			}
			printBanner(a.stdout, s, f.localWebhooks)
			<-cmd.Context().Done()
			logger.Info("shutting down")
			s.Close()
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "the `address` to listen on")
	fl.StringVar(&f.apiKey, "api-key", bitscaletest.DefaultAPIKey, "the api_key to accept")
	fl.StringVar(&f.secret, "webhook-secret", bitscaletest.DefaultWebhookSecret, "the `secret` webhook deliveries are signed with")
	fl.IntVar(&f.limit, "rate-limit", bitscaletest.DefaultRateLimit, "requests allowed per rate-limit window")
	fl.DurationVar(&f.window, "rate-window", bitscaletest.DefaultRateWindow, "the rate-limit window, in whole seconds")
	fl.DurationVar(&f.queued, "queued", time.Second, "how long an async run stays queued")
	fl.DurationVar(&f.running, "running", 4*time.Second, "how long an async run stays running")
	fl.DurationVar(&f.latency, "sync-latency", 0, "how long a sync run takes")
	fl.IntVar(&f.cost, "run-cost", bitscaletest.DefaultRunCost, "the credits a completed run costs")
	fl.BoolVar(&f.localWebhooks, "local-webhooks", true, "deliver webhooks to local and http:// URLs too; false refuses them as BitScale does")
	return cmd
}

func printBanner(w io.Writer, s *bitscaletest.Server, localWebhooks bool) {
	webhooks := "public https:// URLs only, as BitScale (--local-webhooks=false)"
	if localWebhooks {
		webhooks = "local and http:// URLs too, unlike BitScale (--local-webhooks)"
	}
	fmt.Fprintf(w, `BitScale fake API
  base URL:        %[1]s
  api_key:         %[2]s
  workspace-id:    %[3]s
  webhook secret:  %[4]s
  webhooks to:     %[8]s

For this command and the Go SDK:
  export BITSCALE_BASE_URL=%[1]s BITSCALE_API_KEY=%[2]s BITSCALE_WORKSPACE_ID=%[3]s

Try a run:
  bitscale run %[5]s --input "Full Name=Jane Doe" --input "Company=Acme Corp"
  curl -s -X POST '%[1]sgrids/%[5]s/run' \
    -H 'api_key: %[2]s' \
    -H 'workspace-id: %[3]s' \
    -H 'Content-Type: application/json' \
    -d '{"mode":"sync","inputs":{"%[6]s":"Jane Doe","%[7]s":"Acme Corp"}}'

`, s.URL(), s.APIKey(), bitscaletest.SeedWorkspaceID, s.WebhookSecret(),
		bitscaletest.SeedGridID, bitscaletest.ColumnFullName, bitscaletest.ColumnCompany, webhooks)
}
