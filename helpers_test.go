package bitscale_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/bitscale/bitscale-go/internal/testmain"
)

// TestMain runs 16 tests at once per core: most wait on sockets, servers
// and short timers, and none may depend on the machine keeping up.
func TestMain(m *testing.M) { testmain.Run(m, 16) }

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

// expiringContext is a context whose deadline passes when expire is called
// rather than at a time on the clock: Done closes and Err returns
// context.DeadlineExceeded, as they do when a deadline passes, at exactly
// the point a test has waited for, however slow the machine. Deadline
// reports a minute after the context was made.
type expiringContext struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	once     sync.Once
}

func newExpiringContext() *expiringContext {
	return &expiringContext{Context: context.Background(), deadline: time.Now().Add(time.Minute), done: make(chan struct{})}
}

func (c *expiringContext) expire() { c.once.Do(func() { close(c.done) }) }

func (c *expiringContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *expiringContext) Done() <-chan struct{} { return c.done }

func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// runHold keeps async runs of a fake in "running" until release is called,
// then enriches them as the fake does by default: a poller sees the
// running stage however slowly the machine lets it poll. Until hold is
// called runs are not held.
type runHold struct {
	held    atomic.Bool
	release func()
	done    chan struct{}
}

func newRunHold() *runHold {
	h := &runHold{done: make(chan struct{})}
	h.release = sync.OnceFunc(func() { close(h.done) })
	return h
}

func (h *runHold) hold() { h.held.Store(true) }

func (h *runHold) wait(ctx context.Context) error {
	if !h.held.Load() {
		return nil
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *runHold) fakeEnricher(ctx context.Context, req fakeserver.EnrichRequest) (map[string]any, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return fakeserver.DefaultEnricher(ctx, req)
}

func (h *runHold) enricher(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return bitscaletest.DefaultEnricher(ctx, req)
}
