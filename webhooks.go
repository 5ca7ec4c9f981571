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
	"time"
)

// Errors of webhook verification. A delivery with no signature, one whose
// signature header holds no digest, and one whose digest is wrong are told
// apart, since they have different causes: a sender that does not sign, a
// sender that signs in another format, and a wrong secret or a forgery.
var (
	ErrMissingSignature   = errors.New("bitscale: webhook has no " + SignatureHeader + " or an empty one")
	ErrMalformedSignature = errors.New("bitscale: webhook " + SignatureHeader + " holds no SHA-256 digest in hex or base64")
	ErrInvalidSignature   = errors.New("bitscale: webhook signature does not match the payload")
	ErrWebhookTooLarge    = errors.New("bitscale: webhook body too large")
	ErrInvalidWebhook     = errors.New("bitscale: webhook payload is not a run")
	ErrNoWebhookSecret    = errors.New("bitscale: no webhook secret given")
)

// DefaultWebhookMaxBody bounds the webhook bodies ParseWebhook reads. A
// payload is one run's outputs, far smaller.
const DefaultWebhookMaxBody = 1 << 20

// WebhookRefParam is the query parameter RunAsync adds to a webhook URL to
// carry the run's webhook ref; see Run.WebhookRef.
const WebhookRefParam = "bitscale_ref"

// Bounds of the signature header. A genuine one holds one digest, or two
// while a secret is rotated; the bounds keep what an unauthenticated sender
// can make the receiver decode small.
const (
	maxSignatureHeader = 4 << 10 // bytes
	maxSignatures      = 8       // fields, digests or not
)

// Refusals of a signature header over the bounds, made once so that
// refusing costs nothing.
var (
	errSignatureTooLong   = fmt.Errorf("%w: longer than %d bytes", ErrMalformedSignature, maxSignatureHeader)
	errTooManySignatures  = fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, maxSignatures)
	errWebhookHasNoSecret = fmt.Errorf("%w: the handler would refuse every delivery; give WithWebhookSecret a non-empty secret", ErrNoWebhookSecret)
)

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

// usableSecret reports whether secret can key a signature. An empty key
// would accept a signature anyone can make, and a blank one is an unset
// setting more surely than a chosen secret.
func usableSecret(secret string) bool { return strings.TrimSpace(secret) != "" }

// hasSecret reports whether one of secrets is usable.
func hasSecret(secrets []string) bool {
	for _, s := range secrets {
		if usableSecret(s) {
			return true
		}
	}
	return false
}

// VerifyWebhookSignature checks that signature is the HMAC-SHA256 of payload
// under one of secrets. Several secrets let a secret be rotated without
// dropping deliveries; empty and blank ones are skipped. signature may hold
// up to 8 signatures separated by commas or spaces, each hex (any case) or
// base64, with an optional "sha256=" prefix, in at most 4 KiB. Comparisons
// take constant time.
//
// It returns ErrNoWebhookSecret when no secret is usable, before looking at
// the signature; ErrMissingSignature when signature is empty or blank;
// ErrMalformedSignature when it holds no SHA-256 digest, or is over the
// bounds; and ErrInvalidSignature when no digest matches.
func VerifyWebhookSignature(payload []byte, signature string, secrets ...string) error {
	if !hasSecret(secrets) {
		return ErrNoWebhookSecret
	}
	sigs, err := parseSignatures(signature)
	if err != nil {
		return err
	}
	return verify(payload, sigs, secrets)
}

// verify checks decoded signatures against the usable secrets.
func verify(payload []byte, sigs [][]byte, secrets []string) error {
	ok := false
	for _, secret := range secrets {
		if !usableSecret(secret) {
			continue
		}
		want := mac(payload, secret)
		for _, sig := range sigs {
			// Check every pair, not stopping at a match, so that the time
			// taken says nothing about which one matched.
			if hmac.Equal(sig, want) {
				ok = true
			}
		}
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

func isSignatureSep(r rune) bool { return r == ',' || r == ' ' || r == '\t' }

// parseSignatures decodes the signatures in a header value, skipping fields
// that are not a SHA-256 digest in hex or base64. It refuses a header over
// the bounds before looking into it.
func parseSignatures(header string) ([][]byte, error) {
	if len(header) > maxSignatureHeader {
		return nil, errSignatureTooLong
	}
	var sigs [][]byte
	n := 0
	for f := range strings.FieldsFuncSeq(header, isSignatureSep) {
		if n++; n > maxSignatures {
			return nil, errTooManySignatures
		}
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
	switch {
	case n == 0:
		return nil, ErrMissingSignature
	case len(sigs) == 0:
		return nil, ErrMalformedSignature
	}
	return sigs, nil
}

// ParseWebhook reads a webhook delivery of at most DefaultWebhookMaxBody
// bytes, verifies its signature against secrets before decoding anything,
// and returns the run it carries, with Run.WebhookRef set from the
// request URL's WebhookRefParam. The X-BitScale-Run-Id header, when
// present, must name the payload's run.
//
// It returns ErrNoWebhookSecret when no secret is usable, before reading
// anything; ErrMissingSignature or ErrMalformedSignature before reading the
// body; ErrWebhookTooLarge; ErrInvalidSignature; or an error matching
// ErrInvalidWebhook.
//
// A signature proves that BitScale sent the payload, not when: a recorded
// delivery can be sent again later. See WebhookHandler for the defences.
func ParseWebhook(r *http.Request, secrets ...string) (*Run, error) {
	return parseWebhook(r, DefaultWebhookMaxBody, secrets)
}

func parseWebhook(r *http.Request, limit int64, secrets []string) (*Run, error) {
	if !hasSecret(secrets) {
		return nil, ErrNoWebhookSecret
	}
	sigs, err := parseSignatures(r.Header.Get(SignatureHeader))
	if err != nil {
		return nil, err
	}
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
	if err := verify(payload, sigs, secrets); err != nil {
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
	if r.URL != nil {
		run.WebhookRef = r.URL.Query().Get(WebhookRefParam)
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

// WebhookOption configures NewWebhookHandler and WebhookHandler. An option
// given a value it cannot use returns an error, which NewWebhookHandler
// returns.
type WebhookOption func(*webhookHandler) error

// WithWebhookSecret adds secrets deliveries are verified with; give the old
// and the new one while rotating. Empty and blank secrets are skipped, so
// that an unset second secret does no harm, but at least one secret must be
// usable.
func WithWebhookSecret(secrets ...string) WebhookOption {
	return func(h *webhookHandler) error {
		h.secrets = append(h.secrets, secrets...)
		return nil
	}
}

// WithWebhookMaxBody bounds the size of a delivery (DefaultWebhookMaxBody);
// a larger one is answered 413. It returns an error for n <= 0.
func WithWebhookMaxBody(n int64) WebhookOption {
	return func(h *webhookHandler) error {
		if n <= 0 {
			return fmt.Errorf("bitscale: WithWebhookMaxBody: need a positive size, got %d", n)
		}
		h.maxBody = n
		return nil
	}
}

// WithWebhookDedup sets how many handled run IDs the handler remembers in
// memory to drop repeated deliveries (default 10,000); 0 turns this off.
// It returns an error for n < 0.
func WithWebhookDedup(n int) WebhookOption {
	return func(h *webhookHandler) error {
		if n < 0 {
			return fmt.Errorf("bitscale: WithWebhookDedup: negative count %d", n)
		}
		h.handled = nil
		if n > 0 {
			h.handled = newRecentRuns(n)
		}
		return nil
	}
}

// WithWebhookRunSet keeps handled run IDs in set instead of in memory, such
// as a table shared by every replica of the service, which survives
// restarts and so turns away a replayed delivery however late it comes. It
// returns an error for a nil set.
func WithWebhookRunSet(set RunSet) WebhookOption {
	return func(h *webhookHandler) error {
		if set == nil {
			return errors.New("bitscale: WithWebhookRunSet: nil RunSet")
		}
		h.handled = set
		return nil
	}
}

// WithWebhookMaxAge refuses a delivery whose run completed more than d ago
// by its signed completed_at, or that has no completed_at, with 400. It
// bounds how late a recorded delivery can be replayed once the in-memory
// dedupe has forgotten the run. d must outlast BitScale's retries of a
// delivery and the clocks' difference; a few hours is ample. It returns an
// error for d <= 0.
func WithWebhookMaxAge(d time.Duration) WebhookOption {
	return func(h *webhookHandler) error {
		if d <= 0 {
			return fmt.Errorf("bitscale: WithWebhookMaxAge: need a positive duration, got %s", d)
		}
		h.maxAge = d
		return nil
	}
}

// WithWebhookClient tells c of each verified run the handler receives, so
// that c's waits on that run (Grids.RunAndWait, Runs.PollUntilDone) end the
// moment its delivery arrives, whether or not fn succeeds. Runs c sends
// with a webhook URL are then polled only as a fallback, for deliveries
// that go to another replica or never come: from WebhookPollInterval apart
// up to WebhookPollMaxInterval, unless PollOptions says otherwise. Clients
// made from c with ForWorkspace are told too. It returns an error for a nil
// client.
func WithWebhookClient(c *Client) WebhookOption {
	return func(h *webhookHandler) error {
		if c == nil {
			return errors.New("bitscale: WithWebhookClient: nil client")
		}
		h.wake = c.core.hub()
		return nil
	}
}

// WithWebhookLogger logs deliveries refused, with why, and handler
// failures; never a secret. The handler is silent without it. It returns an
// error for a nil logger.
func WithWebhookLogger(l *slog.Logger) WebhookOption {
	return func(h *webhookHandler) error {
		if l == nil {
			return errors.New("bitscale: WithWebhookLogger: nil logger")
		}
		h.log = l
		return nil
	}
}

// NewWebhookHandler returns an http.Handler that receives BitScale's run
// webhooks and calls fn with each verified run. It returns an error, and no
// handler, when fn is nil, when an option is nil or refuses its value, or
// when no usable secret was given (matching ErrNoWebhookSecret): a handler
// without one would answer every genuine delivery 401, and BitScale would
// give up on it.
//
// The handler answers 405 to a method other than POST, 413 to a body over
// the limit, 401 to a delivery with no signature, a malformed one or a
// wrong one (each with its own text), 400 to a payload that is not a run or
// one older than WithWebhookMaxAge allows, 204 once fn returns nil, and 500
// when fn returns an error, so that BitScale delivers the run again (up to
// 3 more times). fn gets the request's context, which ends if BitScale
// stops waiting (after 10 seconds) and closes the connection; BitScale then
// delivers again, so a slow fn is best made quick, with the real work
// queued. The run fn gets has Run.WebhookRef set from the delivery URL.
//
// Because BitScale repeats a delivery it did not see acknowledged, the same
// run can arrive twice. The handler remembers the runs fn handled and
// acknowledges a repeat without calling fn again; a repeat that arrives
// while fn is still handling the first is answered 409, so it comes again
// later.
//
// The signature covers the payload, not the time it was sent, so anyone
// who recorded a delivery can send it again later. The in-memory dedupe
// turns such a replay away only while it remembers the run: it holds a
// bounded number of runs, per process, and forgets them on restart. The
// defence against replays is a durable RunSet given with
// WithWebhookRunSet, shared by every replica; or make fn idempotent, for
// example by writing the run keyed by its run_id in the same transaction as
// its effect. WithWebhookMaxAge bounds how old a replayed delivery may be.
func NewWebhookHandler(fn func(ctx context.Context, run *Run) error, opts ...WebhookOption) (http.Handler, error) {
	if fn == nil {
		return nil, errors.New("bitscale: webhook handler: nil fn")
	}
	h := &webhookHandler{
		fn:       fn,
		maxBody:  DefaultWebhookMaxBody,
		handled:  newRecentRuns(10000),
		inflight: make(map[string]bool),
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("bitscale: webhook handler: nil WebhookOption")
		}
		if err := opt(h); err != nil {
			return nil, err
		}
	}
	if !hasSecret(h.secrets) {
		return nil, errWebhookHasNoSecret
	}
	return h, nil
}

// WebhookHandler is NewWebhookHandler for handlers built once at startup: it
// panics with NewWebhookHandler's error instead of returning it, as
// regexp.MustCompile does, so that a missing secret stops the service
// before it refuses any delivery.
func WebhookHandler(fn func(ctx context.Context, run *Run) error, opts ...WebhookOption) http.Handler {
	h, err := NewWebhookHandler(fn, opts...)
	if err != nil {
		panic(err)
	}
	return h
}

type webhookHandler struct {
	fn      func(context.Context, *Run) error
	secrets []string
	maxBody int64
	maxAge  time.Duration // 0: any age
	handled RunSet        // nil: no deduplication
	log     *slog.Logger
	wake    *wakeHub // the waits told of each verified run, or nil

	mu       sync.Mutex
	inflight map[string]bool
}

// Answer texts of refused deliveries, which is what a sender sees.
const (
	textMissingSignature   = "missing " + SignatureHeader
	textMalformedSignature = "malformed " + SignatureHeader
	textInvalidSignature   = "invalid signature"
)

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
	case errors.Is(err, ErrMissingSignature):
		h.refuse(w, r, http.StatusUnauthorized, textMissingSignature)
		return
	case errors.Is(err, ErrMalformedSignature):
		h.refuse(w, r, http.StatusUnauthorized, textMalformedSignature)
		return
	case errors.Is(err, ErrInvalidSignature):
		h.refuse(w, r, http.StatusUnauthorized, textInvalidSignature)
		return
	case err != nil:
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if h.maxAge > 0 {
		if msg := h.tooOld(run); msg != "" {
			h.refuse(w, r, http.StatusBadRequest, msg)
			return
		}
	}
	if h.wake != nil {
		h.wake.deliver(run)
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

// tooOld says why a verified run is too old to handle, or returns "".
func (h *webhookHandler) tooOld(run *Run) string {
	if run.CompletedAt == nil {
		return "delivery has no completed_at, so its age cannot be checked"
	}
	if age := time.Since(*run.CompletedAt); age > h.maxAge {
		return fmt.Sprintf("delivery too old: run completed %s ago, more than the %s allowed", age.Round(time.Second), h.maxAge)
	}
	return ""
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

// recentRuns is a RunSet holding the last max run IDs added. It grows as
// runs are added, so that a large max costs memory only once used.
type recentRuns struct {
	mu   sync.Mutex
	max  int
	ids  map[string]struct{}
	ring []string // insertion order, to forget the oldest
	next int      // the oldest, once the ring is full
}

func newRecentRuns(max int) *recentRuns {
	return &recentRuns{max: max, ids: make(map[string]struct{})}
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
	s.ids[runID] = struct{}{}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, runID)
		return
	}
	delete(s.ids, s.ring[s.next])
	s.ring[s.next] = runID
	s.next = (s.next + 1) % s.max
}
