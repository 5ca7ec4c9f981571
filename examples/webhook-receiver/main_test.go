package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The program reads BITSCALE_* from the environment. They are cleared
	// once, here, so that every test starts as on a machine with no key,
	// on the embedded fake; the tests that need a key set it themselves
	// and are not run in parallel.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "BITSCALE_") {
			os.Unsetenv(name)
		}
	}
	// Nothing polls the embedded fake's run: the demo waits for its
	// webhook, which the fake delivers when the run ends.
	fakeQueued, fakeRunning = 0, 0
	goleak.VerifyTestMain(m)
}

func TestWebhookReceiverOnTheFake(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	assertLines(t, out.String(),
		"using the embedded fake BitScale server",
		"Receiving webhooks at http://127.0.0.1:",
		"Started run run_",
		"Verified delivery, signed ",
		"  ref     ",
		"  grid    grid_001",
		"  status  completed",
		"  credits 12 consumed, 65788 left",
		"    Enriched Email   jane.doe@acmecorp.com",
		"    LinkedIn URL     https://linkedin.com/in/janedoe",
		"(its ref is the one RunAsync returned: the delivery names the call that started it)",
		"status changed, genuine signature  -> 401 Unauthorized, refused: invalid signature",
		"signed with another secret         -> 401 Unauthorized, refused: invalid signature",
		"no signature                       -> 401 Unauthorized, refused: missing X-BitScale-Signature",
		"signature not SHA-256              -> 401 Unauthorized, refused: malformed X-BitScale-Signature",
		"Replayed the genuine delivery -> 204 No Content, acknowledged and not handled again",
	)
	// The run the webhook carried is the run that was started, with the
	// ref RunAsync gave it.
	started := field(out.String(), "Started run ")
	if delivered := field(out.String(), "  run     "); delivered != started {
		t.Errorf("delivered run %q, started %q", delivered, started)
	}
	ref := field(out.String(), "  webhook ref ")
	if len(ref) != 32 {
		t.Errorf("started with webhook ref %q, want 32 hex digits", ref)
	}
	if delivered := field(out.String(), "  ref     "); delivered != ref {
		t.Errorf("delivery's ref %q, started with %q", delivered, ref)
	}
}

func TestWebhookReceiverHelpExitsZero(t *testing.T) {
	t.Setenv("BITSCALE_API_KEY", "bsk_live_not_a_real_key")
	t.Setenv("BITSCALE_GRID_ID", "grid_from_env")
	var out, errOut bytes.Buffer
	if code := cli(context.Background(), []string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h exited %d, want 0; stderr: %s", code, errOut.String())
	}
	assertLines(t, out.String(),
		"-grid ID",
		"(default $BITSCALE_GRID_ID, or the embedded fake's grid_001 without BITSCALE_API_KEY)",
		"-run",
		"start the run (spends credits)",
		"-wait duration",
		`(default 5m0s)`,
	)
	if strings.Contains(out.String(), `(default "grid_001")`) {
		t.Errorf("-h shows a fixed default that may not apply:\n%s", out.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("-h wrote to stderr: %s", errOut.String())
	}

	out.Reset()
	if code := cli(context.Background(), []string{"-no-such-flag"}, &out, &errOut); code != 2 {
		t.Errorf("a bad flag exited %d, want 2", code)
	}
	assertLines(t, out.String(), "flag provided but not defined: -no-such-flag")
}

func TestWebhookReceiverWithAKeyRunsOnlyWithRun(t *testing.T) {
	// A fake standing in for the real API, configured as users configure
	// the client: without -run nothing is sent at all.
	srv := bitscaletest.NewServer()
	defer srv.Close()
	t.Setenv("BITSCALE_API_KEY", srv.APIKey())
	t.Setenv("BITSCALE_BASE_URL", srv.URL())
	t.Setenv("BITSCALE_WORKSPACE_ID", bitscaletest.SeedWorkspaceID)
	t.Setenv("BITSCALE_GRID_ID", bitscaletest.SeedGridID)
	t.Setenv("BITSCALE_WEBHOOK_SECRET", srv.WebhookSecret())
	var out bytes.Buffer
	args := []string{"-public-url", "https://hooks.example.com/webhooks/bitscale"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	assertLines(t, out.String(), "The run spends credits: pass -run to start it; BitScale then delivers its webhook to https://hooks.example.com/webhooks/bitscale.")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the API without -run", n)
	}
}

func TestWebhookReceiverTakesInputs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	args := []string{"-grid", "grid_001", "-input", "Full Name=Ada Lovelace", "-input", "Company=Analytical Engines"}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	assertLines(t, out.String(), "    Enriched Email   ada.lovelace@analyticalengines.com")
}

func TestWebhookReceiverExplainsRealAPINeedsPublicURL(t *testing.T) {
	t.Setenv("BITSCALE_API_KEY", "bsk_live_not_a_real_key")
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	assertLines(t, out.String(),
		"only to a public\nhttps:// URL, never to 127.0.0.1",
		"BITSCALE_WEBHOOK_SECRET",
		"-public-url https://YOUR-TUNNEL-HOST/webhooks/bitscale",
	)
}

func TestWebhookReceiverRefusesBadSetups(t *testing.T) {
	t.Setenv("BITSCALE_API_KEY", "bsk_live_not_a_real_key")
	for _, tc := range []struct {
		name, secret string
		args         []string
		want         string
	}{
		{"http URL", "whsec_x", []string{"-public-url", "http://example.com/hook"}, "only to an absolute https:// URL"},
		{"no secret", "", []string{"-public-url", "https://example.com/hook"}, "BITSCALE_WEBHOOK_SECRET is not set"},
		{"blank secret", " \n", []string{"-public-url", "https://example.com/hook"}, "BITSCALE_WEBHOOK_SECRET is not set"},
		{"no grid", "whsec_x", []string{"-public-url", "https://example.com/hook", "-run"}, "no grid to run: pass -grid or set BITSCALE_GRID_ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BITSCALE_WEBHOOK_SECRET", tc.secret)
			t.Setenv("BITSCALE_GRID_ID", "")
			var out bytes.Buffer
			err := run(context.Background(), tc.args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestWebhookReceiverGivesUpWhenNoDeliveryComes(t *testing.T) {
	// A fake standing in for the real API, delivering to a URL that leads
	// nowhere; only a fake allowed local webhooks takes it.
	srv := bitscaletest.NewServer(bitscaletest.WithLocalWebhooks(), bitscaletest.WithRunDurations(time.Millisecond, time.Millisecond))
	defer srv.Close()
	t.Setenv("BITSCALE_API_KEY", srv.APIKey())
	t.Setenv("BITSCALE_BASE_URL", srv.URL())
	t.Setenv("BITSCALE_WORKSPACE_ID", bitscaletest.SeedWorkspaceID)
	t.Setenv("BITSCALE_WEBHOOK_SECRET", srv.WebhookSecret())
	var out bytes.Buffer
	t.Setenv("BITSCALE_GRID_ID", bitscaletest.SeedGridID)
	args := []string{"-public-url", "https://127.0.0.1:1/webhooks/bitscale", "-wait", "50ms", "-run"}
	err := run(context.Background(), args, &out)
	if err == nil || !strings.Contains(err.Error(), "no webhook for run") {
		t.Fatalf("err = %v, want no webhook within the wait\n%s", err, out.String())
	}
	assertLines(t, out.String(),
		"Receiving webhooks at http://127.0.0.1:",
		"BitScale reaches it at https://127.0.0.1:1/webhooks/bitscale",
		"Started run run_",
	)
}

// assertLines checks that out holds each of want, in that order.
func assertLines(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("output lacks %q after what came before:\n%s", w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}

// field returns the word following prefix in out.
func field(out, prefix string) string {
	_, after, ok := strings.Cut(out, prefix)
	if !ok {
		return ""
	}
	f := strings.Fields(after)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
