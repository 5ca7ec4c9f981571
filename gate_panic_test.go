package bitscale_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

type panicOnce struct {
	next  http.RoundTripper
	armed atomic.Bool
}

func (p *panicOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.armed.CompareAndSwap(true, false) {
		panic("boom in a middleware transport")
	}
	return p.next.RoundTrip(r)
}

// A panic in a wrapped transport while the gate's probe is out must not
// leave the gate waiting for an answer that never comes.
func TestGateSurvivesAPanickingTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "10")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().Add(100*time.Millisecond).UnixMilli())/1000, 'f', 3, 64))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"usr_1"}`))
	})
	pt := &panicOnce{next: http.DefaultTransport}
	c, _ := newTestClient(t, h, bitscale.WithHTTPClient(&http.Client{Transport: pt}))
	if _, _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the window has reset: next request is the probe
	pt.armed.Store(true)
	func() {
		defer func() { t.Logf("recovered: %v (as net/http's server would for a handler)", recover()) }()
		c.Users.Me(context.Background())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := c.Users.Me(ctx)
	t.Logf("next call: err=%v after %s", err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Errorf("gate stuck after a panic in RoundTrip")
	}
}
