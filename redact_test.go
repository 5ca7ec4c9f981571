package bitscale_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// An echoed key is redacted from the whole body before the excerpt is cut,
// and from the code too.
func TestKeyIsRedactedBeforeTheExcerptIsCut(t *testing.T) {
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
