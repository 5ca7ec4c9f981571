package bitscale_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A run POST answered 303 may have run: following the redirect and judging
// the run by the redirect's answer (a 429 here) would send it again.
func TestRunPostIsNotFollowedThroughARedirect(t *testing.T) {
	t.Parallel()
	var posts, gets atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			posts.Add(1) // the run is carried out here
			w.Header().Set("Location", "/api/v1/grids/grid_001/runs/run_1")
			w.WriteHeader(http.StatusSeeOther)
		case http.MethodGet:
			if gets.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"error":{"code":"RATE_LIMITED","message":"slow down"}}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"run_id":"run_1","status":"completed","outputs":{"a":"b"}}`))
		}
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	t.Logf("err=%v posts=%d gets=%d", err, posts.Load(), gets.Load())
	if posts.Load() != 1 {
		t.Errorf("grid run POST sent %d times; want 1", posts.Load())
	}
}

// A 307 to another host would send the run's inputs there and take that
// host's answer for the run.
func TestRunPostIsNotResentToAnotherHostOnRedirect(t *testing.T) {
	t.Parallel()
	var otherPosts atomic.Int32
	var gotKey atomic.Value
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherPosts.Add(1)
		gotKey.Store(r.Header.Get("api_key") + "|" + r.Header.Get("workspace-id"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"completed","outputs":{"forged":"yes"}}`))
	})
	_, osrv := newTestClient(t, other)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, osrv.URL+"/collect", http.StatusTemporaryRedirect)
	})
	c, _ := newTestClient(t, h)
	run, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"email": "jane@x.com"}})
	t.Logf("err=%v run=%+v otherPosts=%d headers-at-other=%q", err, run, otherPosts.Load(), gotKey.Load())
	if otherPosts.Load() != 0 {
		t.Errorf("run body sent to another host %d times and its answer accepted as the run", otherPosts.Load())
	}
}

// A redirect from https to plain http is refused, and the error says so
// and where it led, without the key should the server have put it there.
func TestRedirectFromHTTPSToHTTPIsRefusedWithItsReason(t *testing.T) {
	t.Parallel()
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
	}))
	t.Cleanup(plain.Close)
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/api/v1/user/me?echo="+r.Header.Get("api_key"), http.StatusFound)
	}))
	t.Cleanup(tls.Close)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(tls.URL), bitscale.WithHTTPClient(tls.Client()))
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	_, resp, err := c.Users.Me(context.Background())
	t.Logf("err=%v", err)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing a redirect from https to http (to "+plain.URL+"/api/v1/user/me?echo=[redacted])")
	assert.NotContains(t, err.Error(), testKey)
	var apiErr *bitscale.APIError
	assert.False(t, errors.As(err, &apiErr), "not an error answer of the API")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Zero(t, plainHits.Load())
}

// A run POST redirected to a host that refuses connections: the failed
// dial of the redirect must not pass for the run's own.
func TestRunPostRedirectToADeadHostIsNotReplayed(t *testing.T) {
	t.Parallel()
	dead := refusedURL + "/result"
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

// The rate limit a Response reports is the final answer's, also when a
// redirect led to another host, whose answer the transport did not read.
func TestResponseRateLimitIsTheFinalAnswers(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "7")
		serveJSON(200, []byte(`{"id":"usr_abc123"}`))(w, r)
	}))
	t.Cleanup(other.Close)
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "42")
		if r.URL.Query().Get("away") != "" {
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
			return
		}
		serveJSON(200, []byte(`{"id":"usr_abc123"}`))(w, r)
	}))
	for _, tt := range []struct {
		path string
		want int
	}{{"user/me", 42}, {"user/me?away=1", 7}} {
		req, err := c.NewRequest(context.Background(), http.MethodGet, tt.path, nil)
		require.NoError(t, err)
		resp, err := c.Do(req, nil)
		require.NoError(t, err)
		assert.Equal(t, tt.want, resp.RateLimit.Remaining, tt.path)
	}
}

// A GET follows at most 10 redirects: the tenth request's redirect ends
// the call, which is not retried.
func TestRedirectsStopAfterTen(t *testing.T) {
	t.Parallel()
	var gets atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		http.Redirect(w, r, "/api/v1/user/me", http.StatusFound)
	}))
	_, _, err := c.Users.Me(context.Background())
	require.ErrorContains(t, err, "stopped after 10 redirects")
	assert.EqualValues(t, 10, gets.Load())
}
