package fakeserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const refSyncResult = `{
  "mode": "sync",
  "status": "completed",
  "outputs": {
    "3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
    "7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
    "a1b2c3d4-e5f6-7890-abcd-ef1234567890": "jane.doe@acmecorp.com",
    "b2c3d4e5-f6a7-8901-bcde-f12345678901": "https://linkedin.com/in/janedoe"
  },
  "credits": {"consumed": 12, "remaining": 65788}
}`

func TestSyncRunReferenceExample(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	if res.status != http.StatusOK {
		t.Fatalf("status = %d; body %s", res.status, res.body)
	}
	wantJSON(t, res.body, refSyncResult)

	ws, _ := s.Workspace("ws_abc123")
	if ws.Credits != (Credits{Total: 100000, Used: 34212, Remaining: 65788}) {
		t.Errorf("credits after the run = %+v", ws.Credits)
	}
	runs := s.Runs()
	if len(runs) != 1 {
		t.Fatalf("Runs() has %d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.Mode != ModeSync || r.Status != StatusCompleted || r.GridID != "grid_001" || r.WorkspaceID != "ws_abc123" ||
		r.Credits != 12 || r.Remaining != 65788 || r.Inputs[ColumnFullName] != "Jane Doe" || !strings.HasPrefix(r.ID, "run_") {
		t.Errorf("recorded run = %+v", r)
	}
}

func TestSyncRunDefaultMode(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	body := janeDoe("")
	delete(body, "mode")
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", body)
	wantJSON(t, res.body, refSyncResult)
}

func TestOutputColumns(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	body := janeDoe("sync")
	body["output_columns"] = []string{ColumnEnrichedEmail}
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", body)
	outputs := res.object(t)["outputs"].(map[string]any)
	if len(outputs) != 1 || outputs[ColumnEnrichedEmail] != "jane.doe@acmecorp.com" {
		t.Errorf("outputs = %v, want only the enriched email", outputs)
	}
}

func TestRunRequestValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	_, err := s.AddGrid("ws_abc123", Grid{ID: "grid_types", Columns: []Column{
		{ID: "text", Type: TypeText, IsInput: true, Name: "Text"},
		{ID: "num", Type: TypeNumber, IsInput: true, Name: "Num"},
		{ID: "url", Type: TypeURL, IsInput: true, Name: "URL"},
		{ID: "email", Type: TypeEmail, IsInput: true, Name: "Email"},
		{ID: "date", Type: TypeDate, IsInput: true, Name: "Date"},
		{ID: "bool", Type: TypeBoolean, IsInput: true, Name: "Bool"},
		{ID: "req", Type: TypeText, IsInput: true, Required: true, Name: "Needed"},
		{ID: "out", Type: TypeAIEnrichment, IsOutput: true, Name: "Out"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]any{
		"text": "x", "num": 4.5, "url": "https://acme.example/a?b=c", "email": "a@b.co",
		"date": "2024-04-15", "bool": true, "req": "here",
	}
	with := func(k string, v any) map[string]any {
		in := make(map[string]any)
		for k, v := range valid {
			in[k] = v
		}
		if v == nil {
			delete(in, k)
		} else {
			in[k] = v
		}
		return map[string]any{"inputs": in}
	}
	if res := send(t, s, "POST", "grids/grid_types/run", "ws_abc123", with("date", "2024-04-15T12:00:00Z")); res.status != 200 {
		t.Fatalf("valid inputs: status %d; body %s", res.status, res.body)
	}

	tests := []struct {
		name   string
		body   any
		status int
		code   string
		inMsg  string
	}{
		{"invalid JSON", `{"inputs":`, 400, CodeInvalidRequest, "JSON"},
		{"empty body", "", 400, CodeInvalidRequest, "JSON"},
		{"trailing data", `{"inputs":{"req":"x"}} {}`, 400, CodeInvalidRequest, "JSON"},
		{"array body", `[]`, 400, CodeInvalidRequest, "JSON"},
		{"mode of wrong type", `{"mode":5,"inputs":{"req":"x"}}`, 400, CodeInvalidRequest, "JSON"},
		{"unknown mode", map[string]any{"mode": "batch", "inputs": valid}, 400, CodeInvalidRequest, "batch"},
		{"no inputs", map[string]any{"mode": "sync"}, 400, CodeMissingRequiredField, "inputs"},
		{"null inputs", `{"inputs":null}`, 400, CodeMissingRequiredField, "inputs"},
		{"inputs not an object", `{"inputs":["x"]}`, 400, CodeInvalidRequest, "inputs"},
		{"required input absent", with("req", nil), 400, CodeMissingRequiredField, "Needed"},
		{"required input empty", with("req", " "), 400, CodeMissingRequiredField, "Needed"},
		{"unknown column", with("nope", "x"), 400, CodeInvalidRequest, "nope"},
		{"output column as input", with("out", "x"), 422, CodeInvalidColumnType, "not an input"},
		{"text as number", with("text", 5), 422, CodeInvalidColumnType, "Text"},
		{"number as string", with("num", "5"), 422, CodeInvalidColumnType, "Num"},
		{"boolean as string", with("bool", "true"), 422, CodeInvalidColumnType, "Bool"},
		{"url not absolute", with("url", "acme.com"), 422, CodeInvalidColumnType, "URL"},
		{"url not http", with("url", "ftp://acme.com"), 422, CodeInvalidColumnType, "URL"},
		{"email without @", with("email", "jane"), 422, CodeInvalidColumnType, "Email"},
		{"email with two @", with("email", "a@b@c"), 422, CodeInvalidColumnType, "Email"},
		{"email without domain", with("email", "jane@"), 422, CodeInvalidColumnType, "Email"},
		{"date not ISO", with("date", "15/04/2024"), 422, CodeInvalidColumnType, "Date"},
		{"date as number", with("date", 20240415), 422, CodeInvalidColumnType, "Date"},
		{"unknown output column", map[string]any{"inputs": valid, "output_columns": []string{"out", "nope"}}, 400, CodeInvalidRequest, "nope"},
		{"webhook not a URL", map[string]any{"mode": "async", "inputs": valid, "webhook_url": "not a url"}, 422, CodeWebhookDeliveryFailed, "webhook_url"},
		{"webhook not http", map[string]any{"mode": "async", "inputs": valid, "webhook_url": "ftp://hooks.example/x"}, 422, CodeWebhookDeliveryFailed, "webhook_url"},
		{"webhook relative", map[string]any{"mode": "async", "inputs": valid, "webhook_url": "/hook"}, 422, CodeWebhookDeliveryFailed, "webhook_url"},
		{"webhook plain http", map[string]any{"mode": "async", "inputs": valid, "webhook_url": "http://hooks.example/x"}, 422, CodeWebhookDeliveryFailed, "http:// is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := send(t, s, "POST", "grids/grid_types/run", "ws_abc123", tt.body)
			msg := res.wantError(t, tt.status, tt.code)
			if !strings.Contains(msg, tt.inMsg) {
				t.Errorf("message %q does not mention %q", msg, tt.inMsg)
			}
		})
	}
	if n := len(s.Runs()); n != 1 {
		t.Errorf("%d runs recorded, want only the valid one", n)
	}

	// Optional inputs may be null or left out; sync mode ignores webhook_url.
	body := map[string]any{"inputs": map[string]any{"req": "x", "num": nil}, "webhook_url": "not a url"}
	if res := send(t, s, "POST", "grids/grid_types/run", "ws_abc123", body); res.status != 200 {
		t.Errorf("optional inputs omitted: status %d; body %s", res.status, res.body)
	}
}

func TestRunContentType(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		req := newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
		req.Header.Set("Content-Type", ct)
		do(t, req).wantError(t, 400, CodeInvalidRequest)
	}
	req := newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if res := do(t, req); res.status != 200 {
		t.Errorf("with a charset: status %d", res.status)
	}
}

func TestInsufficientCredits(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if err := s.SetCredits("ws_abc123", 11); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"sync", "async"} {
		send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe(mode)).wantError(t, 403, CodeInsufficientCredits)
	}
	ws, _ := s.Workspace("ws_abc123")
	if ws.Credits.Remaining != 11 || ws.Credits.Used != 34200 {
		t.Errorf("credits = %+v, want nothing charged", ws.Credits)
	}
	if len(s.Runs()) != 0 {
		t.Errorf("a refused run was recorded")
	}

	// A cheaper run fits.
	s.SetRunCost(11)
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	credits := res.object(t)["credits"].(map[string]any)
	if credits["consumed"] != 11.0 || credits["remaining"] != 0.0 {
		t.Errorf("credits = %v", credits)
	}
}

func TestRunQuota(t *testing.T) {
	t.Parallel()
	// A still clock keeps all requests in one rate-limit window.
	c := &clock{t: time.Date(2024, 4, 15, 12, 0, 0, 0, time.UTC)}
	s := newServer(t, WithClock(c.Now))
	if err := s.SetRunQuota("ws_abc123", 2); err != nil {
		t.Fatal(err)
	}
	for i, mode := range []string{"sync", "async"} {
		if res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe(mode)); res.status/100 != 2 {
			t.Fatalf("run %d: status %d", i+1, res.status)
		}
	}
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	res.wantError(t, 429, CodeRunLimitExceeded)
	// Not a rate limit: the window still has room, and there is no Retry-After.
	if got := res.header.Get("X-RateLimit-Remaining"); got != "997" {
		t.Errorf("X-RateLimit-Remaining = %q, want 997", got)
	}
	if got := res.header.Get("Retry-After"); got != "" {
		t.Errorf("Retry-After = %q on a quota refusal", got)
	}
	// Other workspaces are not affected, and removing the quota lifts it.
	if res := send(t, s, "POST", "grids/grid_002/run", "ws_def456", map[string]any{
		"inputs": map[string]any{"5d1e8c3a-2f47-4b69-8a0c-1e2f3a4b5c6d": "https://acme.example"},
	}); res.status != 200 {
		t.Errorf("other workspace: status %d; body %s", res.status, res.body)
	}
	s.SetRunQuota("ws_abc123", -1)
	if res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")); res.status != 200 {
		t.Errorf("quota removed: status %d", res.status)
	}
	if err := s.SetRunQuota("ws_nope", 1); err == nil {
		t.Errorf("SetRunQuota of an unknown workspace did not fail")
	}
}

func TestEnricherFailure(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		return nil, errors.New("model unavailable")
	}))
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	wantJSON(t, res.body, `{"mode":"sync","status":"failed","error":{"code":"ENRICHMENT_FAILED","message":"model unavailable"}}`)
	ws, _ := s.Workspace("ws_abc123")
	if ws.Credits.Remaining != 65800 {
		t.Errorf("a failed run was charged: %+v", ws.Credits)
	}
	r := s.Runs()[0]
	if r.Status != StatusFailed || r.Credits != 0 || r.Error == nil || r.Error.Code != CodeEnrichmentFailed {
		t.Errorf("recorded run = %+v", r)
	}

	// An enricher chooses the code with a *RunError.
	s.SetEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		return nil, &RunError{Code: "COLUMN_TIMEOUT", Message: "the agent timed out"}
	})
	res = send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	wantJSON(t, res.body, `{"mode":"sync","status":"failed","error":{"code":"COLUMN_TIMEOUT","message":"the agent timed out"}}`)

	// Outputs that cannot be encoded fail the run too.
	s.SetEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		return map[string]any{"x": make(chan int)}, nil
	})
	res = send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	if m := res.object(t); m["status"] != "failed" {
		t.Errorf("unencodable outputs: %s", res.body)
	}

	// nil restores the default.
	s.SetEnricher(nil)
	wantJSON(t, send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")).body, refSyncResult)
}

func TestRunErrorString(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithRunErrorString(), WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		return nil, errors.New("model unavailable")
	}))
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	wantJSON(t, res.body, `{"mode":"sync","status":"failed","error":"model unavailable"}`)
}

func TestCustomEnricher(t *testing.T) {
	t.Parallel()
	reqs := make(chan EnrichRequest, 1)
	s := newServer(t, WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		reqs <- req
		out, err := DefaultEnricher(ctx, req)
		out[ColumnEnrichedEmail] = "custom@acme.example"
		return out, err
	}))
	res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	if out := res.object(t)["outputs"].(map[string]any); out[ColumnEnrichedEmail] != "custom@acme.example" {
		t.Errorf("outputs = %v", out)
	}
	if got := <-reqs; got.WorkspaceID != "ws_abc123" || got.Grid.ID != "grid_001" || len(got.Grid.Columns) != 4 || got.Inputs[ColumnCompany] != "Acme Corp" {
		t.Errorf("enricher got %+v", got)
	}
}

func TestDefaultEnricherFallbacks(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	run := func(site string) map[string]any {
		body := map[string]any{"inputs": map[string]any{"5d1e8c3a-2f47-4b69-8a0c-1e2f3a4b5c6d": site}}
		res := send(t, s, "POST", "grids/grid_002/run", "ws_def456", body)
		if res.status != 200 {
			t.Fatalf("status %d; body %s", res.status, res.body)
		}
		return res.object(t)["outputs"].(map[string]any)
	}
	a, b, c := run("https://acme.example"), run("https://acme.example"), run("https://globex.example")
	if _, ok := a["6e2f9d4b-3a58-4c7a-9b1d-2f3a4b5c6d7e"].(string); !ok {
		t.Errorf("Industry = %#v, want a string", a["6e2f9d4b-3a58-4c7a-9b1d-2f3a4b5c6d7e"])
	}
	if n, ok := a["7f3a0e5c-4b69-4d8b-8c2e-3a4b5c6d7e8f"].(float64); !ok || n != float64(int(n)) {
		t.Errorf("Employee Count = %#v, want a whole number", a["7f3a0e5c-4b69-4d8b-8c2e-3a4b5c6d7e8f"])
	}
	if _, ok := a["8a4b1f6d-5c7a-4e9c-9d3f-4b5c6d7e8f90"].(bool); !ok {
		t.Errorf("Publicly Traded = %#v, want a boolean", a["8a4b1f6d-5c7a-4e9c-9d3f-4b5c6d7e8f90"])
	}
	if d, _ := a["9b5c2a7e-6d8b-4fad-8e4a-5c6d7e8f9012"].(string); !isDate(d) {
		t.Errorf("Founded = %#v, want a date", a["9b5c2a7e-6d8b-4fad-8e4a-5c6d7e8f9012"])
	}
	if !mapsEqual(a, b) {
		t.Errorf("same inputs, different outputs:\n%v\n%v", a, b)
	}
	if mapsEqual(a, c) {
		t.Errorf("different inputs, same outputs: %v", a)
	}

	// Generic url and email columns, and an email without a company.
	out, _ := DefaultEnricher(context.Background(), EnrichRequest{
		Grid: Grid{Columns: []Column{
			{ID: "n", Name: "Contact Name", Type: TypeText, IsInput: true},
			{ID: "site", Name: "Website", Type: TypeURL, IsOutput: true},
			{ID: "mail", Name: "Work Email", Type: TypeEmail, IsOutput: true},
		}},
		Inputs: map[string]any{"n": "José  O'Neil"},
	})
	if out["mail"] != "josé.oneil@example.com" {
		t.Errorf("email = %v", out["mail"])
	}
	if u, _ := out["site"].(string); !isHTTPURL(u) {
		t.Errorf("url = %v", out["site"])
	}
	out, _ = DefaultEnricher(context.Background(), EnrichRequest{
		Grid:   Grid{Columns: []Column{{ID: "mail", Name: "Email", Type: TypeEmail, IsOutput: true}}},
		Inputs: map[string]any{},
	})
	if e, _ := out["mail"].(string); !isEmail(e) {
		t.Errorf("email without a name = %v", out["mail"])
	}
}

func mapsEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestNumbersEchoedExactly(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if _, err := s.AddGrid("ws_abc123", Grid{ID: "g", Columns: []Column{{ID: "n", Type: TypeNumber, IsInput: true}}}); err != nil {
		t.Fatal(err)
	}
	res := send(t, s, "POST", "grids/g/run", "ws_abc123", `{"inputs":{"n":12345678901234567890}}`)
	if !strings.Contains(string(res.body), `"n":12345678901234567890`) {
		t.Errorf("big number not echoed verbatim: %s", res.body)
	}
}

func TestSyncLatency(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithSyncLatency(100*time.Millisecond))
	start := time.Now()
	send(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync"))
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("sync run answered after %v, before its latency", d)
	}
}

func TestRunRefusesLocalWebhookURLs(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithRunDurations(time.Hour, 0))
	for _, hook := range []string{
		"https://localhost/h", "https://LOCALHOST./h", "https://hooks.localhost/h",
		"https://127.0.0.1/h", "https://127.8.9.10:8443/h", "https://[::1]/h", "https://0.0.0.0/h", "https://[::]/h",
		"https://10.1.2.3/h", "https://172.16.0.1/h", "https://172.31.255.255/h", "https://192.168.1.1/h",
		"https://[fd00::1]/h", "https://169.254.169.254/latest", "https://[fe80::1]/h", "https://[::ffff:127.0.0.1]/h",
		"https://2130706433/h", "https://127.1/h", "https://0x7f.1/h",
	} {
		body := janeDoe("async")
		body["webhook_url"] = hook
		msg := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", body).wantError(t, 422, CodeWebhookDeliveryFailed)
		if !strings.Contains(msg, "localhost and private addresses are not supported") {
			t.Errorf("%s: message %q does not say why", hook, msg)
		}
	}
	for _, hook := range []string{"https://hooks.example.com/h", "https://172.32.0.1/h", "https://8.8.8.8/h", "https://[2001:db8::1]/h", "https://v1.example/h?x=127.0.0.1"} {
		body := janeDoe("async")
		body["webhook_url"] = hook
		if res := send(t, s, "POST", "grids/grid_001/run", "ws_abc123", body); res.status != 201 {
			t.Errorf("%s: status %d, body %s", hook, res.status, res.body)
		}
	}
	if n := len(s.Runs()); n != 5 {
		t.Errorf("%d runs recorded, want only the 5 with public URLs", n)
	}

	// WithLocalWebhooks lets them through, and plain http too.
	local := newServer(t, WithLocalWebhooks(), WithRunDurations(time.Hour, 0))
	for _, hook := range []string{"http://127.0.0.1:1/h", "https://localhost/h", "http://10.0.0.1/h"} {
		body := janeDoe("async")
		body["webhook_url"] = hook
		if res := send(t, local, "POST", "grids/grid_001/run", "ws_abc123", body); res.status != 201 {
			t.Errorf("with local webhooks, %s: status %d, body %s", hook, res.status, res.body)
		}
	}
}
