package fakeserver

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultErrorBeforeHandling(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{
		Method: "POST", Path: "grids/grid_001/run",
		Status: 503, Code: "SERVICE_UNAVAILABLE", Message: "down for maintenance",
		RetryAfter: 1500 * time.Millisecond,
		Header:     http.Header{"X-RateLimit-Reset": {"1713182460"}},
	})
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	if msg := res.wantError(t, 503, "SERVICE_UNAVAILABLE"); msg != "down for maintenance" {
		t.Errorf("message = %q", msg)
	}
	if got := res.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (whole seconds, rounded up)", got)
	}
	if got := res.header.Get("X-RateLimit-Reset"); got != "1713182460" {
		t.Errorf("X-RateLimit-Reset = %q", got)
	}
	if len(s.Runs()) != 0 {
		t.Errorf("a fault before handling let a run through")
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests recorded, want the faulted one", n)
	}
	// Used up: the next request is served.
	if res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")); res.status != 200 {
		t.Errorf("after the fault: status %d", res.status)
	}
}

func TestFaultErrorDefaults(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{})
	send(t, s, "GET", "user/me", "", nil).wantError(t, 500, CodeInternalError)
}

func TestFaultAfterHandling(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{Path: "grids/grid_001/run", AfterHandling: true, Status: 502, Code: "BAD_GATEWAY"})
	send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")).wantError(t, 502, "BAD_GATEWAY")
	runs := s.Runs()
	if len(runs) != 1 || runs[0].Status != StatusCompleted || runs[0].Credits != 12 {
		t.Fatalf("runs = %+v, want the run served and charged", runs)
	}
	if ws, _ := s.Workspace("ws_abc123"); ws.Credits.Remaining != 65788 {
		t.Errorf("credits = %+v", ws.Credits)
	}
}

// A response slower than the client's patience: before handling, the
// request is never served; after handling, it was.
func TestFaultSlow(t *testing.T) {
	t.Parallel()
	impatient := &http.Client{Transport: client.Transport, Timeout: 50 * time.Millisecond}
	for _, after := range []bool{false, true} {
		var logs syncBuffer // a line per request, once the fake is done with it
		s := newServer(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		s.InjectFault(Fault{Method: "POST", Path: "grids/*", Kind: FaultSlow, Delay: 250 * time.Millisecond, AfterHandling: after})
		_, err := impatient.Do(newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")))
		if err == nil {
			t.Fatalf("after=%v: no timeout", after)
		}
		if after {
			eventually(t, "the run to be recorded", func() bool { return len(s.Runs()) == 1 })
			continue
		}
		// Once the fake is done with the abandoned request, whether the
		// delay passed or the hang-up cut it short, it must not have been
		// served; nothing serves it later.
		eventually(t, "the fake to be done with the request", func() bool { return strings.Contains(logs.String(), "fault=slow") })
		s.Close()
		if len(s.Runs()) != 0 {
			t.Errorf("before handling: an abandoned request was served")
		}
	}

	// A patient client gets the real response, late.
	s := newServer(t)
	s.InjectFault(Fault{Path: "user/me", Kind: FaultSlow, Delay: 50 * time.Millisecond, Header: http.Header{"X-Extra": {"1"}}})
	start := time.Now()
	res := send(t, s, "GET", "user/me", "", nil)
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("answered before the delay")
	}
	wantJSON(t, res.body, refUser)
	if res.header.Get("X-Extra") != "1" || res.header.Get("X-RateLimit-Limit") == "" {
		t.Errorf("headers = %v", res.header)
	}
}

// A slow error after handling: the server ran the request, and the
// client waited for a gateway timeout.
func TestFaultDelayedErrorAfterHandling(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{Path: "grids/grid_001/run", AfterHandling: true, Delay: 50 * time.Millisecond, Status: 504, Code: "GATEWAY_TIMEOUT"})
	start := time.Now()
	send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("async")).wantError(t, 504, "GATEWAY_TIMEOUT")
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("answered before the delay")
	}
	if runs := s.Runs(); len(runs) != 1 || runs[0].Mode != ModeAsync {
		t.Errorf("runs = %+v", runs)
	}
}

func TestFaultReset(t *testing.T) {
	t.Parallel()
	for _, after := range []bool{false, true} {
		s := newServer(t, WithRunDurations(time.Hour, 0))
		s.InjectFault(Fault{Method: "POST", Path: "grids/grid_001/run", Kind: FaultReset, AfterHandling: after})
		resp, err := client.Do(newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("async")))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("after=%v: got a response, want a connection error", after)
		}
		if n := len(s.Runs()); n != map[bool]int{false: 0, true: 1}[after] {
			t.Errorf("after=%v: %d runs recorded", after, n)
		}
	}

	// A GET too, on a client that does not reuse connections.
	s := newServer(t)
	s.InjectFault(Fault{Path: "user/me", Kind: FaultReset})
	if resp, err := client.Do(newRequest(t, s, "GET", "user/me", "", nil)); err == nil {
		resp.Body.Close()
		t.Fatal("got a response, want a connection error")
	}
}

func TestFaultResetMidBody(t *testing.T) {
	t.Parallel()
	for _, after := range []bool{false, true} {
		s := newServer(t)
		s.InjectFault(Fault{Path: "grids/grid_001/run", Kind: FaultResetMidBody, AfterHandling: after})
		resp, err := client.Do(newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")))
		if err != nil {
			t.Fatalf("after=%v: %v; want the headers to arrive", after, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("after=%v: reading the body: %v, want io.ErrUnexpectedEOF", after, err)
		}
		if resp.StatusCode != 200 || resp.ContentLength <= int64(len(body)) || len(body) == 0 {
			t.Errorf("after=%v: status %d, Content-Length %d, %d bytes read", after, resp.StatusCode, resp.ContentLength, len(body))
		}
		if after {
			if resp.Header.Get("X-RateLimit-Limit") == "" || !strings.HasPrefix(string(body), `{"mode":"sync"`) {
				t.Errorf("after handling: want the real response cut short; headers %v body %s", resp.Header, body)
			}
			if len(s.Runs()) != 1 {
				t.Errorf("after handling: the run was not recorded")
			}
		} else if len(s.Runs()) != 0 {
			t.Errorf("before handling: a run was recorded")
		}
	}
}

func TestFaultBodies(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{Path: "user/me", Kind: FaultMalformedJSON})
	s.InjectFault(Fault{Path: "user/me", Kind: FaultEmptyBody})
	s.InjectFault(Fault{Path: "user/me", Kind: FaultHTML})
	s.InjectFault(Fault{Path: "user/me", Kind: FaultHTML, Status: 503, RetryAfter: 3 * time.Second})

	res := send(t, s, "GET", "user/me", "", nil)
	var v any
	if res.status != 200 || res.header.Get("Content-Type") != "application/json" || json.Unmarshal(res.body, &v) == nil {
		t.Errorf("malformed JSON: status %d, body %q", res.status, res.body)
	}
	res = send(t, s, "GET", "user/me", "", nil)
	if res.status != 200 || len(res.body) != 0 {
		t.Errorf("empty body: status %d, body %q", res.status, res.body)
	}
	res = send(t, s, "GET", "user/me", "", nil)
	if res.status != 502 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") || !strings.Contains(string(res.body), "502 Bad Gateway") {
		t.Errorf("HTML: status %d, %s, body %q", res.status, res.header.Get("Content-Type"), res.body)
	}
	res = send(t, s, "GET", "user/me", "", nil)
	if res.status != 503 || res.header.Get("Retry-After") != "3" || !strings.Contains(string(res.body), "503 Service Unavailable") {
		t.Errorf("HTML 503: status %d, Retry-After %q, body %q", res.status, res.header.Get("Retry-After"), res.body)
	}
	wantJSON(t, send(t, s, "GET", "user/me", "", nil).body, refUser)
}

func TestFaultMatching(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{Method: "POST", Path: "grids/*", Times: 2, Status: 500, Code: "FIRST"})
	s.InjectFault(Fault{Path: "/api/v1/grids/grid_001/run", Status: 500, Code: "SECOND"})
	s.InjectFault(Fault{Method: "GET", Path: "workspaces", Times: -1, Status: 500, Code: "ALWAYS"})

	// Other methods and paths pass; "workspaces" does not match its subpaths.
	for _, path := range []string{"user/me", "workspaces/ws_abc123", "grids/grid_001"} {
		if res := send(t, s, "GET", path, "ws_abc123", nil); res.status != 200 {
			t.Errorf("GET %s: status %d", path, res.status)
		}
	}
	for _, code := range []string{"FIRST", "FIRST", "SECOND"} {
		send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")).wantError(t, 500, code)
	}
	if res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")); res.status != 200 {
		t.Errorf("faults used up: status %d", res.status)
	}
	for range 3 {
		send(t, s, "GET", "workspaces", "", nil).wantError(t, 500, "ALWAYS")
	}
	s.ClearFaults()
	if res := send(t, s, "GET", "workspaces", "", nil); res.status != 200 {
		t.Errorf("after ClearFaults: status %d", res.status)
	}
}

// A fault applies whether or not the request is authenticated, as a
// proxy's error would.
func TestFaultBeforeAuthentication(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.InjectFault(Fault{Kind: FaultHTML})
	req := newRequest(t, s, "GET", "user/me", "", nil)
	delete(req.Header, "api_key")
	if res := do(t, req); res.status != 502 {
		t.Errorf("status %d, want the fault's 502", res.status)
	}
}

func TestFaultKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[FaultKind]string{FaultError: "error", FaultResetMidBody: "reset mid-body", FaultHTML: "HTML", FaultKind(42): "FaultKind(42)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
