package bitscale

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
)

// Errors of webhook verification.
var (
	ErrMissingSignature = errors.New("bitscale: webhook has no usable " + SignatureHeader + " (absent, or no SHA-256 digest in it)")
	ErrInvalidSignature = errors.New("bitscale: webhook signature does not match the payload")
	ErrWebhookTooLarge  = errors.New("bitscale: webhook body too large")
	ErrInvalidWebhook   = errors.New("bitscale: webhook payload is not a run")
	ErrNoWebhookSecret  = errors.New("bitscale: no webhook secret given")
)

// DefaultWebhookMaxBody bounds the webhook bodies ParseWebhook reads. A
// payload is one run's outputs, far smaller.
const DefaultWebhookMaxBody = 1 << 20

// SignWebhookPayload returns the signature of payload: the HMAC-SHA256 of the
// raw bytes keyed with secret, as lowercase hex.
func SignWebhookPayload(payload []byte, secret string) string {
	return hex.EncodeToString(mac(payload, secret))
}

func mac(payload []byte, secret string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(payload)
	return h.Sum(nil)
}

// VerifyWebhookSignature checks that signature is the HMAC-SHA256 of payload
// under one of secrets. Several secrets let a secret be rotated without
// dropping deliveries. signature may hold several signatures separated by
// commas or spaces, each hex (any case) or base64, with an optional
// "sha256=" prefix. Comparisons take constant time. It returns
// ErrMissingSignature, ErrNoWebhookSecret or ErrInvalidSignature.
func VerifyWebhookSignature(payload []byte, signature string, secrets ...string) error {
	sigs := parseSignatures(signature)
	if len(sigs) == 0 {
		return ErrMissingSignature
	}
	ok, keyed := false, false
	for _, secret := range secrets {
		if secret == "" {
			continue // an empty key would accept a signature anyone can make
		}
		keyed = true
		want := mac(payload, secret)
		for _, sig := range sigs {
			// Check every pair, not stopping at a match, so that the time
			// taken says nothing about which one matched.
			if hmac.Equal(sig, want) {
				ok = true
			}
		}
	}
	switch {
	case !keyed:
		return ErrNoWebhookSecret
	case !ok:
		return ErrInvalidSignature
	}
	return nil
}

// parseSignatures decodes the signatures in a header value, skipping those
// that are not a SHA-256 digest in hex or base64.
func parseSignatures(header string) [][]byte {
	var sigs [][]byte
	for _, f := range strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if len(f) > 7 && strings.EqualFold(f[:7], "sha256=") {
			f = f[7:]
		}
		if b, err := hex.DecodeString(f); err == nil && len(b) == sha256.Size {
			sigs = append(sigs, b)
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(f); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
				break
			}
		}
	}
	return sigs
}

// ParseWebhook reads a webhook delivery of at most DefaultWebhookMaxBody
// bytes, verifies its signature against secrets before decoding anything,
// and returns the run it carries. The X-BitScale-Run-Id header, when present,
// must name the payload's run. It returns ErrWebhookTooLarge, the errors of
// VerifyWebhookSignature, or an error matching ErrInvalidWebhook.
func ParseWebhook(r *http.Request, secrets ...string) (*Run, error) {
	return parseWebhook(r, DefaultWebhookMaxBody, secrets)
}

func parseWebhook(r *http.Request, limit int64, secrets []string) (*Run, error) {
	if r.Body == nil {
		return nil, fmt.Errorf("%w: empty body", ErrInvalidWebhook)
	}
	limit = min(limit, math.MaxInt64-1) // so that limit+1 cannot overflow
	payload, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("bitscale: reading webhook body: %w", err)
	}
	if int64(len(payload)) > limit {
		return nil, ErrWebhookTooLarge
	}
	if err := VerifyWebhookSignature(payload, r.Header.Get(SignatureHeader), secrets...); err != nil {
		return nil, err
	}
	var run Run
	if err := json.Unmarshal(payload, &run); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidWebhook, err)
	}
	if run.ID == "" || run.Status == "" {
		return nil, fmt.Errorf("%w: no run_id or status", ErrInvalidWebhook)
	}
	if id := r.Header.Get(RunIDHeader); id != "" && id != run.ID {
		return nil, fmt.Errorf("%w: %s %q names another run than the payload's %q", ErrInvalidWebhook, RunIDHeader, id, run.ID)
	}
	return &run, nil
}

// RunSet remembers the runs a webhook handler has handled, so that a
// delivery BitScale repeats is not handled twice. Its methods must be safe
// for concurrent use.
type RunSet interface {
	Contains(runID string) bool
	Add(runID string)
}

// WebhookOption configures WebhookHandler.
type WebhookOption func(*webhookHandler)

// WithWebhookSecret sets the secrets deliveries are verified with; give the
// old and the new one while rotating.
func WithWebhookSecret(secrets ...string) WebhookOption {
	return func(h *webhookHandler) { h.secrets = append(h.secrets, secrets...) }
}

// WithWebhookMaxBody bounds the size of a delivery (DefaultWebhookMaxBody);
// a larger one is answered 413.
func WithWebhookMaxBody(n int64) WebhookOption {
	return func(h *webhookHandler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// WithWebhookDedup sets how many handled run IDs the handler remembers in
// memory to drop repeated deliveries (default 10,000); 0 turns this off.
func WithWebhookDedup(n int) WebhookOption {
	return func(h *webhookHandler) {
		h.handled = nil
		if n > 0 {
			h.handled = newRecentRuns(n)
		}
	}
}

// WithWebhookRunSet keeps handled run IDs in set instead of in memory, such
// as a table shared by every replica of the service, which survives restarts.
func WithWebhookRunSet(set RunSet) WebhookOption {
	return func(h *webhookHandler) { h.handled = set }
}

// WithWebhookLogger logs deliveries refused and handler failures. The
// handler is silent without it.
func WithWebhookLogger(l *slog.Logger) WebhookOption {
	return func(h *webhookHandler) { h.log = l }
}

// WebhookHandler returns an http.Handler that receives BitScale's run
// webhooks and calls fn with each verified run.
//
// It answers 405 to a method other than POST, 413 to a body over the limit,
// 401 to a missing or wrong signature, 400 to a payload that is not a run,
// 204 once fn returns nil, and 500 when fn returns an error, so that
// BitScale delivers the run again (up to 3 more times). fn gets the
// request's context, which ends if BitScale stops waiting (after 10
// seconds) and closes the connection; BitScale then delivers again, so a
// slow fn is best made quick, with the real work queued.
//
// Because BitScale repeats a delivery it did not see acknowledged, the same
// run can arrive twice. The handler remembers the runs fn handled and
// acknowledges a repeat without calling fn again; a repeat that arrives
// while fn is still handling the first is answered 409, so it comes again
// later. The memory is per process and lost on restart: for exactly-once
// effects make fn idempotent, for example by writing the run keyed by its
// run_id in the same transaction as its effect, or give a durable RunSet
// with WithWebhookRunSet.
func WebhookHandler(fn func(ctx context.Context, run *Run) error, opts ...WebhookOption) http.Handler {
	h := &webhookHandler{
		fn:       fn,
		maxBody:  DefaultWebhookMaxBody,
		handled:  newRecentRuns(10000),
		inflight: make(map[string]bool),
	}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

type webhookHandler struct {
	fn      func(context.Context, *Run) error
	secrets []string
	maxBody int64
	handled RunSet // nil: no deduplication
	log     *slog.Logger

	mu       sync.Mutex
	inflight map[string]bool
}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	run, err := parseWebhook(r, h.maxBody, h.secrets)
	switch {
	case errors.Is(err, ErrWebhookTooLarge):
		h.refuse(w, r, http.StatusRequestEntityTooLarge, err.Error())
		return
	case errors.Is(err, ErrMissingSignature), errors.Is(err, ErrInvalidSignature), errors.Is(err, ErrNoWebhookSecret):
		h.refuse(w, r, http.StatusUnauthorized, "invalid signature")
		return
	case err != nil:
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if h.handled != nil && h.handled.Contains(run.ID) {
		w.WriteHeader(http.StatusNoContent) // a repeat of a run handled already
		return
	}
	if !h.begin(run.ID) {
		h.refuse(w, r, http.StatusConflict, "this run is being handled")
		return
	}
	defer h.end(run.ID)
	if h.handled != nil && h.handled.Contains(run.ID) {
		// Handled by a delivery that ended between the first look and begin.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := h.fn(r.Context(), run); err != nil {
		if h.log != nil {
			h.log.Error("bitscale: webhook handler failed", "run_id", run.ID, "error", err)
		}
		// The error stays here: it is the service's, not BitScale's business.
		http.Error(w, "webhook handler failed", http.StatusInternalServerError)
		return
	}
	if h.handled != nil {
		h.handled.Add(run.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *webhookHandler) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if h.log != nil {
		h.log.Warn("bitscale: webhook refused", "status", code, "reason", msg, "remote", r.RemoteAddr)
	}
	http.Error(w, msg, code)
}

// begin marks a run as being handled; it reports false if it already was.
func (h *webhookHandler) begin(runID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inflight[runID] {
		return false
	}
	h.inflight[runID] = true
	return true
}

func (h *webhookHandler) end(runID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.inflight, runID)
}

// recentRuns is a RunSet holding the last n run IDs added.
type recentRuns struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string // insertion order, to forget the oldest
	next int
}

func newRecentRuns(n int) *recentRuns {
	return &recentRuns{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (s *recentRuns) Contains(runID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[runID]
	return ok
}

func (s *recentRuns) Add(runID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[runID]; ok {
		return
	}
	delete(s.ids, s.ring[s.next])
	s.ring[s.next] = runID
	s.ids[runID] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
}
