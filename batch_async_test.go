package bitscale_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
)

const regressionGrid = `{"id":"grid_001","name":"g","columns":[{"id":"c1","name":"Name","type":"text","is_input":true,"required":true},{"id":"o1","name":"Email","type":"ai_enrichment","is_output":true}]}`

// An async row accepted, then not seen to end, keeps its run, so that the
// caller can find it.
func TestRunBatchAsyncKeepsTheRunID(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/grids/grid_001"):
			w.Write([]byte(regressionGrid))
		case r.Method == http.MethodPost:
			w.WriteHeader(202)
			w.Write([]byte(`{"mode":"async","run_id":"run_42","status":"queued"}`))
		default:
			cancel() // shutdown while polling
			w.Write([]byte(`{"run_id":"run_42","status":"running"}`))
		}
	})
	c, _ := newTestClient(t, h)
	rep, err := c.Grids.RunBatch(ctx, "grid_001", []map[string]any{{"Name": "Jane"}}, &bitscale.BatchOptions{Async: true})
	res := rep.Results[0]
	t.Logf("batch err=%v row: outcome=%s run=%v err=%v", err, res.Outcome, res.Run, res.Err)
	if res.Outcome == bitscale.OutcomeUnknown && res.Run == nil {
		t.Errorf("accepted run's ID lost from an OutcomeUnknown row")
	}
}

// CheckResponse takes a response with no body.
func TestCheckResponseNilBody(t *testing.T) {
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("CheckResponse panicked: %v", p)
		}
	}()
	err := bitscale.CheckResponse(&http.Response{StatusCode: 502, ContentLength: -1, Header: http.Header{}})
	t.Logf("err=%v", err)
}
