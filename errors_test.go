package bitscale_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryDocumentedCodeMapsToItsSentinel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		code   string
		code2  error // the sentinel of the code
		class  error // the sentinel of the status
	}{
		{401, "INVALID_API_KEY", bitscale.ErrInvalidAPIKey, bitscale.ErrUnauthorized},
		{404, "WORKSPACE_NOT_FOUND", bitscale.ErrWorkspaceNotFound, bitscale.ErrNotFound},
		{404, "GRID_NOT_FOUND", bitscale.ErrGridNotFound, bitscale.ErrNotFound},
		{400, "MISSING_REQUIRED_FIELD", bitscale.ErrMissingRequiredField, bitscale.ErrBadRequest},
		{422, "INVALID_COLUMN_TYPE", bitscale.ErrInvalidColumnType, bitscale.ErrUnprocessable},
		{429, "RUN_LIMIT_EXCEEDED", bitscale.ErrRunLimitExceeded, bitscale.ErrRateLimited},
		{403, "INSUFFICIENT_CREDITS", bitscale.ErrInsufficientCredits, bitscale.ErrForbidden},
		{422, "WEBHOOK_DELIVERY_FAILED", bitscale.ErrWebhookDeliveryFailed, bitscale.ErrUnprocessable},
		{409, "CONFLICT", nil, bitscale.ErrConflict},
		{500, "INTERNAL_ERROR", nil, bitscale.ErrServer},
	}
	all := []error{bitscale.ErrInvalidAPIKey, bitscale.ErrWorkspaceNotFound, bitscale.ErrGridNotFound,
		bitscale.ErrMissingRequiredField, bitscale.ErrInvalidColumnType, bitscale.ErrRunLimitExceeded,
		bitscale.ErrInsufficientCredits, bitscale.ErrWebhookDeliveryFailed, bitscale.ErrBadRequest,
		bitscale.ErrUnauthorized, bitscale.ErrForbidden, bitscale.ErrNotFound, bitscale.ErrConflict,
		bitscale.ErrUnprocessable, bitscale.ErrRateLimited, bitscale.ErrServer}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			body := fmt.Sprintf(`{"error":{"code":%q,"message":"what went wrong","details":{"field":"inputs.x"}}}`, tc.code)
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-RateLimit-Remaining", "7") // room left: a 429 here is a quota, not retried
				w.Header().Set("X-RateLimit-Limit", "10")
				serveJSON(tc.status, []byte(body))(w, r)
			}))
			_, resp, err := c.Grids.Get(context.Background(), "grid_001")
			var apiErr *bitscale.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.Equal(t, "what went wrong", apiErr.Message)
			assert.Equal(t, map[string]any{"field": "inputs.x"}, apiErr.Details)
			assert.Equal(t, "GET", apiErr.Method)
			assert.Equal(t, "/api/v1/grids/grid_001", apiErr.Path)
			assert.Equal(t, 7, apiErr.RateLimit.Remaining)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, fmt.Sprintf("bitscale: GET /api/v1/grids/grid_001: %d %s: %s: what went wrong",
				tc.status, http.StatusText(tc.status), tc.code), err.Error())
			for _, s := range all {
				want := s == tc.code2 || s == tc.class
				assert.Equal(t, want, errors.Is(err, s), "errors.Is(%q, %v)", tc.code, s)
			}
		})
	}
}

func TestBodiesThatAreNotTheEnvelopeStillGiveAPIError(t *testing.T) {
	t.Parallel()
	html := "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + strings.Repeat("nginx ", 100) + "</body></html>"
	cases := []struct {
		name    string
		status  int
		ctype   string
		body    string
		message string
	}{
		{"html from a proxy", 502, "text/html", html, "<html> <head><title>502 Bad Gateway</title></head> <body>nginx"},
		{"empty", 503, "", "", ""},
		{"truncated json", 400, "application/json", `{"error":{"code":"MISSING_REQU`, `{"error":{"code":"MISSING_REQU`},
		{"plain text", 401, "text/plain", "unauthorized\n", "unauthorized"},
		{"error as string", 403, "application/json", `{"error":"forbidden here"}`, "forbidden here"},
		{"json without error", 404, "application/json", `{"message":"gone"}`, `{"message":"gone"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}), bitscale.WithMaxRetries(0))
			_, _, err := c.Workspaces.List(context.Background())
			var apiErr *bitscale.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, "", apiErr.Code)
			assert.True(t, strings.HasPrefix(apiErr.Message, tc.message), "message %q", apiErr.Message)
			assert.LessOrEqual(t, len(apiErr.Message), 204, "an excerpt, not the page")
			assert.NotContains(t, apiErr.Message, "\n")
		})
	}
}

func TestErrorBodyIsReadWithABound(t *testing.T) {
	t.Parallel()
	// A huge error page: the client reads a bounded part and moves on.
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		for i := 0; i < 1<<10; i++ {
			w.Write([]byte(strings.Repeat("x", 1<<10)))
		}
	}))
	_, _, err := c.Users.Me(context.Background())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.LessOrEqual(t, len(apiErr.Message), 204)
	assert.True(t, strings.HasPrefix(apiErr.Message, "xxxxxxxx"), "the excerpt of what was read: %q", apiErr.Message)
}

func TestRetryAfterIsReported(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		serveJSON(503, []byte(`{"error":{"code":"UNAVAILABLE","message":"maintenance"}}`))(w, r)
	}))
	_, _, err := c.Users.Me(context.Background())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 120*time.Second, apiErr.RetryAfter)
	assert.Contains(t, err.Error(), "retry after 2m0s")
}

func TestCheckResponseExcerptsAnOversizedErrorBody(t *testing.T) {
	t.Parallel()
	page := "<html><body>502 Bad Gateway</body></html>" + strings.Repeat(" ", 70<<10)
	resp := &http.Response{StatusCode: 502, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader([]byte(page))), ContentLength: int64(len(page))}
	err := bitscale.CheckResponse(resp)
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Message, "502 Bad Gateway")
}

// Retry-After in delay seconds of one and two digits.
func TestRetryAfterSecondsAreParsed(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"9": 9 * time.Second, "90": 90 * time.Second} {
		c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", v)
			serveJSON(503, []byte(`{"error":{"code":"UNAVAILABLE","message":"later"}}`))(w, r)
		}), bitscale.WithMaxRetries(0))
		_, _, err := c.Users.Me(context.Background())
		var apiErr *bitscale.APIError
		require.ErrorAs(t, err, &apiErr, v)
		assert.Equal(t, want, apiErr.RetryAfter, v)
		assert.Contains(t, err.Error(), fmt.Sprintf("(retry after %s)", want), v)
	}
}

// Details that are not a JSON object are kept under "details".
func TestDetailsThatAreNotAnObjectAreKept(t *testing.T) {
	t.Parallel()
	for details, want := range map[string]any{
		`"quota of 10 reached"`: "quota of 10 reached",
		`[1,"two"]`:             []any{1.0, "two"},
		`42`:                    42.0,
	} {
		c, _ := newTestClient(t, serveJSON(400, []byte(`{"error":{"code":"BAD","message":"no","details":`+details+`}}`)))
		_, _, err := c.Users.Me(context.Background())
		var apiErr *bitscale.APIError
		require.ErrorAs(t, err, &apiErr, details)
		assert.Equal(t, map[string]any{"details": want}, apiErr.Details, details)
	}
}

// CheckResponse takes a response with no body, and still gives the
// APIError of its status.
func TestCheckResponseNilBody(t *testing.T) {
	t.Parallel()
	err := bitscale.CheckResponse(&http.Response{StatusCode: 502, ContentLength: -1, Header: http.Header{}})
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.StatusCode)
	assert.ErrorIs(t, err, bitscale.ErrServer)
}

// A body that is not the envelope comes whole in the message up to 200
// bytes; a longer one is cut there, back to the start of a character, and
// the cut is marked.
func TestExcerptKeepsTwoHundredBytes(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		strings.Repeat("a", 200):       strings.Repeat("a", 200),
		strings.Repeat("a", 201):       strings.Repeat("a", 200) + "…",
		strings.Repeat("a", 199) + "€": strings.Repeat("a", 199) + "…", // € is 3 bytes, from the 200th
	} {
		resp := &http.Response{StatusCode: 502, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1}
		var apiErr *bitscale.APIError
		require.ErrorAs(t, bitscale.CheckResponse(resp), &apiErr)
		assert.Equal(t, want, apiErr.Message, "a body of %d bytes", len(body))
	}
}

// Every status from 500 to 599 is a server error, and none above.
func TestServerErrorClassCoversThe5xxRange(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]bool{499: false, 500: true, 599: true, 600: false} {
		err := &bitscale.APIError{StatusCode: status}
		assert.Equal(t, want, errors.Is(err, bitscale.ErrServer), "status %d", status)
	}
}
