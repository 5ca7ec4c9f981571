package bitscale

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// minRunIdle is the least time a run is trusted to a connection that has
// been idle, however soon the server was seen to close idle connections.
const minRunIdle = 5 * time.Millisecond

// watchConns makes dial return connections that tell t how soon the
// server closes idle ones.
func watchConns(dial func(ctx context.Context, network, addr string) (net.Conn, error), t *transport) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w := &watchedConn{Conn: c, seen: t.sawIdleClose}
		w.last.Store(time.Now().UnixNano())
		return w, nil
	}
}

// watchedConn notes when the server ends a connection that carried no
// request since its last read: with HTTP/1.1 a server speaks unasked only
// to close, by closing (EOF, reset) or, over TLS, with a close_notify
// alert. How long the connection had been idle then is at least the
// server's idle timeout. A misreading only makes the timeout seem shorter,
// which costs a dial, never a run's outcome.
type watchedConn struct {
	net.Conn
	seen    func(idle time.Duration)
	last    atomic.Int64 // Unix nanoseconds of the last read or write
	pending atomic.Bool  // written since the last read: an answer is due
}

// tlsAlert is the first byte of a TLS alert record.
const tlsAlert = 0x15

// isAlert reports whether p starts with the header of a TLS 1.0-1.2 alert
// record (type, version 3.x, a length of 2), such as close_notify. TLS 1.3
// hides alerts as application data, so a close is then seen only as the
// connection's end. The whole header is checked, so that a byte of a body
// read in pieces is not taken for one.
func isAlert(p []byte) bool {
	return len(p) >= 5 && p[0] == tlsAlert && p[1] == 3 && p[3] == 0 && p[4] == 2
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.pending.Store(true)
	c.last.Store(time.Now().UnixNano())
	return c.Conn.Write(p)
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	now := time.Now().UnixNano()
	closing := err != nil || isAlert(p[:n])
	if !c.pending.Swap(false) && closing {
		c.seen(time.Duration(now - c.last.Load()))
	}
	c.last.Store(now)
	return n, err
}

// sawIdleClose records that the server closed a connection idle for d.
func (t *transport) sawIdleClose(d time.Duration) {
	for {
		old := t.serverIdle.Load()
		if old != 0 && time.Duration(old) <= d || t.serverIdle.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// runIdle is how long the connections may all have been idle and still
// carry a run: runIdleTimeout, or half the shortest idle time after which
// the server was seen to close a connection, if that is shorter.
func (t *transport) runIdle() time.Duration {
	d := runIdleTimeout
	if seen := time.Duration(t.serverIdle.Load()); seen > 0 {
		d = max(min(d, seen/2), minRunIdle)
	}
	return d
}

// idleTimeout is how long the default transport keeps a connection idle:
// less than load balancers commonly do (60s, nginx 75s), so that the client
// closes it first rather than reuse one the server is closing.
const idleTimeout = 30 * time.Second

// runIdleTimeout is how long the connections may all have been idle and
// still carry a run. A run written on a connection the server was just
// closing cannot be told from one the server took and then failed, so its
// outcome would be unknown. A connection used this recently is open unless
// the server closes idle connections sooner than common ones do (1s at the
// least, and 2s to 75s usually), so a busy batch keeps its connections, and
// a run after a quiet spell dials afresh.
const runIdleTimeout = 500 * time.Millisecond

// pooled records that an answer was read whole, so its connection went
// back to the pool, newest of all: net/http reuses the newest first.
func (t *transport) pooled(resp *http.Response) {
	if !resp.Close {
		t.idle.Store(time.Now().UnixNano())
	}
}

// dropStale closes the idle connections when even the newest of them has
// been idle longer than runIdle allows, so that the run about to be sent
// dials a connection of its own rather than take one the server may be
// closing. Connections in use are not touched.
func (t *transport) dropStale() {
	if time.Since(time.Unix(0, t.idle.Load())) <= t.runIdle() {
		return
	}
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
