package bitscale_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// With Ordered, rows that ran (and were paid for) wait behind a slow row
// until it ends; a crash then loses them, and a resume pays for them again.
// So rows may start only a bounded distance ahead of the slow one.
func TestRunBatchOrderedBoundsResultsHeld(t *testing.T) {
	var ran atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/grids/grid_001") {
			w.Write([]byte(regressionGrid))
			return
		}
		var body struct{ Inputs map[string]any }
		json.NewDecoder(r.Body).Decode(&body)
		if body.Inputs["c1"] == "row0" {
			time.Sleep(1500 * time.Millisecond) // one slow sync run
		}
		ran.Add(1)
		w.Write([]byte(`{"mode":"sync","status":"completed","outputs":{},"credits":{"consumed":1}}`))
	})
	c, _ := newTestClient(t, h)
	rows := make([]map[string]any, 200)
	for i := range rows {
		rows[i] = map[string]any{"Name": "rowN"}
	}
	rows[0]["Name"] = "row0"
	var delivered, ranAt1s atomic.Int32
	sample := time.AfterFunc(time.Second, func() { ranAt1s.Store(ran.Load()) }) // while row 0 is slow
	defer sample.Stop()
	_, err := c.Grids.RunBatch(context.Background(), "grid_001", rows, &bitscale.BatchOptions{
		Ordered: true, Concurrency: 4,
		OnResult: func(bitscale.BatchResult) { delivered.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := ranAt1s.Load(); n > 2*4 {
		t.Errorf("%d rows ran ahead of the slow one, want at most twice the concurrency", n)
	}
	if delivered.Load() != 200 {
		t.Errorf("%d results delivered, want 200", delivered.Load())
	}
}
