package fakeserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Run modes and statuses, as the reference names them.
const (
	ModeSync  = "sync"
	ModeAsync = "async"

	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Run is a run the fake accepted, sync or async, as Runs reports it.
type Run struct {
	ID            string // sync runs get one too, though the API does not show it
	GridID        string
	WorkspaceID   string
	Mode          string         // ModeSync or ModeAsync
	Status        string         // one of the Status constants
	Inputs        map[string]any // as sent; JSON numbers are json.Number
	OutputColumns []string
	WebhookURL    string
	Outputs       map[string]any // as answered, after OutputColumns filtering
	Credits       int            // credits charged: the run cost once completed, else 0
	Remaining     int            // the workspace's credits left after the charge
	Error         *RunError      // why a failed run failed
	CreatedAt     time.Time
	StartedAt     time.Time
	CompletedAt   time.Time
}

// RunError is why a run failed. An enricher may return one to choose the
// code of the failed run's error.
type RunError struct {
	Code    string
	Message string
}

// Error returns the code and the message.
func (e *RunError) Error() string { return e.Code + ": " + e.Message }

// run is a Run with the fake's bookkeeping.
type run struct {
	Run
	durations runDurations
	polled    string        // the status a poll last answered
	poll      chan struct{} // closed and replaced when a poll is answered
}

// SetEnricher replaces the function that computes run outputs; nil
// restores DefaultEnricher. Runs already running keep the one they had.
func (s *Server) SetEnricher(e Enricher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enricher = e
}

// SetRunCost sets the credits a completed run costs; a negative cost
// counts as zero.
func (s *Server) SetRunCost(credits int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runCost = max(credits, 0)
}

// SetRunDurations sets how long async runs accepted from now on stay
// queued, then running, unless their grid has its own durations
// (SetGridRunDurations). Negative durations count as zero.
func (s *Server) SetRunDurations(queued, running time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.durations = runDurations{queued: queued, running: running}
}

// Runs returns every run accepted so far, oldest first.
func (s *Server) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Run, len(s.runOrder))
	for i, id := range s.runOrder {
		out[i] = s.runs[id].snapshot()
	}
	return out
}

// Run returns the run with the given ID and whether it exists.
func (s *Server) Run(id string) (Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok {
		return Run{}, false
	}
	return r.snapshot(), true
}

func (r *run) snapshot() Run {
	c := r.Run
	c.Inputs = maps.Clone(r.Inputs)
	c.Outputs = maps.Clone(r.Outputs)
	c.OutputColumns = slices.Clone(r.OutputColumns)
	if r.Error != nil {
		e := *r.Error
		c.Error = &e
	}
	return c
}

// runRequest is the body of POST /grids/{id}/run.
type runRequest struct {
	Mode          string          `json:"mode"`
	RawInputs     json.RawMessage `json:"inputs"`
	OutputColumns []string        `json:"output_columns"`
	WebhookURL    string          `json:"webhook_url"`

	inputs map[string]any
}

// runGrid serves POST /grids/{gridId}/run.
func (s *Server) runGrid(w http.ResponseWriter, c *call) {
	g, req, err := s.readRunRequest(c)
	if err != nil {
		writeError(w, err)
		return
	}
	r, err := s.accept(g, req)
	if err != nil {
		writeError(w, err)
		return
	}
	if r.Mode == ModeAsync {
		writeJSON(w, http.StatusCreated, runJSON{
			Mode:    ModeAsync,
			RunID:   r.ID,
			Status:  StatusQueued,
			PollURL: s.base + "grids/" + url.PathEscape(r.GridID) + "/runs/" + r.ID,
		})
		return
	}
	// The sync result is the poll response without the async-only fields.
	j := s.resultJSON(s.runSync(r.ID))
	writeJSON(w, http.StatusOK, runJSON{Mode: ModeSync, Status: j.Status, Outputs: j.Outputs, Credits: j.Credits, Error: j.Error})
}

// readRunRequest checks everything about a run request that does not
// depend on the workspace's balance: scoping, body and inputs.
func (s *Server) readRunRequest(c *call) (grid, runRequest, *apiError) {
	var req runRequest
	g, err := s.scopedGrid(c.r, c.args[0])
	if err != nil {
		return g, req, err
	}
	if mt, _, perr := mime.ParseMediaType(c.r.Header.Get("Content-Type")); perr != nil || mt != "application/json" {
		return g, req, errorf(CodeInvalidRequest, "Content-Type must be application/json")
	}
	if req, err = parseRunRequest(c.body, c.bodyErr); err != nil {
		return g, req, err
	}
	if err := req.validate(g.Grid); err != nil {
		return g, req, err
	}
	return g, req, s.checkWebhookURL(req)
}

// checkWebhookURL refuses, as BitScale does, an async run's webhook_url it
// would not deliver to: one that is not https://, or that points at
// localhost or a loopback, unspecified, private or link-local address.
// The reference documents no code for this; WEBHOOK_DELIVERY_FAILED, "the
// provided webhook_url was unreachable", is the one that says it, and the
// fake answers it before running anything, so that no credits are spent
// on a run whose result could not be delivered. WithLocalWebhooks lets
// http:// and local hosts through, for receivers in tests.
func (s *Server) checkWebhookURL(req runRequest) *apiError {
	if req.Mode != ModeAsync || req.WebhookURL == "" || s.localWebhooks {
		return nil
	}
	u, _ := url.Parse(req.WebhookURL) // validate checked it parses
	if u.Scheme != "https" {
		return errorf(CodeWebhookDeliveryFailed, "webhook_url %q must be a publicly accessible https:// URL; http:// is not supported", req.WebhookURL)
	}
	if localHost(u.Hostname()) {
		return errorf(CodeWebhookDeliveryFailed, "webhook_url %q must be a publicly accessible https:// URL; localhost and private addresses are not supported", req.WebhookURL)
	}
	return nil
}

// localHost reports whether host is localhost or an IP address that is
// loopback, unspecified, private or link-local, or a numeric host that
// resolvers read as an IPv4 address.
func localHost(host string) bool {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(name)
	if err != nil {
		last := name[strings.LastIndex(name, ".")+1:]
		return last != "" && strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsUnspecified() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}

func parseRunRequest(body []byte, bodyErr error) (runRequest, *apiError) {
	var req runRequest
	if bodyErr != nil {
		return req, errorf(CodeInvalidRequest, "reading request body: %v", bodyErr)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return req, errorf(CodeInvalidRequest, "request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errorf(CodeInvalidRequest, "request body is not valid JSON: data after the object")
	}
	switch req.Mode {
	case "":
		req.Mode = ModeSync
	case ModeSync, ModeAsync:
	default:
		return req, errorf(CodeInvalidRequest, `mode must be "sync" or "async", not %q`, req.Mode)
	}
	if len(req.RawInputs) == 0 || string(req.RawInputs) == "null" {
		return req, errorf(CodeMissingRequiredField, "missing required field: inputs")
	}
	dec = json.NewDecoder(bytes.NewReader(req.RawInputs))
	dec.UseNumber()
	if err := dec.Decode(&req.inputs); err != nil || req.inputs == nil {
		return req, errorf(CodeInvalidRequest, "inputs must be an object mapping column IDs to values")
	}
	return req, nil
}

// validate checks the request against the grid's columns.
func (req *runRequest) validate(g Grid) *apiError {
	cols := make(map[string]Column, len(g.Columns))
	for _, col := range g.Columns {
		cols[col.ID] = col
	}
	for _, id := range slices.Sorted(maps.Keys(req.inputs)) {
		col, ok := cols[id]
		if !ok {
			return errorf(CodeInvalidRequest, "inputs: grid %s has no column %q", g.ID, id)
		}
		if !col.IsInput {
			return errorf(CodeInvalidColumnType, "inputs: column %q (%s) is not an input column", col.Name, id)
		}
		if v := req.inputs[id]; v != nil {
			if msg := checkValue(col.Type, v); msg != "" {
				return errorf(CodeInvalidColumnType, "inputs: column %q (%s) of type %s %s", col.Name, id, col.Type, msg)
			}
		}
	}
	for _, col := range g.Columns {
		if col.IsInput && col.Required && isEmpty(req.inputs[col.ID]) {
			return errorf(CodeMissingRequiredField, "missing required input column %q (%s)", col.Name, col.ID)
		}
	}
	for _, id := range req.OutputColumns {
		if _, ok := cols[id]; !ok {
			return errorf(CodeInvalidRequest, "output_columns: grid %s has no column %q", g.ID, id)
		}
	}
	// The reference ignores webhook_url in sync mode, so only async checks it.
	if req.Mode == ModeAsync && req.WebhookURL != "" && !isHTTPURL(req.WebhookURL) {
		return errorf(CodeWebhookDeliveryFailed, "webhook_url %q is not an absolute http or https URL", req.WebhookURL)
	}
	return nil
}

// checkValue returns what is wrong with an input value for a column type,
// or "" if nothing is.
func checkValue(typ string, v any) string {
	switch typ {
	case TypeNumber:
		if _, ok := v.(json.Number); !ok {
			return "needs a JSON number"
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return "needs true or false"
		}
	case TypeText, TypeURL, TypeEmail, TypeDate:
		s, ok := v.(string)
		switch {
		case !ok:
			return "needs a JSON string"
		case typ == TypeURL && !isHTTPURL(s):
			return "needs an absolute http or https URL"
		case typ == TypeEmail && !isEmail(s):
			return "needs an email address"
		case typ == TypeDate && !isDate(s):
			return "needs an ISO 8601 date (YYYY-MM-DD or RFC 3339)"
		}
	}
	return ""
}

func isEmpty(v any) bool {
	s, isString := v.(string)
	return v == nil || isString && strings.TrimSpace(s) == ""
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@")
}

func isDate(s string) bool {
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return true
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// accept records a run if the workspace's quota and credits allow it, and
// starts an async one. The credits are charged only when the run completes.
func (s *Server) accept(g grid, req runRequest) (Run, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspaces[g.workspaceID]
	if ws.quota == 0 {
		return Run{}, errorf(CodeRunLimitExceeded, "workspace %s has reached its grid run quota", ws.ID)
	}
	if ws.Credits.Remaining < s.runCost {
		return Run{}, errorf(CodeInsufficientCredits, "workspace %s has %d credits; a run needs %d", ws.ID, ws.Credits.Remaining, s.runCost)
	}
	if ws.quota > 0 {
		ws.quota--
	}
	r := &run{Run: Run{
		ID:            "run_" + randomHex(8),
		GridID:        g.ID,
		WorkspaceID:   g.workspaceID,
		Mode:          req.Mode,
		Status:        StatusQueued,
		Inputs:        req.inputs,
		OutputColumns: req.OutputColumns,
		CreatedAt:     s.now(),
	}}
	if req.Mode == ModeAsync {
		r.WebhookURL = req.WebhookURL
	}
	r.durations = s.durations
	r.poll = make(chan struct{})
	if d := s.grids[g.ID].durations; d != nil {
		r.durations = *d
	}
	s.runs[r.ID] = r
	s.runOrder = append(s.runOrder, r.ID)
	if r.Mode == ModeAsync && !s.closed {
		s.workers.Add(1)
		go s.work(r.ID)
	}
	return r.snapshot(), nil
}

// runSync carries a sync run through, in the request's goroutine. It uses
// the server's context, not the request's: like the real service, the fake
// finishes (and charges) a run whose client stopped waiting.
func (s *Server) runSync(id string) Run {
	s.start(id)
	if !s.wait(s.ctx, s.syncLatency) {
		return s.finish(id, nil, &RunError{Code: CodeInternalError, Message: "the server shut down during the run"})
	}
	outputs, err := s.enrich(s.ctx, id)
	return s.finish(id, outputs, err)
}

// work carries an async run through its stages, then delivers its webhook.
func (s *Server) work(id string) {
	defer s.workers.Done()
	s.mu.Lock()
	d := s.runs[id].durations
	s.mu.Unlock()

	if !s.wait(s.ctx, d.queued) || !s.polledAs(id, StatusQueued) {
		return
	}
	s.start(id)
	if !s.wait(s.ctx, d.running) || !s.polledAs(id, StatusRunning) {
		return
	}
	outputs, err := s.enrich(s.ctx, id)
	r := s.finish(id, outputs, err)
	if r.WebhookURL != "" {
		s.deliver(r)
	}
}

// polledAs waits, with WithPolledStages, until a poll of the run has been
// answered with status. It reports false, early, if the server closes.
func (s *Server) polledAs(id, status string) bool {
	for {
		s.mu.Lock()
		r := s.runs[id]
		if !s.polledStages || r.polled == status {
			s.mu.Unlock()
			return true
		}
		poll := r.poll
		s.mu.Unlock()
		select {
		case <-poll:
		case <-s.ctx.Done():
			return false
		}
	}
}

func (s *Server) start(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	r.Status = StatusRunning
	r.StartedAt = s.now()
}

// enrich calls the enricher on a run's inputs.
func (s *Server) enrich(ctx context.Context, id string) (map[string]any, error) {
	s.mu.Lock()
	r := s.runs[id]
	req := EnrichRequest{
		WorkspaceID: r.WorkspaceID,
		Grid:        cloneGrid(s.grids[r.GridID].Grid),
		Inputs:      maps.Clone(r.Inputs),
	}
	e := s.enricher
	s.mu.Unlock()

	if e == nil {
		e = DefaultEnricher
	}
	outputs, err := e(ctx, req)
	if err != nil {
		return nil, err
	}
	if _, err := json.Marshal(outputs); err != nil {
		return nil, err
	}
	return outputs, nil
}

// finish ends a run. It fails if err is not nil, with err's code if err
// is a *RunError and ENRICHMENT_FAILED otherwise, or if the workspace no
// longer has the credits; else it completes and is charged.
func (s *Server) finish(id string, outputs map[string]any, err error) Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	ws := s.workspaces[r.WorkspaceID]
	r.CompletedAt = s.now()
	var re *RunError
	switch {
	case errors.As(err, &re):
		r.fail(re.Code, re.Message)
	case err != nil:
		r.fail(CodeEnrichmentFailed, err.Error())
	case ws.Credits.Remaining < s.runCost:
		r.fail(CodeInsufficientCredits, "the workspace ran out of credits during the run")
	default:
		ws.Credits.Remaining -= s.runCost
		ws.Credits.Used += s.runCost
		r.Status = StatusCompleted
		r.Credits, r.Remaining = s.runCost, ws.Credits.Remaining
		r.Outputs = filterOutputs(outputs, r.OutputColumns)
	}
	return r.snapshot()
}

func (r *run) fail(code, msg string) {
	r.Status = StatusFailed
	r.Error = &RunError{Code: code, Message: msg}
}

// filterOutputs keeps the requested columns; with none requested it keeps
// them all.
func filterOutputs(outputs map[string]any, keep []string) map[string]any {
	out := make(map[string]any)
	for k, v := range outputs {
		if len(keep) == 0 || slices.Contains(keep, k) {
			out[k] = v
		}
	}
	return out
}

// getRun serves GET /grids/{gridId}/runs/{runId}.
func (s *Server) getRun(w http.ResponseWriter, c *call) {
	g, err := s.scopedGrid(c.r, c.args[0])
	if err != nil {
		writeError(w, err)
		return
	}
	r, ok := s.polled(g.ID, c.args[1])
	if !ok {
		writeError(w, errorf(CodeRunNotFound, "no run %q for grid %s", c.args[1], g.ID))
		return
	}
	writeJSON(w, http.StatusOK, s.resultJSON(r))
}

// polled returns the run of the grid with id, as Run does, and notes that
// a poll was answered with its status.
func (s *Server) polled(gridID, id string) (Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok || r.GridID != gridID {
		return Run{}, false
	}
	r.polled = r.Status
	close(r.poll)
	r.poll = make(chan struct{})
	return r.snapshot(), true
}

// resultJSON is a run as the poll response and the webhook show it.
func (s *Server) resultJSON(r Run) runJSON {
	j := runJSON{
		RunID:       r.ID,
		GridID:      r.GridID,
		Status:      r.Status,
		StartedAt:   stamp(r.StartedAt),
		CompletedAt: stamp(r.CompletedAt),
	}
	switch r.Status {
	case StatusCompleted:
		j.Outputs = r.Outputs
		j.Credits = &runCreditsJSON{Consumed: r.Credits, Remaining: r.Remaining}
	case StatusFailed:
		if s.runErrorString {
			j.Error = r.Error.Message
		} else {
			j.Error = runErrorJSON{Code: r.Error.Code, Message: r.Error.Message}
		}
	}
	return j
}
