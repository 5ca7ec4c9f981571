package bitscale_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

func TestNewClientRefusesBadArguments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		key  string
		opts []bitscale.Option
		want string
	}{
		{"empty key", "", nil, "empty API key"},
		{"blank key", "  \n", nil, "empty API key"},
		{"key with space", "abc def", nil, "spaces or control characters"},
		{"key with newline inside", "abc\ndef", nil, "spaces or control characters"},
		{"relative base URL", testKey, []bitscale.Option{bitscale.WithBaseURL("/api/v1/")}, "not an absolute"},
		{"unparsable base URL", testKey, []bitscale.Option{bitscale.WithBaseURL("http://[::1")}, "base URL"},
		{"ftp base URL", testKey, []bitscale.Option{bitscale.WithBaseURL("ftp://example.com/")}, "not an absolute"},
		{"base URL with query", testKey, []bitscale.Option{bitscale.WithBaseURL("https://example.com/api/v1/?x=1")}, "query"},
		{"plain http to a remote host", testKey, []bitscale.Option{bitscale.WithBaseURL("http://api.example.com/api/v1/")}, "unencrypted"},
		{"nil HTTP client", testKey, []bitscale.Option{bitscale.WithHTTPClient(nil)}, "nil *http.Client"},
		{"negative retries", testKey, []bitscale.Option{bitscale.WithMaxRetries(-1)}, "negative"},
		{"retry wait min above max", testKey, []bitscale.Option{bitscale.WithRetryWait(2*time.Second, time.Second)}, "min <= max"},
		{"nil retry policy", testKey, []bitscale.Option{bitscale.WithRetryPolicy(nil)}, "nil policy"},
		{"zero response size", testKey, []bitscale.Option{bitscale.WithMaxResponseSize(0)}, "positive"},
		{"negative attempt timeout", testKey, []bitscale.Option{bitscale.WithAttemptTimeout(-time.Nanosecond)}, "negative duration"},
		{"user agent with newline", testKey, []bitscale.Option{bitscale.WithUserAgent("a\r\nX-Evil: 1")}, "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := bitscale.NewClient(tc.key, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.want)
			if tc.key != "" && strings.TrimSpace(tc.key) != "" {
				assert.NotContains(t, err.Error(), tc.key)
			}
		})
	}
}

// Any printable ASCII may be in a key, from '!' to '~', and goes on the
// wire as given; a space, DEL or another control character may not.
func TestNewClientTakesKeysOfEveryPrintableCharacter(t *testing.T) {
	t.Parallel()
	var got []string
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Api_key"))
		serveJSON(200, []byte(`{"id":"usr_1"}`))(w, r)
	}))
	keys := []string{"!bsk_test", "bsk_test~"}
	for _, key := range keys {
		c, err := bitscale.NewClient(key, bitscale.WithBaseURL(srv.URL))
		require.NoError(t, err, "%q", key)
		_, _, err = c.Users.Me(context.Background())
		require.NoError(t, err, "%q", key)
		c.CloseIdleConnections()
	}
	assert.Equal(t, keys, got)
	for _, key := range []string{"bsk test", "bsk\x7ftest", "bsk\x1ftest"} {
		_, err := bitscale.NewClient(key)
		assert.ErrorContains(t, err, "spaces or control characters", "%q", key)
	}
}

func TestNewClientAcceptsLoopbackHTTPAndAllowHTTP(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:8080/api/v1/", "http://localhost:9/api/v1/", "http://[::1]:80/api/v1/"} {
		_, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(u))
		assert.NoError(t, err, u)
	}
	_, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("http://api.internal/api/v1/"), bitscale.WithAllowHTTP())
	assert.NoError(t, err)
}

func TestBaseURLGetsVersionPathAndTrailingSlash(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://api.example.com":         "https://api.example.com/api/v1/",
		"https://api.example.com/":        "https://api.example.com/api/v1/",
		"https://api.example.com/bs/v1":   "https://api.example.com/bs/v1/",
		"https://api.example.com/api/v1/": "https://api.example.com/api/v1/",
	} {
		c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(in))
		require.NoError(t, err)
		assert.Equal(t, want, c.BaseURL().String(), in)
	}
	c, err := bitscale.NewClient(testKey)
	require.NoError(t, err)
	assert.Equal(t, bitscale.DefaultBaseURL, c.BaseURL().String())
}

func TestNewClientFromEnv(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		serveJSON(200, fixture(t, "grid_get.json"))(w, r)
	}))
	defer srv.Close()

	t.Setenv("BITSCALE_API_KEY", "")
	_, err := bitscale.NewClientFromEnv()
	require.ErrorContains(t, err, "BITSCALE_API_KEY is not set")

	t.Setenv("BITSCALE_API_KEY", testKey+"\n") // as read from a file
	t.Setenv("BITSCALE_WORKSPACE_ID", "ws_env")
	t.Setenv("BITSCALE_BASE_URL", srv.URL)
	c, err := bitscale.NewClientFromEnv()
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	assert.Equal(t, "ws_env", c.WorkspaceID())
	_, _, err = c.Grids.Get(context.Background(), "grid_001")
	require.NoError(t, err)
	assert.Equal(t, testKey, got.Get("Api_key"))
	assert.Equal(t, "ws_env", got.Get("Workspace-Id"))

	// Options given in code win over the environment.
	c, err = bitscale.NewClientFromEnv(bitscale.WithWorkspaceID("ws_code"))
	require.NoError(t, err)
	assert.Equal(t, "ws_code", c.WorkspaceID())
}

// rawRequest is one request as read off the wire, before Go's server
// canonicalizes its header names.
type rawRequest struct {
	line    string
	headers []string // "Name: value", spelled as sent
	body    []byte
}

// rawServer answers every request with status and body and hands the raw
// request to the test.
func rawServer(t *testing.T, status int, body string) (string, <-chan rawRequest) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	reqs := make(chan rawRequest, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(conn)
				for {
					req, ok := readRaw(br)
					if !ok {
						return
					}
					reqs <- req
					fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
						status, http.StatusText(status), len(body), body)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/api/v1/", reqs
}

func readRaw(br *bufio.Reader) (rawRequest, bool) {
	var r rawRequest
	line, err := br.ReadString('\n')
	if err != nil {
		return r, false
	}
	r.line = strings.TrimRight(line, "\r\n")
	n := 0
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return r, false
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		r.headers = append(r.headers, h)
		if name, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(name, "Content-Length") {
			fmt.Sscan(strings.TrimSpace(v), &n)
		}
	}
	r.body = make([]byte, n)
	_, err = io.ReadFull(br, r.body)
	return r, err == nil
}

func TestHeadersAreSpelledAsTheReferenceDoesOnTheWire(t *testing.T) {
	t.Parallel()
	url, reqs := rawServer(t, 200, `{"mode":"sync","status":"completed"}`)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(url), bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithUserAgent("leadsync/2.1"))
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	_, _, err = c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{
		Inputs: map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"},
	})
	require.NoError(t, err)
	r := <-reqs
	assert.Equal(t, "POST /api/v1/grids/grid_001/run HTTP/1.1", r.line)
	assert.Contains(t, r.headers, "api_key: "+testKey)
	assert.Contains(t, r.headers, "workspace-id: "+testWorkspace)
	assert.Contains(t, r.headers, "Content-Type: application/json")
	assert.Contains(t, r.headers, "Accept: application/json")
	assert.Contains(t, r.headers, "User-Agent: leadsync/2.1 bitscale-go/"+bitscale.Version)
	assert.JSONEq(t, `{"mode":"sync","inputs":{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890":"Jane Doe"}}`, string(r.body))
}

// A user agent may hold spaces and tabs, as product comments do; only
// other control characters are refused.
func TestUserAgentMayHoldSpacesAndTabs(t *testing.T) {
	t.Parallel()
	url, reqs := rawServer(t, 200, `{"id":"usr_abc123"}`)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(url), bitscale.WithUserAgent("leadsync/2.1 (ops@acme.example)\tbeta"))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, _, err = c.Users.Me(context.Background())
	require.NoError(t, err)
	r := <-reqs
	assert.Contains(t, r.headers, "User-Agent: leadsync/2.1 (ops@acme.example)\tbeta bitscale-go/"+bitscale.Version)
	_, err = bitscale.NewClient(testKey, bitscale.WithUserAgent("leadsync\x7f"))
	assert.ErrorContains(t, err, "control character")
}

func TestUserAgentDefaultsToSDKToken(t *testing.T) {
	t.Parallel()
	url, reqs := rawServer(t, 200, `{"id":"usr_abc123"}`)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(url))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, _, err = c.Users.Me(context.Background())
	require.NoError(t, err)
	r := <-reqs
	assert.Equal(t, "GET /api/v1/user/me HTTP/1.1", r.line)
	assert.Contains(t, r.headers, "User-Agent: bitscale-go/"+bitscale.Version)
	assert.Contains(t, r.headers, "api_key: "+testKey)
	for _, h := range r.headers {
		assert.False(t, strings.HasPrefix(strings.ToLower(h), "workspace-id"), "no workspace configured, yet sent %q", h)
		assert.False(t, strings.HasPrefix(strings.ToLower(h), "content-type"), "a GET has no body, yet sent %q", h)
	}
}

func TestIDsArePathEscaped(t *testing.T) {
	t.Parallel()
	url, reqs := rawServer(t, 404, `{"error":{"code":"GRID_NOT_FOUND","message":"no grid"}}`)
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(url), bitscale.WithWorkspaceID(testWorkspace))
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	_, _, err = c.Grids.Get(context.Background(), "../user/me")
	require.ErrorIs(t, err, bitscale.ErrGridNotFound)
	assert.Equal(t, "GET /api/v1/grids/..%2Fuser%2Fme HTTP/1.1", (<-reqs).line)

	_, _, err = c.Runs.Get(context.Background(), "grid 1?x=y", "run#1")
	require.Error(t, err)
	assert.Equal(t, "GET /api/v1/grids/grid%201%3Fx=y/runs/run%231 HTTP/1.1", (<-reqs).line)
}

func TestEmptyAndDotIDsAreRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	var nilCtx context.Context
	var hits int
	c, _ := newTestClient(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	ctx := context.Background()
	req := &bitscale.RunRequest{Inputs: map[string]any{"col": "x"}}
	calls := map[string]func() error{
		"Workspaces.Get empty": func() error { _, _, err := c.Workspaces.Get(ctx, ""); return err },
		"Workspaces.Get ..":    func() error { _, _, err := c.Workspaces.Get(ctx, ".."); return err },
		"Grids.List .":         func() error { _, _, err := c.Grids.List(ctx, ".", nil); return err },
		"Grids.Get empty":      func() error { _, _, err := c.Grids.Get(ctx, " "); return err },
		"Grids.Get ..":         func() error { _, _, err := c.Grids.Get(ctx, ".."); return err },
		"Grids.Run empty":      func() error { _, _, err := c.Grids.Run(ctx, "", req); return err },
		"Grids.RunAsync .":     func() error { _, _, err := c.Grids.RunAsync(ctx, ".", req); return err },
		"Runs.Get empty run":   func() error { _, _, err := c.Runs.Get(ctx, "grid_001", ""); return err },
		"Runs.Get .. run":      func() error { _, _, err := c.Runs.Get(ctx, "grid_001", ".."); return err },
		"PollUntilDone empty":  func() error { _, err := c.Runs.PollUntilDone(ctx, "grid_001", "", nil); return err },
		"Grids.Get nil ctx":    func() error { _, _, err := c.Grids.Get(nilCtx, "grid_001"); return err },
		"Grids.Run nil ctx":    func() error { _, _, err := c.Grids.Run(nilCtx, "grid_001", req); return err },
		"PollUntilDone nil ctx": func() error {
			_, err := c.Runs.PollUntilDone(nilCtx, "grid_001", "run_1", nil)
			return err
		},
		"RunAndWait nil ctx": func() error { _, err := c.Grids.RunAndWait(nilCtx, "grid_001", req, nil); return err },
		"RunBatch nil ctx": func() error {
			_, err := c.Grids.RunBatch(nilCtx, "grid_001", []map[string]any{{"Name": "x"}}, nil)
			return err
		},
	}
	for name, call := range calls {
		var argErr *bitscale.ArgumentError
		assert.ErrorAs(t, call(), &argErr, name)
	}
	assert.Zero(t, hits, "a refused argument must not reach the server")
}

func TestMissingWorkspaceIsRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	var hits int
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		serveJSON(200, fixture(t, "user_me.json"))(w, r)
	}))
	c = c.ForWorkspace("")
	ctx := context.Background()
	req := &bitscale.RunRequest{Inputs: map[string]any{"col": "x"}}
	for name, call := range map[string]func() error{
		"Grids.List": func() error { _, _, err := c.Grids.List(ctx, "", nil); return err },
		"Grids.Get":  func() error { _, _, err := c.Grids.Get(ctx, "grid_001"); return err },
		"Grids.Run":  func() error { _, _, err := c.Grids.Run(ctx, "grid_001", req); return err },
		"Grids.RunAsync": func() error {
			_, _, err := c.Grids.RunAsync(ctx, "grid_001", req)
			return err
		},
		"Runs.Get":      func() error { _, _, err := c.Runs.Get(ctx, "grid_001", "run_1"); return err },
		"PollUntilDone": func() error { _, err := c.Runs.PollUntilDone(ctx, "grid_001", "run_1", nil); return err },
		"RunAndWait":    func() error { _, err := c.Grids.RunAndWait(ctx, "grid_001", req, nil); return err },
	} {
		err := call()
		require.ErrorIs(t, err, bitscale.ErrNoWorkspace, name)
		assert.Contains(t, err.Error(), "WithWorkspaceID", "the error says how to set one")
	}
	assert.Zero(t, hits)

	// Account-level endpoints need no workspace.
	_, _, err := c.Users.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, hits)
}

func TestForWorkspaceSharesTransportAndRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Workspace-Id"))
		mu.Unlock()
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "41")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Minute).Unix()))
		serveJSON(200, fixture(t, "grid_get.json"))(w, r)
	}))
	other := c.ForWorkspace("ws_def456")
	assert.Equal(t, "ws_def456", other.WorkspaceID())
	assert.Equal(t, testWorkspace, c.WorkspaceID(), "the parent keeps its workspace")

	_, _, err := other.Grids.Get(context.Background(), "grid_001")
	require.NoError(t, err)
	_, _, err = c.Grids.Get(context.Background(), "grid_001")
	require.NoError(t, err)
	assert.Equal(t, []string{"ws_def456", testWorkspace}, seen)
	assert.Equal(t, 41, c.RateLimit().Remaining, "both share one view of the organization's limit")
	assert.Equal(t, c.RateLimit(), other.RateLimit())
}

func TestKeyIsNotSentToAnotherHostOnRedirect(t *testing.T) {
	t.Parallel()
	var leaked http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Clone()
		serveJSON(200, fixture(t, "user_me.json"))(w, r)
	}))
	defer other.Close()
	var first http.Header
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first = r.Header.Clone()
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
	}))

	u, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "usr_abc123", u.ID)
	assert.Equal(t, testKey, first.Get("Api_key"), "the API's own host gets the key")
	assert.Equal(t, testWorkspace, first.Get("Workspace-Id"))
	require.NotNil(t, leaked, "the redirect was followed")
	assert.Empty(t, leaked.Values("Api_key"))
	assert.Empty(t, leaked.Values("Workspace-Id"))
	for name, v := range leaked {
		assert.NotContains(t, strings.Join(v, ","), testKey, name)
	}
}

func TestKeyIsKeptOnSameHostRedirect(t *testing.T) {
	t.Parallel()
	var got []string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+" "+r.Header.Get("Api_key"))
		if r.URL.Path == "/api/v1/user/me" {
			http.Redirect(w, r, "/api/v1/user/me2", http.StatusTemporaryRedirect)
			return
		}
		serveJSON(200, fixture(t, "user_me.json"))(w, r)
	}))
	_, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"/api/v1/user/me " + testKey, "/api/v1/user/me2 " + testKey}, got)
}

func TestRequestsAndClientNeverHoldTheKey(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(200, fixture(t, "user_me.json")))
	req, err := c.NewRequest(context.Background(), http.MethodGet, "user/me", nil)
	require.NoError(t, err)
	_, resp, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	for _, v := range []any{c, *c, req, resp, resp.Request, c.Grids, c.RateLimit()} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			assert.NotContains(t, fmt.Sprintf(verb, v), testKey, "%s of %T", verb, v)
		}
	}
	assert.Empty(t, req.Header.Values("api_key"), "the key is added on the wire, not to the caller's request")
	assert.Empty(t, resp.Request.Header.Values("api_key"))
}

func TestKeyNeverInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A careless server that echoes the key in its errors.
	c, srv := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Api_key")
		switch r.URL.Path {
		case "/api/v1/user/me":
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":{"code":"INVALID_API_KEY","message":"key %s is invalid","details":{"key":%q,"list":[%q]}}}`, key, key, key)
		case "/api/v1/workspaces":
			w.WriteHeader(502)
			fmt.Fprintf(w, "<html><body>bad gateway for %s</body></html>", key)
		case "/api/v1/grids/grid_001":
			w.WriteHeader(200)
			fmt.Fprintf(w, `{"id": %q, "columns": "not a list"}`, key)
		case "/api/v1/workspaces/ws_retry":
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			fmt.Fprintf(w, `{"error":{"code":"UNAVAILABLE","message":"busy, %s"}}`, key)
		case "/api/v1/workspaces/ws_slow":
			<-r.Context().Done() // answers only once the client gives up
		case "/api/v1/workspaces/ws_spent":
			w.Header().Set("X-RateLimit-Limit", "10")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
			serveJSON(200, fixture(t, "workspace_get.json"))(w, r)
		default:
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		}
	}), bitscale.WithLogger(logger), bitscale.WithMaxRetries(1))
	ctx := context.Background()
	var errs []error
	_, _, err := c.Users.Me(ctx)
	errs = append(errs, err)
	_, _, err = c.Workspaces.Get(ctx, "ws_retry") // retried, logged, then returned
	errs = append(errs, err)
	// A client of its own with a short attempt timeout, which only the
	// server that never answers reaches.
	slow, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL+"/api/v1/"), bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithRetryWait(time.Millisecond, 20*time.Millisecond), bitscale.WithLogger(logger),
		bitscale.WithMaxRetries(1), bitscale.WithAttemptTimeout(100*time.Millisecond))
	require.NoError(t, err)
	defer slow.CloseIdleConnections()
	_, _, err = slow.Workspaces.Get(ctx, "ws_slow") // attempt timeouts
	require.ErrorContains(t, err, "attempt timed out")
	errs = append(errs, err)
	_, _, err = c.Workspaces.List(ctx)
	errs = append(errs, err)
	_, _, err = c.Grids.Get(ctx, "grid_001")
	errs = append(errs, err)
	_, _, err = c.Runs.Get(ctx, "grid_001", "run_1")
	errs = append(errs, err)
	_, _, err = c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": 1}})
	errs = append(errs, err)
	// A client of its own, whose window is spent for an hour.
	spent, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL), bitscale.WithLogger(logger))
	require.NoError(t, err)
	defer spent.CloseIdleConnections()
	_, _, err = spent.Workspaces.Get(ctx, "ws_spent")
	require.NoError(t, err)
	_, _, err = spent.Workspaces.Get(ctx, "ws_spent") // refused by the gate
	require.ErrorIs(t, err, bitscale.ErrRateLimited)
	errs = append(errs, err)
	srv.Close()
	_, _, err = c.Users.Me(ctx) // nothing listens
	errs = append(errs, err)

	for i, err := range errs {
		require.Error(t, err, i)
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			assert.NotContains(t, fmt.Sprintf(verb, err), testKey, "error %d: %v", i, err)
		}
	}
	var apiErr *bitscale.APIError
	require.ErrorAs(t, errs[0], &apiErr)
	assert.Equal(t, "key [redacted] is invalid", apiErr.Message)
	assert.Equal(t, "[redacted]", apiErr.Details["key"])
	assert.Contains(t, logs.String(), "bitscale: retrying", "the logger was used")
	assert.NotContains(t, logs.String(), testKey)
}

func TestDoEscapeHatch(t *testing.T) {
	t.Parallel()
	var gotBody string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		assert.Equal(t, "/api/v1/custom/thing", r.URL.Path)
		serveJSON(200, []byte(`{"answer":42}`))(w, r)
	}))
	req, err := c.NewRequest(context.Background(), http.MethodPut, "/custom/thing", map[string]int{"q": 1})
	require.NoError(t, err)
	var v struct{ Answer int }
	resp, err := c.Do(req, &v)
	require.NoError(t, err)
	assert.Equal(t, 42, v.Answer)
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"q":1}`, gotBody)

	// An io.Writer gets the raw body.
	req, err = c.NewRequest(context.Background(), http.MethodGet, "custom/thing", nil)
	require.NoError(t, err)
	var raw bytes.Buffer
	_, err = c.Do(req, &raw)
	require.NoError(t, err)
	assert.JSONEq(t, `{"answer":42}`, raw.String())

	_, err = c.NewRequest(context.Background(), http.MethodPost, "x", map[string]any{"f": func() {}})
	assert.ErrorContains(t, err, "encoding")
}

func TestCanceledContextSendsNothing(t *testing.T) {
	t.Parallel()
	var hits int
	c, _ := newTestClient(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": 1}})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, bitscale.ErrOutcomeUnknown, "nothing was sent")
	assert.Zero(t, hits)
}

func TestEnvelopeOfRelatedPlatformIsUnwrapped(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/user/me" {
			serveJSON(200, []byte(`{"success":true,"data":`+string(fixture(t, "user_me.json"))+`}`))(w, r)
			return
		}
		serveJSON(200, []byte(`{"success":false,"error":{"code":"INVALID_REQUEST","message":"nope"}}`))(w, r)
	}))
	u, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "usr_abc123", u.ID)
	assert.Equal(t, "Jane Doe", u.Name)

	_, _, err = c.Workspaces.List(context.Background())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "INVALID_REQUEST", apiErr.Code)
	assert.Equal(t, "nope", apiErr.Message)
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"grids":[` + strings.Repeat(`{"id":"g"},`, 1000) + `{"id":"g"}],"total":1001}`
	c, _ := newTestClient(t, serveJSON(200, []byte(big)), bitscale.WithMaxResponseSize(1024))
	_, _, err := c.Grids.List(context.Background(), "", nil)
	require.ErrorIs(t, err, bitscale.ErrResponseTooLarge)
	var decErr *bitscale.DecodeError
	require.ErrorAs(t, err, &decErr)
	assert.Equal(t, "/api/v1/workspaces/ws_abc123/grids", decErr.Path)

	// The same without a Content-Length (chunked).
	c, _ = newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(big[:500]))
		w.(http.Flusher).Flush()
		w.Write([]byte(big[500:]))
	}), bitscale.WithMaxResponseSize(1024))
	_, _, err = c.Grids.List(context.Background(), "", nil)
	require.ErrorIs(t, err, bitscale.ErrResponseTooLarge)
}

func TestUndecodableResponsesAreTypedErrors(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"malformed":  `{"id": "grid_001", "columns": [`,
		"wrong type": `{"id": 7}`,
		"empty":      ``,
		"html":       `<html>ok</html>`,
		"bad time":   `{"id":"g","created_at":"yesterday"}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newTestClient(t, serveJSON(200, []byte(body)))
			g, resp, err := c.Grids.Get(context.Background(), "grid_001")
			assert.Nil(t, g)
			var decErr *bitscale.DecodeError
			require.ErrorAs(t, err, &decErr)
			assert.Equal(t, http.MethodGet, decErr.Method)
			assert.Equal(t, "/api/v1/grids/grid_001", decErr.Path)
			assert.Contains(t, err.Error(), "GET /api/v1/grids/grid_001")
			require.NotNil(t, resp)
			assert.Equal(t, 200, resp.StatusCode)
		})
	}
}

func TestUnknownFieldsAreIgnored(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"id":"usr_1","name":"N","shiny_new_field":{"a":[1,2]}}`)))
	u, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "usr_1", u.ID)
}

func TestRateLimitParsedOnEveryResponse(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(30 * time.Second).Unix()
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "600")
		w.Header().Set("X-RateLimit-Remaining", "599")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(reset))
		if r.URL.Path == "/api/v1/workspaces" {
			w.Header().Set("X-RateLimit-Remaining", "598")
			serveJSON(404, []byte(`{"error":{"code":"NOT_FOUND","message":"x"}}`))(w, r)
			return
		}
		serveJSON(200, fixture(t, "user_me.json"))(w, r)
	}))
	assert.Equal(t, bitscale.RateLimit{}, c.RateLimit(), "nothing seen yet")
	_, resp, err := c.Users.Me(context.Background())
	require.NoError(t, err)
	want := bitscale.RateLimit{Limit: 600, Remaining: 599, Reset: time.Unix(reset, 0)}
	assert.True(t, want.Reset.Equal(resp.RateLimit.Reset))
	assert.Equal(t, want.Limit, resp.RateLimit.Limit)
	assert.Equal(t, want.Remaining, resp.RateLimit.Remaining)
	assert.Equal(t, 599, c.RateLimit().Remaining)

	_, resp, err = c.Workspaces.List(context.Background())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 598, apiErr.RateLimit.Remaining)
	assert.Equal(t, 598, resp.RateLimit.Remaining)
	assert.Equal(t, 598, c.RateLimit().Remaining)
}

func TestRateLimitIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	var n int64
	var mu sync.Mutex
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(10000-n))
		mu.Unlock()
		w.Header().Set("X-RateLimit-Limit", "10000")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Minute).Unix()))
		serveJSON(200, fixture(t, "user_me.json"))(w, r)
	}))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_, _, err := c.Users.Me(context.Background())
				assert.NoError(t, err)
				_ = c.RateLimit()
			}
		}()
	}
	wg.Wait()
	// Answers arrive in any order; the last one seen is one of them.
	rl := c.RateLimit()
	assert.Equal(t, 10000, rl.Limit)
	assert.True(t, rl.Remaining >= 10000-160 && rl.Remaining < 10000, "remaining %d", rl.Remaining)
}

// An empty key says how to give one, naming the variable the README's
// snippet reads it from.
func TestEmptyKeySaysHowToGiveOne(t *testing.T) {
	t.Parallel()
	_, err := bitscale.NewClient("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty API key")
	assert.Contains(t, err.Error(), "BITSCALE_API_KEY")
	assert.Contains(t, err.Error(), "NewClientFromEnv")
}

// A password in the base URL is not printed with the client.
func TestStringHidesAPasswordInTheBaseURL(t *testing.T) {
	t.Parallel()
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("https://user:s3cret-pw@api.example.com/"),
		bitscale.WithWorkspaceID(testWorkspace))
	require.NoError(t, err)
	s := c.String()
	assert.NotContains(t, s, "s3cret-pw")
	assert.NotContains(t, s, testKey)
	assert.Equal(t, `bitscale.Client{base: https://user:xxxxx@api.example.com/api/v1/, workspace: "ws_abc123"}`, s)
	assert.NotContains(t, fmt.Sprintf("%v %+v %s", c, c, c), "s3cret-pw")
}

// A HEAD answer has the GET's Content-Length and no body.
func TestDoHead(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
