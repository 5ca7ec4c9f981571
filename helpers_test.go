package bitscale_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is the API key the tests use; no output may ever contain it.
const testKey = "bsk_test_9f8e7d6c5b4a"

// testWorkspace is the workspace of the reference's examples.
const testWorkspace = "ws_abc123"

// newTestClient starts a server with h and returns a client for it with the
// test key, the test workspace, fast retries and opts.
func newTestClient(t *testing.T, h http.Handler, opts ...bitscale.Option) (*bitscale.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	base := []bitscale.Option{
		bitscale.WithBaseURL(srv.URL + "/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithRetryWait(time.Millisecond, 20*time.Millisecond),
	}
	c, err := bitscale.NewClient(testKey, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, srv
}

// fixture returns a file of testdata.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveJSON answers every request with status and body as JSON.
func serveJSON(status int, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

// fakeAndClient starts the fake BitScale server with opts and returns it
// with a client of its seeded workspace; both are closed when t ends.
func fakeAndClient(t *testing.T, opts ...fakeserver.Option) (*fakeserver.Server, *bitscale.Client) {
	t.Helper()
	srv := fakeserver.New(opts...)
	t.Cleanup(srv.Close)
	c, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()),
		bitscale.WithWorkspaceID(fakeserver.SeedWorkspaceID),
		bitscale.WithRetryWait(10*time.Millisecond, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}
