package bitscale_test

import (
	"context"
	"errors"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// WithMaxResponseSize(math.MaxInt64), "no limit", must not overflow into
// reading nothing.
func TestMaxResponseSizeAtMaxInt64(t *testing.T) {
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

// A HEAD answer has the GET's Content-Length and no body.
func TestDoHead(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "42")
		w.WriteHeader(200)
	})
	c, _ := newTestClient(t, h)
	req, _ := c.NewRequest(context.Background(), http.MethodHead, "user/me", nil)
	_, err := c.Do(req, nil)
	t.Logf("err=%v", err)
	if err != nil {
		t.Errorf("HEAD 200 fails")
	}
}

// A workspace ID with a control character is refused before any request,
// not retried for nothing or reported as a run that may have happened.
func TestControlCharactersInWorkspaceAreRefused(t *testing.T) {
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c, _ := newTestClient(t, h)
	cw := c.ForWorkspace("ws_a\x01b")
	start := time.Now()
	_, _, gerr := cw.Grids.Get(context.Background(), "grid_001")
	took := time.Since(start)
	_, _, rerr := cw.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	var argErr *bitscale.ArgumentError
	t.Logf("Get: %v (took %s)\nRun: %v unknown=%v; server hits=%d", gerr, took.Round(time.Millisecond), rerr, errors.Is(rerr, bitscale.ErrOutcomeUnknown), hits.Load())
	if errors.Is(rerr, bitscale.ErrOutcomeUnknown) || !errors.As(gerr, &argErr) {
		t.Errorf("bad workspace ID not refused before sending; run reported outcome-unknown")
	}
}

// An untrusted certificate is not transient: polling ends with it.
func TestPollUntilDoneStopsOnCertificateErrors(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL), bitscale.WithWorkspaceID(testWorkspace))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, _, gerr := c.Runs.Get(ctx, "grid_001", "run_1")
	_, err = c.Runs.PollUntilDone(ctx, "grid_001", "run_1", &bitscale.PollOptions{Interval: 50 * time.Millisecond, MaxInterval: 100 * time.Millisecond})
	t.Logf("Get: %v\nPollUntilDone: %v", gerr, err)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("permanent error waited through until the deadline")
	}
}

// After a reset, one slow sync run out as a probe must not hold every other
// request back.
func TestGateSlowProbeDoesNotHoldEveryone(t *testing.T) {
	var first atomic.Bool
	first.Store(true)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "100")
		if first.CompareAndSwap(true, false) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().Add(50*time.Millisecond).UnixMilli())/1000, 'f', 3, 64))
		} else {
			w.Header().Set("X-RateLimit-Remaining", "98")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
		}
		if r.Method == http.MethodPost {
			time.Sleep(2 * time.Second) // a sync run computing
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"usr_1","status":"completed","outputs":{}}`))
	})
	c, _ := newTestClient(t, h)
	c.Users.Me(context.Background())
	time.Sleep(80 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := c.Users.Me(ctx)
	t.Logf("GET while a slow run is the probe: %v", err)
	<-done
	if err != nil {
		t.Errorf("GET held behind a 2s sync run probe")
	}
}
