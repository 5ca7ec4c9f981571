package bitscale_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An echoed key is redacted from the whole body before the excerpt is cut,
// and from the code too.
func TestKeyIsRedactedBeforeTheExcerptIsCut(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		fmt.Fprintf(w, "<html>%s key=%s</html>", strings.Repeat("x", 170), r.Header.Get("api_key"))
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Users.Me(context.Background())
	t.Logf("err=%v", err)
	if strings.Contains(err.Error(), testKey[:12]) {
		t.Errorf("error holds the first 12 chars of the API key")
	}
	h2 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":{"code":"INVALID_API_KEY:%s","message":"bad"}}`, r.Header.Get("api_key"))
	})
	c2, _ := newTestClient(t, h2)
	_, _, err = c2.Users.Me(context.Background())
	t.Logf("err=%v", err)
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error holds the API key via APIError.Code")
	}
}

// A key the server echoes with JSON escapes (\u0062 for its first letter)
// is not in the raw bytes but is in the decoded message and details, and
// is redacted there too.
func TestEscapedEchoOfTheKeyIsRedactedOnceDecoded(t *testing.T) {
	t.Parallel()
	escaped := `\u0062` + testKey[1:]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":{"code":"INVALID_API_KEY","message":"key %s is invalid",`+
			`"details":{"key":"%s","seen":["%s",{"as":"%s"}],"%s":1}}}`, escaped, escaped, escaped, escaped, escaped)
	})
	c, _ := newTestClient(t, h)
	_, _, err := c.Users.Me(context.Background())
	var apiErr *bitscale.APIError
	require.ErrorAs(t, err, &apiErr)
	t.Logf("err=%v details=%v", err, apiErr.Details)
	assert.Equal(t, "key [redacted] is invalid", apiErr.Message)
	assert.Equal(t, map[string]any{
		"key":        "[redacted]",
		"seen":       []any{"[redacted]", map[string]any{"as": "[redacted]"}},
		"[redacted]": 1.0,
	}, apiErr.Details)
	assert.NotContains(t, fmt.Sprintf("%v %+v", err, apiErr), testKey)
}
