package fakeserver

import (
	"strconv"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	// 12:00:10 UTC: the minute window began at 12:00:00 and resets at 12:01:00.
	c := &clock{t: time.Date(2024, 4, 15, 12, 0, 10, 0, time.UTC)}
	s := newServer(t, WithClock(c.Now), WithRateLimit(3, time.Minute))
	reset := strconv.FormatInt(time.Date(2024, 4, 15, 12, 1, 0, 0, time.UTC).Unix(), 10)

	for i := 2; i >= 0; i-- {
		res := send(t, s, "GET", "user/me", "", nil)
		if res.status != 200 {
			t.Fatalf("request %d: status %d", 3-i, res.status)
		}
		wantRateHeaders(t, res, "3", strconv.Itoa(i), reset)
		if ra := res.header.Get("Retry-After"); ra != "" {
			t.Errorf("Retry-After %q on an allowed request", ra)
		}
		// Unauthenticated requests neither count nor show the limit.
		req := newRequest(t, s, "GET", "user/me", "", nil)
		req.Header["api_key"] = []string{"bsk_wrong"}
		do(t, req).wantError(t, 401, CodeInvalidAPIKey)
	}

	for range 2 { // refused requests do not count either
		res := send(t, s, "GET", "workspaces", "", nil)
		res.wantError(t, 429, CodeRateLimited)
		wantRateHeaders(t, res, "3", "0", reset)
		if ra := res.header.Get("Retry-After"); ra != "50" {
			t.Errorf("Retry-After = %q, want 50", ra)
		}
		c.Add(49 * time.Second)
		res = send(t, s, "GET", "workspaces", "", nil)
		res.wantError(t, 429, CodeRateLimited)
		if ra := res.header.Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After = %q, want 1", ra)
		}
		c.Add(-49 * time.Second)
	}
	// A fraction of a second before the reset, Retry-After rounds up to 1.
	c.Add(49*time.Second + 900*time.Millisecond)
	if ra := send(t, s, "GET", "workspaces", "", nil).header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}

	// The next window starts afresh.
	c.Add(100 * time.Millisecond)
	res := send(t, s, "GET", "user/me", "", nil)
	if res.status != 200 {
		t.Fatalf("next window: status %d", res.status)
	}
	wantRateHeaders(t, res, "3", "2", strconv.FormatInt(time.Date(2024, 4, 15, 12, 2, 0, 0, time.UTC).Unix(), 10))

	// SetRateLimit starts counting afresh, with windows of whole seconds.
	s.SetRateLimit(1, 1500*time.Millisecond) // taken as 2 s
	res = send(t, s, "GET", "user/me", "", nil)
	wantRateHeaders(t, res, "1", "0", strconv.FormatInt(time.Date(2024, 4, 15, 12, 1, 2, 0, time.UTC).Unix(), 10))
}

func wantRateHeaders(t *testing.T, res result, limit, remaining, reset string) {
	t.Helper()
	for h, want := range map[string]string{"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	res := send(t, s, "GET", "user/me", "", nil)
	if res.header.Get("X-RateLimit-Limit") != "1000" {
		t.Errorf("X-RateLimit-Limit = %q", res.header.Get("X-RateLimit-Limit"))
	}
	reset, err := strconv.ParseInt(res.header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil || reset%60 != 0 || reset <= time.Now().Unix()-1 || reset > time.Now().Unix()+61 {
		t.Errorf("X-RateLimit-Reset = %q: want the next whole minute", res.header.Get("X-RateLimit-Reset"))
	}
}
