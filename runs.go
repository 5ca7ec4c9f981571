package bitscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// RunMode is how a run executes.
type RunMode string

// The run modes.
const (
	ModeSync  RunMode = "sync"  // the request waits for the outputs
	ModeAsync RunMode = "async" // the request returns a run to poll
)

// RunStatus is the state of a run.
type RunStatus string

// The run statuses the API documents.
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed"
)

// Done reports whether the status is final: completed or failed. A status
// this SDK does not know is not final, so that a newer API's intermediate
// states are waited through.
func (s RunStatus) Done() bool { return s == RunCompleted || s == RunFailed }

// Run is a grid run: the answer to a sync run, the acceptance of an async
// run, the answer to polling it, and the payload of its webhook, which the
// API gives in one shape. Fields the answer does not carry are zero.
type Run struct {
	ID          string         `json:"run_id"`
	GridID      string         `json:"grid_id,omitempty"`
	Mode        RunMode        `json:"mode,omitempty"`
	Status      RunStatus      `json:"status"`
	PollURL     string         `json:"poll_url,omitempty"`
	Outputs     map[string]any `json:"outputs,omitempty"` // column ID to value
	Credits     *Credits       `json:"credits,omitempty"`
	Error       *RunError      `json:"error,omitempty"`
	StartedAt   *time.Time     `json:"started_at,omitempty"`
	CompletedAt *time.Time     `json:"completed_at,omitempty"`

	// WebhookRef ties a run to the request that started it even when the
	// answer to that request was lost. RunAsync sets it to the random ref
	// it added to the webhook URL's query as WebhookRefParam; ParseWebhook
	// and WebhookHandler set it to the ref in the delivery URL's query. It
	// is not part of the API's JSON, and the webhook signature does not
	// cover it: it matches a delivery to its call, it proves nothing.
	WebhookRef string `json:"-"`
}

// Credits is what a run cost.
type Credits struct {
	Consumed  int `json:"consumed"`  // credits this run used
	Remaining int `json:"remaining"` // credits left in the workspace after it
}

// ErrRunFailed is matched by the error for a run that ended failed; the
// error is a *RunError with the run's own error.
var ErrRunFailed = errors.New("bitscale: run failed")

var (
	errNoRunID  = errors.New("the accepted run has no run_id")
	errNoStatus = errors.New("the answer has no run status")
)

// RunError is why a run failed. The API does not fix the shape of a run's
// "error" field: a string becomes Message, and an object gives Code and
// Message (or "error", "detail" or "description" when it has no message).
type RunError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// Error returns the code and message.
func (e *RunError) Error() string {
	if e.Code == "" {
		return "bitscale: run failed: " + e.Message
	}
	return "bitscale: run failed: " + e.Code + ": " + e.Message
}

// Is reports whether target is ErrRunFailed, or the sentinel of e's Code
// when it is one the API documents: a run can fail for lack of credits, for
// one, after it was accepted.
func (e *RunError) Is(target error) bool {
	return target == ErrRunFailed || target != nil && codeErrors[e.Code] == target
}

// UnmarshalJSON accepts a string or an object.
func (e *RunError) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*e = RunError{Message: s}
		return nil
	}
	var o struct {
		Code        any    `json:"code"`
		Message     string `json:"message"`
		Error       string `json:"error"`
		Detail      string `json:"detail"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("run error is neither a string nor an object: %w", err)
	}
	*e = RunError{Message: o.Message}
	if o.Code != nil {
		e.Code = fmt.Sprint(o.Code) // a code may be a number
	}
	for _, alt := range []string{o.Error, o.Detail, o.Description} {
		if e.Message == "" {
			e.Message = alt
		}
	}
	return nil
}

// finalErr returns the error of a run that ended: its failure, or nil.
func (r *Run) finalErr() error {
	if r.Status == RunFailed {
		return r.failure()
	}
	return nil
}

// failure returns the error for a run that ended failed.
func (r *Run) failure() error {
	if r.Error != nil {
		return r.Error
	}
	return &RunError{Message: "no reason given"}
}

// Get returns the current state of an asynchronous run (GET
// /grids/{id}/runs/{runId}). It returns ErrNoWorkspace or an *ArgumentError
// before any request when the client has no workspace or an ID is empty,
// and a *DecodeError for an answer with no run status.
func (s *RunsService) Get(ctx context.Context, gridID, runID string) (*Run, *Response, error) {
	grid, err := s.client.Grids.gridSegment(gridID)
	if err != nil {
		return nil, nil, err
	}
	run, err := segment("runID", runID)
	if err != nil {
		return nil, nil, err
	}
	r, resp, err := send[Run](ctx, s.client, http.MethodGet, "grids/"+grid+"/runs/"+run, nil)
	if err == nil && r.Status == "" {
		// Polled on, it would never end.
		err = &DecodeError{Method: http.MethodGet, Path: resp.Request.URL.EscapedPath(), StatusCode: resp.StatusCode, Err: errNoStatus}
	}
	return r, resp, err
}

// PollOptions sets how Runs.PollUntilDone waits. The zero value and nil use
// the defaults.
type PollOptions struct {
	// Interval is the first wait between polls (default 500ms); each wait
	// is Multiplier (default 1.5; 1 keeps it fixed) times the last, up to
	// MaxInterval (default 5s), give or take Jitter (default 0.1, a
	// fraction of the wait; negative for none), so that many pollers
	// spread out.
	Interval    time.Duration
	Multiplier  float64
	MaxInterval time.Duration
	Jitter      float64

	// OnUpdate, if set, is called with the run each time its status
	// changes, the first answer included.
	OnUpdate func(*Run)
}

// Defaults of PollOptions.
const (
	DefaultPollInterval    = 500 * time.Millisecond
	DefaultPollMultiplier  = 1.5
	DefaultPollMaxInterval = 5 * time.Second
	DefaultPollJitter      = 0.1
)

func (o *PollOptions) withDefaults() PollOptions {
	var p PollOptions
	if o != nil {
		p = *o
	}
	if p.Interval <= 0 {
		p.Interval = DefaultPollInterval
	}
	if !(p.Multiplier >= 1 && p.Multiplier <= 100) { // NaN fails too
		p.Multiplier = DefaultPollMultiplier
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = DefaultPollMaxInterval
	}
	p.MaxInterval = max(p.MaxInterval, p.Interval)
	switch {
	case p.Jitter < 0:
		p.Jitter = 0
	case !(p.Jitter > 0 && p.Jitter < 1): // zero, NaN, or too much
		p.Jitter = DefaultPollJitter
	}
	return p
}

// minPollWait keeps a poller from spinning on a wait that rounds to zero.
const minPollWait = time.Millisecond

// PollUntilDone polls a run until it ends. It returns the run and nil when
// it completed, and the run with a *RunError matching ErrRunFailed when it
// failed. A transient failure to poll (no connection, 429, 5xx) is waited
// through; any other error ends the wait and is returned with the last run
// seen. A Retry-After on a poll answer sets the next wait. When ctx ends it
// returns at once with the context's error.
func (s *RunsService) PollUntilDone(ctx context.Context, gridID, runID string, opts *PollOptions) (*Run, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	if _, err := s.client.Grids.gridSegment(gridID); err != nil {
		return nil, err
	}
	if _, err := segment("runID", runID); err != nil {
		return nil, err
	}
	hub := s.client.core.wake.Load()
	var wake *wakeEntry
	if hub != nil {
		wake = hub.watch(runID)
		defer hub.release(runID)
		if wake.expected && (opts == nil || opts.Interval == 0) {
			fallback := PollOptions{Interval: WebhookPollInterval, MaxInterval: WebhookPollMaxInterval}
			if opts != nil {
				fallback.Multiplier, fallback.Jitter, fallback.OnUpdate = opts.Multiplier, opts.Jitter, opts.OnUpdate
			}
			opts = &fallback
		}
	}
	o := opts.withDefaults()
	var last *Run
	interval := o.Interval
	for {
		if run := hub.delivered(wake); run != nil {
			if run.Status.Done() {
				if o.OnUpdate != nil && (last == nil || last.Status != run.Status) {
					o.OnUpdate(run)
				}
				return run, run.finalErr()
			}
			wake = nil // a delivery of a run not ended; poll on
		}
		run, resp, err := s.Get(ctx, gridID, runID)
		switch {
		case ctx.Err() != nil:
			return last, fmt.Errorf("bitscale: waiting for run %s: %w", runID, ctx.Err())
		case err != nil && !pollTransient(err):
			return last, err
		case err == nil:
			if o.OnUpdate != nil && (last == nil || last.Status != run.Status) {
				o.OnUpdate(run)
			}
			last = run
			if run.Status == RunFailed {
				return run, run.failure()
			}
			if run.Status.Done() {
				return run, nil
			}
		}
		wait := jitter(interval, o.Jitter)
		if resp != nil {
			if d := retryAfter(resp.Header, time.Now()); d > 0 {
				wait = min(d, s.client.core.gate.maxWait)
			}
		}
		if err := sleep(ctx, max(wait, minPollWait), wake.woken()); err != nil {
			return last, fmt.Errorf("bitscale: waiting for run %s: %w", runID, err)
		}
		interval = time.Duration(min(float64(interval)*o.Multiplier, float64(o.MaxInterval)))
	}
}

// pollTransient reports whether a failed poll is worth repeating: no
// answer at all, a 429 or a 5xx.
func pollTransient(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500
	}
	var decErr *DecodeError
	var argErr *ArgumentError
	if errors.As(err, &decErr) || errors.As(err, &argErr) || errors.Is(err, ErrNoWorkspace) {
		return false
	}
	return transient(err) // not a certificate error, say
}

// jitter spreads d by up to ±frac of itself.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}
