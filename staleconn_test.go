package bitscale_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quietSpell is longer than the half second after which the client no
// longer trusts its idle connections with a run (see WithHTTPClient).
const quietSpell = 700 * time.Millisecond

// connServer is a test server that counts the connections it accepts.
// When forget is set it answers one request per connection and drops the
// connection unanswered at the next one, as a load balancer does with a
// connection it has already closed on its side: a request sent on it was
// written, and the server never saw it.
type connServer struct {
	*httptest.Server
	conns, runs atomic.Int32
}

type connKey struct{}

func newConnServer(t testing.TB, forget bool) *connServer {
	s := new(connServer)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if forget && r.Context().Value(connKey{}).(*atomic.Int32).Add(1) > 1 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if r.Method == http.MethodPost {
			s.runs.Add(1)
			serveJSON(200, []byte(`{"run_id":"r1","status":"completed","outputs":{"c1":"ok"}}`))(w, r)
			return
		}
		serveJSON(200, []byte(`{"id":"usr_abc123"}`))(w, r)
	}))
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		s.conns.Add(1)
		return context.WithValue(ctx, connKey{}, new(atomic.Int32))
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// hideIdleCloser carries requests through a transport whose
// CloseIdleConnections it does not offer, as a custom RoundTripper may not.
type hideIdleCloser struct{ tr *http.Transport }

func (h hideIdleCloser) RoundTrip(r *http.Request) (*http.Response, error) { return h.tr.RoundTrip(r) }

// oldTransport is the transport clients had before runs avoided stale
// connections: connections idle up to 90 seconds were trusted with runs.
func oldTransport(t testing.TB) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 100
	t.Cleanup(tr.CloseIdleConnections)
	return hideIdleCloser{tr}
}

func connClient(t testing.TB, srv *connServer, opts ...bitscale.Option) *bitscale.Client {
	base := []bitscale.Option{bitscale.WithBaseURL(srv.URL), bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithRetryWait(time.Millisecond, time.Millisecond)}
	c, err := bitscale.NewClient(testKey, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func runRow(c *bitscale.Client) error {
	_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	return err
}

// A run after a quiet spell is sent on a new connection, so a connection
// the server has dropped meanwhile does not make its outcome unknown. The
// same two runs through a transport that cannot close its idle connections
// reuse the dropped one, which shows the scenario is a real one.
func TestRunAfterAQuietSpellIsSentOnANewConnection(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		srv := newConnServer(t, true)
		c := connClient(t, srv)
		require.NoError(t, runRow(c))
		time.Sleep(quietSpell)
		err := runRow(c)
		require.NoError(t, err)
		assert.EqualValues(t, 2, srv.conns.Load(), "connections accepted")
		assert.EqualValues(t, 2, srv.runs.Load(), "runs carried out")
	})
	t.Run("without CloseIdleConnections", func(t *testing.T) {
		t.Parallel()
		srv := newConnServer(t, true)
		c := connClient(t, srv, bitscale.WithHTTPClient(&http.Client{Transport: oldTransport(t)}))
		require.NoError(t, runRow(c))
		time.Sleep(quietSpell)
		err := runRow(c)
		t.Logf("err=%v", err)
		assert.ErrorIs(t, err, bitscale.ErrOutcomeUnknown)
		assert.EqualValues(t, 1, srv.conns.Load(), "connections accepted")
		assert.EqualValues(t, 1, srv.runs.Load(), "runs carried out")
	})
}

// Only runs drop idle connections: a GET after a quiet spell reuses its
// connection, since net/http sends a GET again by itself when the server
// had closed it.
func TestGetAfterAQuietSpellReusesItsConnection(t *testing.T) {
	t.Parallel()
	srv := newConnServer(t, false)
	c := connClient(t, srv)
	_, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	time.Sleep(quietSpell)
	_, _, err = c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, srv.conns.Load(), "connections accepted")
}

// Runs one after another, and GETs between them, keep reusing a
// connection: only a quiet spell makes a run dial. (Each call would have to
// stall for half a second for every one of them to dial.)
func TestBusyRunsReuseTheirConnection(t *testing.T) {
	t.Parallel()
	srv := newConnServer(t, false)
	c := connClient(t, srv)
	const calls = 20
	for i := range calls {
		if i%4 == 0 {
			_, _, err := c.Users.Me(context.Background())
			require.NoError(t, err)
			continue
		}
		require.NoError(t, runRow(c))
	}
	t.Logf("%d calls, %d connections", calls, srv.conns.Load())
	assert.Less(t, srv.conns.Load(), int32(calls/2), "connections accepted")
}

// BenchmarkStaleConnectionRuns measures how many runs end with an unknown
// outcome when they are sent after idle gaps around the server's idle
// timeout (between half and one and a half times it), through the client's
// transport (client=sdk) and through the transport clients had before
// (client=old): 4 clients, each sending its share of b.N runs in turn. The
// SDK's client learns the server's idle timeout from the first connection
// the server closes, so its first runs can still meet a closing one.
//
//	go test -run '^$' -bench StaleConnectionRuns -benchtime 400x .
func BenchmarkStaleConnectionRuns(b *testing.B) {
	for _, idle := range []time.Duration{50 * time.Millisecond, 200 * time.Millisecond} {
		for _, name := range []string{"old", "sdk"} {
			b.Run(fmt.Sprintf("server-idle=%s/client=%s", idle, name), func(b *testing.B) {
				srv := newConnServer(b, false)
				srv.Config.IdleTimeout = idle
				var unknown, failed atomic.Int32
				var wg sync.WaitGroup
				const clients = 4
				for i := range clients {
					var opts []bitscale.Option
					if name == "old" {
						opts = append(opts, bitscale.WithHTTPClient(&http.Client{Transport: oldTransport(b)}))
					}
					c := connClient(b, srv, opts...)
					n := b.N / clients
					if i < b.N%clients {
						n++
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range n {
							time.Sleep(idle/2 + rand.N(idle))
							err := runRow(c)
							switch {
							case errors.Is(err, bitscale.ErrOutcomeUnknown):
								unknown.Add(1)
							case err != nil:
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(unknown.Load()), "unknown")
				b.ReportMetric(float64(failed.Load()), "failed")
				b.ReportMetric(float64(srv.conns.Load()), "conns")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
