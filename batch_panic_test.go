package bitscale_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// A panicking OnResult, recovered by the caller (as net/http's server
// does), must leave no row goroutine blocked behind it.
func TestRunBatchCallbackPanicLeavesNoGoroutine(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/grids/grid_001") {
			w.Write([]byte(regressionGrid))
			return
		}
		w.Write([]byte(`{"mode":"sync","status":"completed","outputs":{}}`))
	})
	c, _ := newTestClient(t, h)
	rows := make([]map[string]any, 8)
	for i := range rows {
		rows[i] = map[string]any{"Name": "x"}
	}
	before := runtime.NumGoroutine()
	func() {
		defer func() { recover() }()
		c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{
			OnResult: func(bitscale.BatchResult) { panic("callback bug") },
		})
	}()
	time.Sleep(200 * time.Millisecond)
	c.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines leaked after a callback panic", after-before)
	}
}
