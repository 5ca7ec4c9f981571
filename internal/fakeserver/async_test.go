package fakeserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startAsync submits an async run and returns its run ID.
func startAsync(t *testing.T, s *Server, body map[string]any) string {
	t.Helper()
	body["mode"] = "async"
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", body)
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201; body %s", res.status, res.body)
	}
	m := res.object(t)
	id, _ := m["run_id"].(string)
	if len(id) != len("run_")+16 {
		t.Fatalf("run_id = %q", id)
	}
	wantJSON(t, res.body, `{"mode":"async","run_id":"`+id+`","status":"queued","poll_url":"`+s.URL()+`grids/grid_001/runs/`+id+`"}`)
	return id
}

func poll(t *testing.T, s *Server, id string) map[string]any {
	t.Helper()
	res := send(t, s, "GET", "grids/grid_001/runs/"+id, "ws_abc123", nil)
	if res.status != http.StatusOK {
		t.Fatalf("poll: status %d; body %s", res.status, res.body)
	}
	return res.object(t)
}

func TestAsyncStages(t *testing.T) {
	t.Parallel()
	// Each stage lasts until a poll has seen it, and the run ends only
	// once the test has looked at the running stage.
	var seenRunning atomic.Bool
	s := newServer(t, WithPolledStages(), WithRunDurations(0, 0), WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		for !seenRunning.Load() {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return DefaultEnricher(ctx, req)
	}))
	id := startAsync(t, s, janeDoe(""))

	var seen []string
	var last map[string]any
	eventually(t, "the run to complete", func() bool {
		last = poll(t, s, id)
		st := last["status"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
			switch st {
			case StatusQueued:
				if _, ok := last["started_at"]; ok {
					t.Errorf("queued run has started_at: %v", last)
				}
			case StatusRunning:
				if _, err := time.Parse(time.RFC3339, last["started_at"].(string)); err != nil {
					t.Errorf("running run: started_at %v", last["started_at"])
				}
				if _, ok := last["outputs"]; ok {
					t.Errorf("running run has outputs: %v", last)
				}
				// Credits are charged only on completion.
				if ws, _ := s.Workspace("ws_abc123"); ws.Credits.Remaining != 65800 {
					t.Errorf("credits charged before completion: %+v", ws.Credits)
				}
				seenRunning.Store(true)
			}
		}
		return st == StatusCompleted
	})
	if want := []string{"queued", "running", "completed"}; len(seen) != 3 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("stages seen = %v, want %v", seen, want)
	}
	body, _ := json.Marshal(last)
	started, completed := last["started_at"].(string), last["completed_at"].(string)
	wantJSON(t, body, `{
	  "run_id": "`+id+`",
	  "grid_id": "grid_001",
	  "status": "completed",
	  "outputs": {
	    "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
	    "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
	    "a1b2c3d4-e5f6-7890-abcd-ef1234567890": "jane.doe@acmecorp.com",
	    "b2c3d4e5-f6a7-8901-bcde-f12345678901": "https://linkedin.com/in/janedoe"
	  },
	  "credits": {"consumed": 12, "remaining": 65788},
	  "started_at": "`+started+`",
	  "completed_at": "`+completed+`"
	}`)
	ts, _ := time.Parse(time.RFC3339, started)
	tc, err := time.Parse(time.RFC3339, completed)
	if err != nil || tc.Before(ts) || tc.Location() != time.UTC {
		t.Errorf("started_at %s, completed_at %s", started, completed)
	}
}

// A run completes on its own, without anyone polling.
func TestAsyncCompletesUnpolled(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithRunDurations(10*time.Millisecond, 20*time.Millisecond))
	id := startAsync(t, s, janeDoe(""))
	eventually(t, "the run to complete", func() bool {
		r, _ := s.Run(id)
		return r.Status == StatusCompleted
	})
	r, _ := s.Run(id)
	if r.Mode != ModeAsync || r.Credits != 12 || r.StartedAt.IsZero() || r.CompletedAt.IsZero() {
		t.Errorf("run = %+v", r)
	}
	if ws, _ := s.Workspace("ws_abc123"); ws.Credits.Remaining != 65788 {
		t.Errorf("credits = %+v", ws.Credits)
	}
}

func TestAsyncFailure(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithRunDurations(0, 0), WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		return nil, errors.New("no such person")
	}))
	id := startAsync(t, s, janeDoe(""))
	var m map[string]any
	eventually(t, "the run to fail", func() bool {
		m = poll(t, s, id)
		return m["status"] == StatusFailed
	})
	if e, _ := m["error"].(map[string]any); e["code"] != CodeEnrichmentFailed || e["message"] != "no such person" {
		t.Errorf("error = %v", m["error"])
	}
	for _, k := range []string{"outputs", "credits"} {
		if _, ok := m[k]; ok {
			t.Errorf("failed run has %s: %v", k, m)
		}
	}
	if ws, _ := s.Workspace("ws_abc123"); ws.Credits.Remaining != 65800 {
		t.Errorf("a failed run was charged: %+v", ws.Credits)
	}
}

// Credits spent by other runs while a run was under way fail it at the end.
func TestAsyncRunOutOfCreditsAtCompletion(t *testing.T) {
	t.Parallel()
	spent := make(chan struct{}) // the run ends only once the credits are gone
	s := newServer(t, WithRunDurations(time.Hour, 0), WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		select {
		case <-spent:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return DefaultEnricher(ctx, req)
	}))
	s.SetGridRunDurations("grid_001", 0, 0) // the grid's durations, not the server's
	id := startAsync(t, s, janeDoe(""))
	s.SetCredits("ws_abc123", 0)
	close(spent)
	eventually(t, "the run to fail", func() bool {
		r, _ := s.Run(id)
		return r.Status == StatusFailed
	})
	if r, _ := s.Run(id); r.Error.Code != CodeInsufficientCredits {
		t.Errorf("error = %+v", r.Error)
	}
}

func TestRunNotFound(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithRunDurations(0, 0))
	id := startAsync(t, s, janeDoe(""))
	if _, err := s.AddGrid("ws_abc123", Grid{ID: "grid_other"}); err != nil {
		t.Fatal(err)
	}
	// A run is found only under its own grid.
	send(t, s, "GET", "grids/grid_other/runs/"+id, "ws_abc123", nil).wantError(t, 404, CodeRunNotFound)
	send(t, s, "GET", "grids/grid_001/runs/run_0000000000000000", "ws_abc123", nil).wantError(t, 404, CodeRunNotFound)
	send(t, s, "GET", "grids/grid_001/runs/"+id, "ws_def456", nil).wantError(t, 404, CodeGridNotFound)
}

// webhookReceiver records deliveries and answers them with the given
// statuses in turn, then 200.
type webhookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func newReceiver(t *testing.T, statuses ...int) *webhookReceiver {
	w := &webhookReceiver{statuses: statuses}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.got = append(w.got, r)
		w.bodies = append(w.bodies, body)
		st := http.StatusOK
		if len(w.statuses) > 0 {
			st, w.statuses = w.statuses[0], w.statuses[1:]
		}
		w.mu.Unlock()
		rw.WriteHeader(st)
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhookReceiver) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got)
}

func TestWebhookSignedAndRetried(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithLocalWebhooks(), WithRunDurations(0, 0), WithWebhookSecret("whsec_for_test"), WithWebhookBackoff(20*time.Millisecond))
	recv := newReceiver(t, http.StatusInternalServerError, http.StatusServiceUnavailable)
	body := janeDoe("")
	body["webhook_url"] = recv.URL + "/hooks/bitscale"
	id := startAsync(t, s, body)

	eventually(t, "a delivery to succeed", func() bool {
		d := s.Deliveries()
		return len(d) == 3
	})
	if recv.count() != 3 {
		t.Fatalf("receiver got %d deliveries, want 3", recv.count())
	}
	poll := send(t, s, "GET", "grids/grid_001/runs/"+id, "ws_abc123", nil).body
	for i, r := range recv.got {
		b := recv.bodies[i]
		if r.URL.Path != "/hooks/bitscale" || r.Method != "POST" {
			t.Errorf("delivery %d: %s %s", i+1, r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("delivery %d: Content-Type %q", i+1, ct)
		}
		if got := r.Header.Get("X-BitScale-Run-Id"); got != id {
			t.Errorf("delivery %d: X-BitScale-Run-Id %q, want %q", i+1, got, id)
		}
		mac := hmac.New(sha256.New, []byte("whsec_for_test"))
		mac.Write(b)
		if want := hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-BitScale-Signature") != want {
			t.Errorf("delivery %d: signature %q, want %q", i+1, r.Header.Get("X-BitScale-Signature"), want)
		}
		if string(b) != string(poll) {
			t.Errorf("delivery %d: payload differs from the poll response\n got: %s\nwant: %s", i+1, b, poll)
		}
	}

	d := s.Deliveries()
	for i, want := range []int{500, 503, 200} {
		if d[i].Attempt != i+1 || d[i].StatusCode != want || d[i].Err != nil || d[i].RunID != id || d[i].URL != body["webhook_url"] {
			t.Errorf("delivery %d = %+v", i+1, d[i])
		}
	}
	// Exponential backoff: at least 20ms, then at least 40ms.
	if gap := d[1].Time.Sub(d[0].Time); gap < 20*time.Millisecond {
		t.Errorf("first retry after %v", gap)
	}
	if gap := d[2].Time.Sub(d[1].Time); gap < 40*time.Millisecond {
		t.Errorf("second retry after %v", gap)
	}
}

func TestWebhookGivesUpAfterThreeRetries(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithLocalWebhooks(), WithRunDurations(0, 0), WithWebhookBackoff(time.Millisecond))
	recv := newReceiver(t, 500, 500, 500, 500, 500, 500)
	body := janeDoe("")
	body["webhook_url"] = recv.URL
	id := startAsync(t, s, body)
	eventually(t, "four attempts", func() bool { return len(s.Deliveries()) == 4 })
	// Close waits for the worker, so no fifth attempt can come after.
	s.Close()
	if n := len(s.Deliveries()); n != 4 || recv.count() != 4 {
		t.Errorf("%d attempts recorded, %d received; want 4", n, recv.count())
	}
	if r, _ := s.Run(id); r.Status != StatusCompleted {
		t.Errorf("run status %s: a failed delivery must not change the run", r.Status)
	}
}

func TestWebhookTimeoutAndFailedRun(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithLocalWebhooks(), WithRunDurations(0, 0), WithWebhookBackoff(time.Millisecond), WithWebhookTimeout(50*time.Millisecond),
		WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) { return nil, errors.New("boom") }))
	release := make(chan struct{})
	var calls int
	var mu sync.Mutex
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			select { // outlast the fake's timeout
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer slow.Close()
	defer close(release)

	body := janeDoe("")
	body["webhook_url"] = slow.URL
	startAsync(t, s, body)
	eventually(t, "a retry to succeed", func() bool { return len(s.Deliveries()) == 2 })
	d := s.Deliveries()
	if d[0].Err == nil || d[0].StatusCode != 0 {
		t.Errorf("timed-out attempt = %+v", d[0])
	}
	if d[1].StatusCode != 200 {
		t.Errorf("second attempt = %+v", d[1])
	}
	var payload map[string]any
	json.Unmarshal(d[1].Body, &payload)
	if payload["status"] != StatusFailed {
		t.Errorf("a failed run's webhook payload: %s", d[1].Body)
	}
}

func TestWebhookDefaults(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if s.WebhookSecret() != DefaultWebhookSecret {
		t.Errorf("WebhookSecret() = %q", s.WebhookSecret())
	}
}

// With WithPolledStages a run skips no stage, even with no duration at
// all: each lasts until a poll has been answered with it.
func TestPolledStages(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithPolledStages(), WithRunDurations(0, 0))
	for range 10 { // a stage skipped by chance would show in some
		id := startAsync(t, s, janeDoe(""))
		var seen []string
		eventually(t, "the run to complete", func() bool {
			st := poll(t, s, id)["status"].(string)
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			return st == StatusCompleted
		})
		if want := []string{StatusQueued, StatusRunning, StatusCompleted}; !slices.Equal(seen, want) {
			t.Errorf("stages seen = %v, want %v", seen, want)
		}
	}
}
