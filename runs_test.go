package bitscale_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastPoll polls every few milliseconds.
var fastPoll = &bitscale.PollOptions{Interval: 2 * time.Millisecond, MaxInterval: 5 * time.Millisecond}

// script answers successive polls of run_1 with the given answers; an
// answer is a status to report, or "NNN" for an HTTP error status.
func script(t *testing.T, answers ...string) (http.Handler, *atomic.Int32) {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/v1/grids/grid_001/runs/run_1", r.URL.Path)
		i := int(n.Add(1)) - 1
		a := answers[min(i, len(answers)-1)]
		var code int
		if _, err := fmt.Sscanf(a, "%d", &code); err == nil {
			serveJSON(code, []byte(fmt.Sprintf(`{"error":{"code":"E","message":"poll %d"}}`, i+1)))(w, r)
			return
		}
		run := map[string]any{"run_id": "run_1", "grid_id": "grid_001", "status": a}
		switch a {
		case "completed":
			run["outputs"] = map[string]any{"col": "value"}
			run["credits"] = map[string]any{"consumed": 12, "remaining": 88}
		case "failed":
			run["error"] = "the agent could not find a company"
		}
		b, _ := json.Marshal(run)
		serveJSON(200, b)(w, r)
	}), &n
}

func TestPollUntilDoneWaitsThroughStages(t *testing.T) {
	t.Parallel()
	h, n := script(t, "queued", "queued", "running", "mystery-new-state", "running", "completed")
	c, _ := newTestClient(t, h)
	var seen []bitscale.RunStatus
	opts := *fastPoll
	opts.OnUpdate = func(r *bitscale.Run) { seen = append(seen, r.Status) }
	run, err := c.Runs.PollUntilDone(context.Background(), "grid_001", "run_1", &opts)
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	assert.Equal(t, map[string]any{"col": "value"}, run.Outputs)
	assert.Equal(t, &bitscale.Credits{Consumed: 12, Remaining: 88}, run.Credits)
	assert.EqualValues(t, 6, n.Load())
	assert.Equal(t, []bitscale.RunStatus{"queued", "running", "mystery-new-state", "running", "completed"}, seen,
		"OnUpdate sees each change once, an unknown status is waited through")
}

func TestPollUntilDoneFailedRun(t *testing.T) {
	t.Parallel()
	h, _ := script(t, "running", "failed")
	c, _ := newTestClient(t, h)
	run, err := c.Runs.PollUntilDone(context.Background(), "grid_001", "run_1", fastPoll)
	require.ErrorIs(t, err, bitscale.ErrRunFailed)
	require.NotNil(t, run)
	assert.Equal(t, bitscale.RunFailed, run.Status)
	var runErr *bitscale.RunError
	require.ErrorAs(t, err, &runErr)
	assert.Equal(t, "the agent could not find a company", runErr.Message)
	assert.Same(t, run.Error, runErr)
}

func TestPollUntilDoneWaitsThroughTransientErrors(t *testing.T) {
	t.Parallel()
	h, n := script(t, "queued", "503", "503", "503", "503", "503", "429", "running", "completed")
	// One attempt per poll, so that each error reaches the poller.
	c, _ := newTestClient(t, h, bitscale.WithMaxRetries(0))
	run, err := c.Runs.PollUntilDone(context.Background(), "grid_001", "run_1", fastPoll)
	require.NoError(t, err)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	assert.EqualValues(t, 9, n.Load())
}

func TestPollUntilDoneStopsOnPermanentErrors(t *testing.T) {
	t.Parallel()
	for _, code := range []int{401, 404, 403, 400} {
		h, n := script(t, "queued", fmt.Sprint(code), "completed")
		c, _ := newTestClient(t, h)
		run, err := c.Runs.PollUntilDone(context.Background(), "grid_001", "run_1", fastPoll)
		var apiErr *bitscale.APIError
		require.ErrorAs(t, err, &apiErr, code)
		assert.Equal(t, code, apiErr.StatusCode)
		require.NotNil(t, run, "the last run seen comes back with the error")
		assert.Equal(t, bitscale.RunQueued, run.Status)
		assert.EqualValues(t, 2, n.Load())
	}
}

func TestPollUntilDoneEndsAtOnceWithItsContext(t *testing.T) {
	t.Parallel()
	h, _ := script(t, "running")
	c, _ := newTestClient(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	opts := &bitscale.PollOptions{Interval: time.Minute, OnUpdate: func(*bitscale.Run) {
		once.Do(func() { time.AfterFunc(20*time.Millisecond, cancel) })
	}}
	start := time.Now()
	run, err := c.Runs.PollUntilDone(ctx, "grid_001", "run_1", opts)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second, "did not sit out the minute")
	require.NotNil(t, run)
	assert.Equal(t, bitscale.RunRunning, run.Status)

	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	_, err = c.Runs.PollUntilDone(ctx, "grid_001", "run_1", &bitscale.PollOptions{Interval: time.Minute})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestPollUntilDoneHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	var times []time.Time
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		times = append(times, time.Now())
		status := "running"
		if n.Add(1) == 2 {
			status = "completed"
		}
		w.Header().Set("Retry-After", "0.25")
		serveJSON(200, []byte(`{"run_id":"run_1","status":"`+status+`"}`))(w, r)
	}), bitscale.WithRetryWait(time.Millisecond, 5*time.Second))
	_, err := c.Runs.PollUntilDone(context.Background(), "grid_001", "run_1", fastPoll)
	require.NoError(t, err)
	require.Len(t, times, 2)
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 225*time.Millisecond, "waited as the server asked, not 2ms")
}

func TestRunAndWait(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	var body map[string]any
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/v1/grids/grid_001/run":
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			serveJSON(201, []byte(`{"mode":"async","run_id":"run_1","status":"queued","poll_url":"x"}`))(w, r)
		case r.Method == "GET" && r.URL.Path == "/api/v1/grids/grid_001/runs/run_1":
			status := "running"
			if polls.Add(1) >= 3 {
				status = "completed"
			}
			serveJSON(200, []byte(`{"run_id":"run_1","grid_id":"grid_001","status":"`+status+`"}`))(w, r)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	run, err := c.Grids.RunAndWait(context.Background(), "grid_001",
		&bitscale.RunRequest{Inputs: map[string]any{"col": "x"}, WebhookURL: "https://hooks.example.com/b"}, fastPoll)
	require.NoError(t, err)
	assert.Equal(t, "run_1", run.ID)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	assert.EqualValues(t, 3, polls.Load())
	assert.Equal(t, "async", body["mode"])
	assert.Regexp(t, `^[0-9a-f]{32}$`, run.WebhookRef)
	assert.Equal(t, "https://hooks.example.com/b?bitscale_ref="+run.WebhookRef, body["webhook_url"], "sent with the run's ref")
}

func TestRunAndWaitReturnsRunAsyncError(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(403, []byte(`{"error":{"code":"INSUFFICIENT_CREDITS","message":"no credits"}}`)))
	_, err := c.Grids.RunAndWait(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": 1}}, nil)
	require.ErrorIs(t, err, bitscale.ErrInsufficientCredits)
}

func TestRunErrorDecodesStringOrObject(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bitscale.RunError{
		`"boom"`: {Message: "boom"},
		`{"code":"AGENT_TIMEOUT","message":"slow"}`: {Code: "AGENT_TIMEOUT", Message: "slow"},
		`{"code":504,"message":"gateway"}`:          {Code: "504", Message: "gateway"},
		`{"error":"only error"}`:                    {Message: "only error"},
		`{"detail":"only detail","type":"x"}`:       {Message: "only detail"},
		`{"description":"only description"}`:        {Message: "only description"},
		`{"message":"m","error":"e","detail":"d"}`:  {Message: "m"},
		`{"code":"C"}`: {Code: "C"},
	} {
		var run bitscale.Run
		require.NoError(t, json.Unmarshal([]byte(`{"run_id":"r","status":"failed","error":`+in+`}`), &run), in)
		assert.Equal(t, &want, run.Error, in)
		assert.True(t, errors.Is(run.Error, bitscale.ErrRunFailed), in)
	}
	runErr := &bitscale.RunError{Code: "INSUFFICIENT_CREDITS", Message: "ran out during the run"}
	assert.ErrorIs(t, runErr, bitscale.ErrInsufficientCredits, "a documented code matches its sentinel")
	assert.NotErrorIs(t, runErr, bitscale.ErrGridNotFound)
	var run bitscale.Run
	assert.Error(t, json.Unmarshal([]byte(`{"run_id":"r","error":[1,2]}`), &run), "an array is neither shape")
	assert.Equal(t, "bitscale: run failed: C: m", (&bitscale.RunError{Code: "C", Message: "m"}).Error())
	assert.Equal(t, "bitscale: run failed: m", (&bitscale.RunError{Message: "m"}).Error())
}

// An untrusted certificate is not transient: polling ends with it.
func TestPollUntilDoneStopsOnCertificateErrors(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL), bitscale.WithWorkspaceID(testWorkspace))
	if err != nil {
		t.Fatal(err)
	}
	_, _, gerr := c.Runs.Get(context.Background(), "grid_001", "run_1")
	// A poller that took the error as transient would poll on until the
	// deadline, far beyond the handful of failed handshakes it takes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.Runs.PollUntilDone(ctx, "grid_001", "run_1", &bitscale.PollOptions{Interval: 50 * time.Millisecond, MaxInterval: 100 * time.Millisecond})
	t.Logf("Get: %v\nPollUntilDone: %v", gerr, err)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("permanent error waited through until the deadline")
	}
}

// A tiny interval, which jitter can round to zero, must not block the
// poller until its context ends.
func TestPollUntilDoneTinyIntervalDoesNotSpin(t *testing.T) {
	t.Parallel()
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
		// Three polls take milliseconds; a poller stuck on a zero wait
		// never ends them, which the deadline reports without relying on
		// how busy the machine is.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	t.Parallel()
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
	t.Parallel()
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
