package bitscale

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-querystring/query"
)

// ColumnType is the data type of a grid column.
type ColumnType string

// The column types the API documents.
const (
	ColumnText         ColumnType = "text"          // plain text
	ColumnNumber       ColumnType = "number"        // integer or float
	ColumnURL          ColumnType = "url"           // a URL string
	ColumnEmail        ColumnType = "email"         // an email address
	ColumnDate         ColumnType = "date"          // an ISO 8601 date string
	ColumnBoolean      ColumnType = "boolean"       // true or false
	ColumnAIEnrichment ColumnType = "ai_enrichment" // filled by a BitScale AI agent
	ColumnFormula      ColumnType = "formula"       // computed from other columns
)

// Visibility is a grid's access scope.
type Visibility string

// The grid visibilities the API documents.
const (
	VisibilityWorkspace Visibility = "workspace"
	VisibilityPrivate   Visibility = "private"
	VisibilityPublic    Visibility = "public"
)

// GridSummary is a grid as listed by GridsService.List.
type GridSummary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	RowCount    int       `json:"row_count"`
	ColumnCount int       `json:"column_count"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// GridList is the answer of GridsService.List.
type GridList struct {
	Grids []GridSummary `json:"grids"`
	Total int           `json:"total"` // grids matching the search
}

// Grid is a grid with its settings and column definitions.
type Grid struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Settings    GridSettings `json:"settings"`
	Columns     []Column     `json:"columns"`
	RowCount    int          `json:"row_count"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// GridSettings is a grid's configuration.
type GridSettings struct {
	RowLimit   int        `json:"row_limit"`
	AutoRun    bool       `json:"auto_run"` // runs on every new row
	Visibility Visibility `json:"visibility"`
}

// Column defines a grid column. Its ID, a UUID, is the key of the column in
// RunRequest.Inputs, RunRequest.OutputColumns and Run.Outputs.
type Column struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Type     ColumnType `json:"type"`
	IsInput  bool       `json:"is_input"`
	IsOutput bool       `json:"is_output"`
	Required bool       `json:"required"`
}

// GridListOptions filters GridsService.List.
type GridListOptions struct {
	// Search keeps the grids whose name contains it, ignoring case.
	Search string `url:"search,omitempty"`
}

// RunRequest is the input of a grid run.
type RunRequest struct {
	// Inputs maps input column IDs to their values.
	Inputs map[string]any `json:"inputs"`
	// OutputColumns limits Run.Outputs to these column IDs; empty returns
	// every column.
	OutputColumns []string `json:"output_columns,omitempty"`
	// WebhookURL receives the run's result when an asynchronous run ends.
	// RunAsync only. BitScale delivers only to a public https:// URL, so
	// RunAsync refuses, before sending, one that is plain http:// or points
	// at localhost or a loopback, unspecified, private or link-local IP
	// address, unless the client's base URL is itself on loopback (a fake
	// server, which can deliver there). RunAsync adds WebhookRefParam to
	// the URL's query; the URL must not carry it already.
	WebhookURL string `json:"webhook_url,omitempty"`
}

// List returns the grids of a workspace (GET /workspaces/{id}/grids), sent
// with that workspace as its workspace-id. An empty workspaceID means the
// client's workspace. opts may be nil.
func (s *GridsService) List(ctx context.Context, workspaceID string, opts *GridListOptions) (*GridList, *Response, error) {
	c := s.client
	if workspaceID == "" {
		if err := c.needWorkspace(); err != nil {
			return nil, nil, err
		}
		workspaceID = c.workspaceID
	}
	id, err := segment("workspaceID", workspaceID)
	if err != nil {
		return nil, nil, err
	}
	path := "workspaces/" + id + "/grids"
	if opts != nil {
		v, err := query.Values(opts)
		if err != nil {
			return nil, nil, &ArgumentError{Name: "opts", Reason: err.Error()}
		}
		if q := v.Encode(); q != "" {
			path += "?" + q
		}
	}
	if workspaceID != c.workspaceID {
		c = c.ForWorkspace(workspaceID)
	}
	return send[GridList](ctx, c, http.MethodGet, path, nil)
}

// Get returns a grid with its settings and columns (GET /grids/{id}). It
// returns ErrNoWorkspace or an *ArgumentError before any request when the
// client has no workspace or gridID is empty.
func (s *GridsService) Get(ctx context.Context, gridID string) (*Grid, *Response, error) {
	id, err := s.gridSegment(gridID)
	if err != nil {
		return nil, nil, err
	}
	return send[Grid](ctx, s.client, http.MethodGet, "grids/"+id, nil)
}

// Run runs a grid on one row and waits for its outputs (POST
// /grids/{id}/run in sync mode). A run that ends failed is returned with an
// error matching ErrRunFailed. If the API answers before the run ends
// (status queued or running), Run polls it to its end.
//
// The run spends credits, and the API has no idempotency key, so it is sent
// again only when the server surely did not start it (429, or no
// connection made). When that is not certain the error matches
// ErrOutcomeUnknown. Bad arguments are refused with an *ArgumentError
// before any request.
func (s *GridsService) Run(ctx context.Context, gridID string, req *RunRequest) (*Run, *Response, error) {
	return s.runSync(ctx, gridID, req, nil)
}

// runSync is Run. When the API answers before the run ends, accepted, if
// set, hears of the run's ID before Run follows it; if it fails, the run
// is not followed.
func (s *GridsService) runSync(ctx context.Context, gridID string, req *RunRequest, accepted func(runID string) error) (*Run, *Response, error) {
	run, resp, err := s.run(ctx, gridID, req, ModeSync)
	if err != nil {
		return run, resp, err
	}
	if run.Status == RunQueued || run.Status == RunRunning {
		// The API answered before the run ended: follow it to its end.
		if run.ID == "" {
			return run, resp, &OutcomeError{Err: fmt.Errorf("bitscale: sync run answered %q with no run_id to follow", run.Status),
				note: "it was accepted and may still run"}
		}
		if accepted != nil {
			if err := accepted(run.ID); err != nil {
				return run, resp, &OutcomeError{Err: err, RunID: run.ID}
			}
		}
		run, err = s.wait(ctx, gridID, run, nil)
		return run, resp, err
	}
	if run.Status == RunFailed {
		err = run.failure()
	}
	return run, resp, err
}

// RunAsync starts a grid run on one row and returns at once with the queued
// run, whose ID Runs.Get and Runs.PollUntilDone take (POST /grids/{id}/run in
// async mode). It is sent again only as Run is.
//
// When req.WebhookURL is set BitScale posts the result there. RunAsync adds
// a random ref to the URL's query as WebhookRefParam, keeping the rest of
// the URL as it is, and sets Run.WebhookRef to it; the delivery's run has
// the same WebhookRef. When the outcome is unknown, the *OutcomeError
// carries the ref, so that the run's delivery, if the run happened, can be
// matched to this call even though the answer was lost. req is not
// modified.
func (s *GridsService) RunAsync(ctx context.Context, gridID string, req *RunRequest) (*Run, *Response, error) {
	ref := ""
	if req != nil && req.WebhookURL != "" {
		if err := s.client.checkWebhookURL("req.WebhookURL", req.WebhookURL); err != nil {
			return nil, nil, err
		}
		ref = newWebhookRef()
		withRef := *req
		withRef.WebhookURL = addWebhookRef(req.WebhookURL, ref)
		req = &withRef
	}
	run, resp, err := s.run(ctx, gridID, req, ModeAsync)
	if err == nil && run.ID == "" {
		err = &DecodeError{Method: http.MethodPost, Path: resp.Request.URL.EscapedPath(),
			StatusCode: resp.StatusCode, Err: errNoRunID}
		err = &OutcomeError{Err: err, note: "it was accepted and may run, but cannot be followed"}
	}
	if run != nil {
		run.WebhookRef = ref
		if hub := s.client.core.wake.Load(); hub != nil && ref != "" && err == nil {
			hub.expect(run.ID) // its end comes by webhook: polls are a fallback
		}
	}
	var oe *OutcomeError
	if ref != "" && errors.As(err, &oe) {
		oe.WebhookRef = ref
	}
	return run, resp, err
}

// newWebhookRef returns a random ref of 16 bytes in hex: enough that no two
// runs share one.
func newWebhookRef() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// addWebhookRef returns raw with ref added to its query as WebhookRefParam.
// It appends to the URL as written, rather than re-encoding it, so that the
// rest of the URL reaches the receiver byte for byte.
func addWebhookRef(raw, ref string) string {
	rest, fragment, hasFragment := strings.Cut(raw, "#")
	switch {
	case !strings.Contains(rest, "?"):
		rest += "?"
	case !strings.HasSuffix(rest, "?") && !strings.HasSuffix(rest, "&"):
		rest += "&"
	}
	rest += WebhookRefParam + "=" + ref
	if hasFragment {
		rest += "#" + fragment
	}
	return rest
}

// RunAndWait starts an asynchronous run and polls it until it ends, as
// RunAsync and Runs.PollUntilDone do. opts may be nil.
//
// When waiting ends without the run's end (the context ended, or polling
// failed), it returns the run as last seen, or as accepted, so that its ID
// is not lost, and an error matching ErrOutcomeUnknown: the run was
// accepted and may still run and spend credits.
func (s *GridsService) RunAndWait(ctx context.Context, gridID string, req *RunRequest, opts *PollOptions) (*Run, error) {
	run, _, err := s.RunAsync(ctx, gridID, req)
	if err != nil {
		return run, err
	}
	return s.wait(ctx, gridID, run, opts)
}

// wait polls an accepted run until it ends. It returns the accepted run
// when no poll answered, and marks an error other than the run's own
// failure as leaving the run's outcome unknown.
func (s *GridsService) wait(ctx context.Context, gridID string, accepted *Run, opts *PollOptions) (*Run, error) {
	run, err := s.client.Runs.PollUntilDone(ctx, gridID, accepted.ID, opts)
	if run == nil {
		run = accepted
	}
	if run != accepted {
		run.WebhookRef = accepted.WebhookRef // polls do not carry it
	}
	if err != nil && !errors.Is(err, ErrRunFailed) {
		err = &OutcomeError{Err: err, RunID: accepted.ID, WebhookRef: accepted.WebhookRef}
	}
	return run, err
}

func (s *GridsService) run(ctx context.Context, gridID string, req *RunRequest, mode RunMode) (*Run, *Response, error) {
	id, err := s.gridSegment(gridID)
	if err != nil {
		return nil, nil, err
	}
	if err := req.check(mode); err != nil {
		return nil, nil, err
	}
	body := struct {
		Mode RunMode `json:"mode"`
		*RunRequest
	}{mode, req}
	return send[Run](ctx, s.client, http.MethodPost, "grids/"+id+"/run", &body)
}

// gridSegment returns a grid's ID escaped for a path, or why there is
// no path for it. Callers join the whole path at once, which allocates
// once.
func (s *GridsService) gridSegment(gridID string) (string, error) {
	if err := s.client.needWorkspace(); err != nil {
		return "", err
	}
	return segment("gridID", gridID)
}

// check refuses a request the API would refuse, or that would not do what
// its caller meant.
func (r *RunRequest) check(mode RunMode) error {
	switch {
	case r == nil:
		return &ArgumentError{Name: "req", Reason: "must not be nil"}
	case len(r.Inputs) == 0:
		return &ArgumentError{Name: "req.Inputs", Reason: "must hold at least one input column"}
	case mode == ModeSync && r.WebhookURL != "":
		return &ArgumentError{Name: "req.WebhookURL", Reason: "is only used by RunAsync; a sync run would ignore it"}
	}
	for id := range r.Inputs {
		if strings.TrimSpace(id) == "" {
			return &ArgumentError{Name: "req.Inputs", Reason: "has an empty column ID"}
		}
	}
	for _, id := range r.OutputColumns {
		if strings.TrimSpace(id) == "" {
			return &ArgumentError{Name: "req.OutputColumns", Reason: "has an empty column ID"}
		}
	}
	return nil
}

// checkWebhookURL refuses a webhook URL BitScale would not deliver to: one
// that is not an absolute https:// URL, or whose host is localhost or a
// loopback, unspecified, private or link-local IP address. It also refuses
// one that carries WebhookRefParam, which RunAsync adds.
func checkWebhookURL(name, raw string) error {
	u, err := parseWebhookURL(name, raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" {
		return &ArgumentError{Name: name, Reason: "must be an https:// URL: BitScale does not deliver webhooks to http://"}
	}
	if why := localHost(u.Hostname()); why != "" {
		return &ArgumentError{Name: name, Reason: "points at " + why + ": BitScale delivers webhooks only to a publicly accessible URL"}
	}
	return nil
}

// checkWebhookURL is checkWebhookURL, except that when the client's API is
// itself on loopback, as a fake server is, it lets through plain http://
// and local hosts, which such a server can deliver to.
func (c *Client) checkWebhookURL(name, raw string) error {
	if loopback(c.core.baseURL.Hostname()) {
		_, err := parseWebhookURL(name, raw)
		return err
	}
	return checkWebhookURL(name, raw)
}

// parseWebhookURL parses an absolute http(s) webhook URL without
// WebhookRefParam in its query.
func parseWebhookURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &ArgumentError{Name: name, Reason: "must be an absolute https:// URL"}
	}
	if u.Query().Has(WebhookRefParam) {
		return nil, &ArgumentError{Name: name, Reason: "must not carry the query parameter " + WebhookRefParam + ": RunAsync adds it"}
	}
	return u, nil
}

// localHost says what local place host names, or returns "" for a host
// that may be public. Only IP literals and the localhost names are judged:
// a DNS name's addresses are BitScale's to resolve.
func localHost(host string) string {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return "localhost"
	}
	ip, err := netip.ParseAddr(name)
	if err != nil {
		// Resolvers read "127.1" and "2130706433" as IPv4 addresses; no
		// public DNS name ends in a numeric label.
		last := name[strings.LastIndex(name, ".")+1:]
		if last != "" && strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
			return "a numeric host that is not a standard IP address"
		}
		return ""
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	}
	return ""
}
