package bitscale_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A declared Content-Length over the limit is refused before a byte of the
// body is read: the server here sends none, and a client that waited for
// them would wait until the server gave up.
func TestDeclaredLengthOverTheLimitIsRefusedUnread(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var gaveUp atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done(): // the client hung up without reading
		case <-release:
			gaveUp.Store(true)
		}
	})
	c, _ := newTestClient(t, h, bitscale.WithMaxResponseSize(1024))
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for h
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.Users.Me(ctx)
	t.Logf("err=%v", err)
	require.ErrorIs(t, err, bitscale.ErrResponseTooLarge)
	var de *bitscale.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "Content-Length 1000000, more than 1024 bytes")
	assert.False(t, gaveUp.Load())
}

// A body of exactly the limit is read, with or without a Content-Length;
// one byte more is refused.
func TestBodyOfExactlyTheLimitIsRead(t *testing.T) {
	t.Parallel()
	body := `{"id":"usr_abc123","name":"` + strings.Repeat("x", 100) + `"}`
	limit := int64(len(body))
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			serve := func(b string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if !chunked {
						w.Header().Set("Content-Length", fmt.Sprint(len(b)))
					}
					w.Write([]byte(b[:10]))
					w.(http.Flusher).Flush()
					w.Write([]byte(b[10:]))
				}
			}
			c, _ := newTestClient(t, serve(body), bitscale.WithMaxResponseSize(limit))
			user, _, err := c.Users.Me(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "usr_abc123", user.ID)

			c, _ = newTestClient(t, serve(body+" "), bitscale.WithMaxResponseSize(limit))
			_, _, err = c.Users.Me(context.Background())
			require.ErrorIs(t, err, bitscale.ErrResponseTooLarge)
		})
	}
}

// An error body cut off before its declared end still gives an *APIError
// with what arrived.
func TestCutOffErrorBodyGivesTheAPIErrorOfWhatArrived(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "500")
		w.WriteHeader(404)
		w.Write([]byte("<html>no such page"))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Users.Me(context.Background())
	t.Logf("err=%v", err)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, "<html>no such page", apiErr.Message)
}

// WithMaxResponseSize(math.MaxInt64), "no limit", must not overflow into
// reading nothing.
func TestMaxResponseSizeAtMaxInt64(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"mode":"sync","status":"completed","outputs":{"x":1}}`))
		w.(http.Flusher).Flush() // chunked: no Content-Length
	})
	c, _ := newTestClient(t, h, bitscale.WithMaxResponseSize(math.MaxInt64))
	_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v unknown=%v", err, errors.Is(err, bitscale.ErrOutcomeUnknown))
	if err != nil {
		t.Errorf("a completed run is reported as an error with an unlimited response size")
	}
}

// A 299 answer is a 2xx like 200: decoded, and bounded by the response
// size limit rather than read as an error body.
func TestStatus299IsASuccessBoundedByTheResponseLimit(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"usr_abc123","name":"Jane Doe"}`)
	c, _ := newTestClient(t, serveJSON(299, body))
	user, resp, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "usr_abc123", user.ID)
	assert.Equal(t, 299, resp.StatusCode)

	c, _ = newTestClient(t, serveJSON(299, body), bitscale.WithMaxResponseSize(int64(len(body)-1)))
	_, _, err = c.Users.Me(context.Background())
	require.ErrorIs(t, err, bitscale.ErrResponseTooLarge)
	var de *bitscale.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 299, de.StatusCode)
}
