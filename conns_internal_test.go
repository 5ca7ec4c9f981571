package bitscale

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeConn returns a watched connection whose peer is server, and a
// function that returns what the connection has reported so far.
func pipeConn(t *testing.T) (w *watchedConn, server net.Conn, seen func() []time.Duration) {
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	var got []time.Duration
	w = &watchedConn{Conn: client, seen: func(d time.Duration) { got = append(got, d) }}
	w.last.Store(time.Now().UnixNano())
	return w, server, func() []time.Duration { return got }
}

func TestWatchedConnSeesTheServerCloseAnIdleConnection(t *testing.T) {
	t.Parallel()
	start := time.Now()
	w, server, seen := pipeConn(t)
	go func() {
		buf := make([]byte, 16)
		server.Read(buf)             // the request
		server.Write([]byte("HTTP")) // its answer, in two reads
		server.Write([]byte("/1.1"))
		time.Sleep(30 * time.Millisecond)
		server.Close() // idle too long
	}()
	w.Write([]byte("GET / HTTP/1.1\r\n"))
	buf := make([]byte, 4)
	for range 2 {
		_, err := w.Read(buf)
		require.NoError(t, err)
	}
	assert.Empty(t, seen(), "an answer to a request is not the server closing")
	_, err := w.Read(buf)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, seen(), 1)
	assert.GreaterOrEqual(t, seen()[0], 30*time.Millisecond, "at least as long as the connection sat idle")
	assert.LessOrEqual(t, seen()[0], time.Since(start), "no longer than the connection has existed")
}

// The header of an alert record is five bytes; a read may return it alone.
func TestIsAlertNeedsTheWholeHeaderAndNoMore(t *testing.T) {
	t.Parallel()
	assert.True(t, isAlert([]byte{tlsAlert, 3, 3, 0, 2}), "the header alone")
	assert.True(t, isAlert([]byte{tlsAlert, 3, 1, 0, 2, 1, 0}), "TLS 1.0, with its alert")
	assert.False(t, isAlert([]byte{tlsAlert, 3, 3, 0}), "four bytes are not a header")
	assert.False(t, isAlert(nil))
}

func TestWatchedConnTakesATLSAlertWhenIdleAsAClose(t *testing.T) {
	t.Parallel()
	w, server, seen := pipeConn(t)
	go server.Write([]byte{tlsAlert, 3, 3, 0, 2, 1, 0}) // close_notify, unasked
	buf := make([]byte, 16)
	_, err := w.Read(buf)
	require.NoError(t, err)
	assert.Len(t, seen(), 1)

	go server.Write([]byte{0x17, 3, 3, 0, 2}) // application data is not a close
	_, err = w.Read(buf)
	require.NoError(t, err)
	go server.Write([]byte{tlsAlert, 'x', 'y'}) // nor a body byte that happens to be 0x15
	_, err = w.Read(buf)
	require.NoError(t, err)
	assert.Len(t, seen(), 1)
}

// closeCounter is a transport that counts calls of CloseIdleConnections.
type closeCounter struct {
	http.RoundTripper
	closed int
}

func (c *closeCounter) CloseIdleConnections() { c.closed++ }

func TestRunsTrustIdleConnectionsHalfAsLongAsTheServerKeepsThem(t *testing.T) {
	t.Parallel()
	next := &closeCounter{}
	tr := &transport{next: next}
	assert.Equal(t, runIdleTimeout, tr.runIdle(), "before the server is seen to close one")

	tr.sawIdleClose(200 * time.Millisecond)
	tr.sawIdleClose(80 * time.Millisecond)
	tr.sawIdleClose(300 * time.Millisecond)
	assert.Equal(t, 40*time.Millisecond, tr.runIdle(), "half the shortest seen")

	tr.idle.Store(time.Now().Add(-20 * time.Millisecond).UnixNano())
	tr.dropStale()
	assert.Zero(t, next.closed, "a connection idle 20ms is kept")
	tr.idle.Store(time.Now().Add(-60 * time.Millisecond).UnixNano())
	tr.dropStale()
	assert.Equal(t, 1, next.closed, "a connection idle 60ms is closed before a run")

	tr.sawIdleClose(time.Millisecond)
	assert.Equal(t, minRunIdle, tr.runIdle())
	tr.sawIdleClose(time.Hour)
	assert.Equal(t, minRunIdle, tr.runIdle(), "a later, longer close does not raise it")
}

func TestTheClientsTransportWatchesItsConnections(t *testing.T) {
	t.Parallel()
	c, err := NewClient("bsk_test")
	require.NoError(t, err)
	tr := c.core.conns.next.(*http.Transport)
	conn, err := tr.DialContext(t.Context(), "tcp", listen(t))
	require.NoError(t, err)
	defer conn.Close()
	assert.IsType(t, &watchedConn{}, conn)
}

// listen returns the address of a listener open until t ends. The
// system completes connections to it without Accept.
func listen(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}
