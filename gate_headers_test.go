package bitscale_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// A response with X-RateLimit-Reset but no parsable X-RateLimit-Remaining
// says nothing of what is left: the gate must stay open.
func TestUnparsableRemainingDoesNotCloseGate(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "999.0") // or absent
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"usr_1"}`))
	})
	c, _ := newTestClient(t, h)
	c.Users.Me(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := c.Users.Me(ctx)
	t.Logf("second call: %v; RateLimit()=%v", err, c.RateLimit())
	if err != nil {
		t.Errorf("gate closed by an unparsable Remaining")
	}
}
