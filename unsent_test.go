package bitscale_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// A dial that never completes within the attempt timeout sent nothing: the
// run is retried, and its error is not ErrOutcomeUnknown.
func TestRunNeverConnectedWithinAttemptTimeoutIsRetried(t *testing.T) {
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return blackhole(t)(ctx, network, addr)
	}}
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("http://127.0.0.1:1/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace), bitscale.WithRetryWait(time.Millisecond, time.Millisecond),
		bitscale.WithMaxRetries(2),
		bitscale.WithHTTPClient(&http.Client{Transport: tr}), bitscale.WithAttemptTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v dials=%d outcomeUnknown=%v", err, dials.Load(), errors.Is(err, bitscale.ErrOutcomeUnknown))
	if errors.Is(err, bitscale.ErrOutcomeUnknown) {
		t.Errorf("a run whose connection was never made is reported as ErrOutcomeUnknown")
	}
}

// A context that ends while the connection is being dialled sent nothing
// either.
func TestRunCancelledWhileDiallingIsNotOutcomeUnknown(t *testing.T) {
	tr := &http.Transport{DialContext: blackhole(t)}
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("http://127.0.0.1:1/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace), bitscale.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v outcomeUnknown=%v", err, errors.Is(err, bitscale.ErrOutcomeUnknown))
	if errors.Is(err, bitscale.ErrOutcomeUnknown) {
		t.Errorf("a run never connected is reported as ErrOutcomeUnknown")
	}
}

// blackhole returns a dialer whose connections never complete, as with a
// host that drops packets. net/http goes on dialling after a request gives
// up, so the dial also ends with the test.
func blackhole(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-ctx.Done():
		case <-done:
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: context.Canceled}
	}
}
