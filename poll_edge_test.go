package bitscale_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// A run POST redirected to a host that refuses connections: the failed
// dial of the redirect must not pass for the run's own.
func TestRunPostRedirectToADeadHostIsNotReplayed(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String() + "/result"
	l.Close()
	var posts atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.Redirect(w, r, dead, http.StatusFound)
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v outcomeUnknown=%v posts=%d", err, errors.Is(err, bitscale.ErrOutcomeUnknown), posts.Load())
	if posts.Load() != 1 {
		t.Errorf("grid run POST sent %d times; want 1", posts.Load())
	}
	if !errors.Is(err, bitscale.ErrOutcomeUnknown) {
		t.Errorf("want ErrOutcomeUnknown")
	}
}

// A tiny interval, which jitter can round to zero, must not block the
// poller until its context ends.
func TestPollUntilDoneTinyIntervalDoesNotSpin(t *testing.T) {
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) < 3 {
			w.Write([]byte(`{"run_id":"run_1","status":"running"}`))
			return
		}
		w.Write([]byte(`{"run_id":"run_1","status":"completed"}`))
	})
	c, _ := newTestClient(t, h)
	hung := 0
	for i := 0; i < 20; i++ {
		n.Store(0)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := c.Runs.PollUntilDone(ctx, "grid_001", "run_1", &bitscale.PollOptions{Interval: time.Nanosecond})
		cancel()
		if err != nil {
			hung++
		}
	}
	if hung > 0 {
		t.Errorf("%d of 20 polls with Interval 1ns hung until the context deadline (polls made: last %d)", hung, n.Load())
	}
}

// With WithRetryWait(0, 0), a Retry-After on a poll answer caps to zero;
// the poller must still go on.
func TestPollUntilDoneZeroMaxWaitDoesNotSpin(t *testing.T) {
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.Write([]byte(`{"run_id":"run_1","status":"running"}`))
			return
		}
		w.Write([]byte(`{"run_id":"run_1","status":"completed"}`))
	})
	c, _ := newTestClient(t, h, bitscale.WithRetryWait(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Runs.PollUntilDone(ctx, "grid_001", "run_1", nil)
	t.Logf("err=%v after %s, polls=%d", err, time.Since(start).Round(time.Millisecond), n.Load())
	if err != nil {
		t.Errorf("poll hung until the context ended")
	}
}

// When the context ends before the first poll answers, RunAndWait returns
// the accepted run, so its ID is not lost, and ErrOutcomeUnknown.
func TestRunAndWaitKeepsTheAcceptedRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(202)
			w.Write([]byte(`{"mode":"async","run_id":"run_42","status":"queued"}`))
			return
		}
		cancel() // the caller gives up while polling
		w.Write([]byte(`{"run_id":"run_42","status":"running"}`))
	})
	c, _ := newTestClient(t, h)
	run, err := c.Grids.RunAndWait(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}}, nil)
	t.Logf("run=%v err=%v outcomeUnknown=%v", run, err, errors.Is(err, bitscale.ErrOutcomeUnknown))
	if run == nil {
		t.Errorf("the accepted run (run_42) is not returned")
	}
	if !errors.Is(err, bitscale.ErrOutcomeUnknown) {
		t.Errorf("accepted run whose end was not seen: error does not match ErrOutcomeUnknown")
	}
	var oe *bitscale.OutcomeError
	if !errors.As(err, &oe) || oe.RunID != "run_42" {
		t.Errorf("errors.As(*OutcomeError) gives %+v, want RunID run_42", oe)
	}
	if !strings.Contains(err.Error(), "run run_42 was accepted") {
		t.Errorf("error %q does not name the accepted run", err)
	}
}
