package bitscale_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
)

// A run that ran and failed is failed, even when its error carries a code
// that stops the batch: refused would tell the caller it did not run.
func TestRunBatchRunThatRanAndFailedIsFailed(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			w.Write([]byte(regressionGrid))
			return
		}
		w.Write([]byte(`{"mode":"sync","status":"failed","error":{"code":"INSUFFICIENT_CREDITS","message":"ran out mid-run"},"credits":{"consumed":7,"remaining":0}}`))
	})
	c, _ := newTestClient(t, h)
	rep, err := c.Grids.RunBatch(context.Background(), "grid_001", []map[string]any{{"Name": "a"}}, nil)
	res := rep.Results[0]
	t.Logf("batch err=%v; row outcome=%s credits=%d err=%v", err, res.Outcome, res.Credits, res.Err)
	if res.Outcome == bitscale.OutcomeRefused && res.Credits > 0 {
		t.Errorf("a row that ran and consumed credits is reported as refused (not run, safe to resend)")
	}
	_ = strings.TrimSpace
}
