package mcpserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestServeHTTP(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs strings.Builder
	go func() {
		done <- ServeHTTP(ctx, New(srv.Client(), nil), ln, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "test"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + ln.Addr().String() + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := call[gridOutput](t, cs, "get_grid", map[string]any{"grid_id": bitscaletest.SeedGridID})
	if got.ID != bitscaletest.SeedGridID || len(got.RequiredInputs) != 1 {
		t.Errorf("get_grid over HTTP = %+v", got)
	}
	cs.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeHTTP = %v, want nil once its context ended", err)
	}
}

// A web page must not reach the server, neither from its own origin nor
// through a host name rebound to this machine.
func TestGuardRefusesWebPages(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	for _, tc := range []struct {
		host, origin string
		loopback     bool
		want         int
	}{
		{"127.0.0.1:8080", "", true, http.StatusOK},
		{"localhost:8080", "http://localhost:3000", true, http.StatusOK},
		{"[::1]:8080", "", true, http.StatusOK},
		{"127.0.0.1:8080", "https://evil.example", true, http.StatusForbidden},
		{"evil.example:8080", "", true, http.StatusForbidden},
		{"mcp.internal:8080", "", false, http.StatusOK},
		{"mcp.internal:8080", "https://evil.example", false, http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		guard(ok, tc.loopback).ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("host %s, origin %q, loopback %v: status %d, want %d", tc.host, tc.origin, tc.loopback, rec.Code, tc.want)
		}
	}
}
