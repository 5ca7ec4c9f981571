package bitscaletest_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClientUsesTheFake(t *testing.T) {
	srv := bitscaletest.NewServer(bitscaletest.WithAPIKey("bsk_test_mine"))
	defer srv.Close()
	c := srv.Client(bitscale.WithUserAgent("mytests/1"))
	defer c.CloseIdleConnections()

	if got := c.WorkspaceID(); got != bitscaletest.SeedWorkspaceID {
		t.Errorf("workspace %q, want the seeded one", got)
	}
	if _, _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if got := reqs[0].Header.Get("Api_key"); got != "[redacted]" {
		t.Errorf("recorded api_key %q, want it redacted", got)
	}
	if got := reqs[0].Header.Get("User-Agent"); got != "mytests/1 bitscale-go/"+bitscale.Version {
		t.Errorf("User-Agent %q", got)
	}
}

func TestClientRetriesTransientFaults(t *testing.T) {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	c := srv.Client()
	defer c.CloseIdleConnections()
	srv.InjectFault(bitscaletest.Fault{Path: "/api/v1/user/me", Status: 503, Times: 2})
	if _, _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestClientPanicsOnABadOption(t *testing.T) {
	srv := bitscaletest.NewServer()
	defer srv.Close()
	defer func() {
		if recover() == nil {
			t.Error("no panic for an invalid option")
		}
	}()
	srv.Client(bitscale.WithMaxRetries(-1))
}

// Start serves on the address given, and says why when it cannot.
func TestStartListensWhereTold(t *testing.T) {
	var logged bytes.Buffer
	srv, err := bitscaletest.Start(bitscaletest.WithAddr("127.0.0.1:0"),
		bitscaletest.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.CloseIdleConnections()
	if _, _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "/api/v1/user/me") {
		t.Errorf("the request is not logged:\n%s", logged.String())
	}
	if strings.Contains(logged.String(), bitscaletest.DefaultAPIKey) {
		t.Errorf("the log holds the API key:\n%s", logged.String())
	}

	host := strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "http://"), "/api/v1/")
	if _, err := bitscaletest.Start(bitscaletest.WithAddr(host)); err == nil {
		t.Errorf("Start on %s, already in use, returned no error", host)
	}
}
