package bitscale

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Error codes the API documents in the error envelope's "code" field.
const (
	CodeInvalidAPIKey         = "INVALID_API_KEY"
	CodeWorkspaceNotFound     = "WORKSPACE_NOT_FOUND"
	CodeGridNotFound          = "GRID_NOT_FOUND"
	CodeMissingRequiredField  = "MISSING_REQUIRED_FIELD"
	CodeInvalidColumnType     = "INVALID_COLUMN_TYPE"
	CodeRunLimitExceeded      = "RUN_LIMIT_EXCEEDED"
	CodeInsufficientCredits   = "INSUFFICIENT_CREDITS"
	CodeWebhookDeliveryFailed = "WEBHOOK_DELIVERY_FAILED"
)

// Sentinel errors for the documented error codes. An *APIError matches the
// one for its Code with errors.Is.
var (
	ErrInvalidAPIKey         = errors.New("bitscale: invalid or expired API key")
	ErrWorkspaceNotFound     = errors.New("bitscale: workspace not found")
	ErrGridNotFound          = errors.New("bitscale: grid not found")
	ErrMissingRequiredField  = errors.New("bitscale: missing required field")
	ErrInvalidColumnType     = errors.New("bitscale: input value does not match the column type")
	ErrRunLimitExceeded      = errors.New("bitscale: grid run quota reached")
	ErrInsufficientCredits   = errors.New("bitscale: insufficient credits")
	ErrWebhookDeliveryFailed = errors.New("bitscale: webhook delivery failed")
)

// Sentinel errors for classes of HTTP status. An *APIError matches the one
// for its StatusCode with errors.Is, whatever its Code.
var (
	ErrBadRequest    = errors.New("bitscale: bad request")          // 400
	ErrUnauthorized  = errors.New("bitscale: unauthorized")         // 401
	ErrForbidden     = errors.New("bitscale: forbidden")            // 403
	ErrNotFound      = errors.New("bitscale: not found")            // 404
	ErrConflict      = errors.New("bitscale: conflict")             // 409
	ErrUnprocessable = errors.New("bitscale: unprocessable entity") // 422
	ErrRateLimited   = errors.New("bitscale: rate limited")         // 429
	ErrServer        = errors.New("bitscale: server error")         // 5xx
)

// ErrOutcomeUnknown is matched by the error of a request that is not safe to
// send twice (a grid run) when the server may have carried it out: the
// connection failed after the request was written, the attempt timed out,
// the server answered 5xx (but 501 and 505) or a redirect, a 2xx answer
// could not be read, or an accepted async run was not seen to end. The SDK
// does not send such a request again; check before running the row again.
var ErrOutcomeUnknown = errors.New("bitscale: the request may or may not have been carried out")

// ErrResponseTooLarge is matched by the error for a response body larger
// than the client accepts (see WithMaxResponseSize).
var ErrResponseTooLarge = errors.New("bitscale: response body too large")

var codeErrors = map[string]error{
	CodeInvalidAPIKey:         ErrInvalidAPIKey,
	CodeWorkspaceNotFound:     ErrWorkspaceNotFound,
	CodeGridNotFound:          ErrGridNotFound,
	CodeMissingRequiredField:  ErrMissingRequiredField,
	CodeInvalidColumnType:     ErrInvalidColumnType,
	CodeRunLimitExceeded:      ErrRunLimitExceeded,
	CodeInsufficientCredits:   ErrInsufficientCredits,
	CodeWebhookDeliveryFailed: ErrWebhookDeliveryFailed,
}

func statusError(code int) error {
	switch {
	case code == http.StatusBadRequest:
		return ErrBadRequest
	case code == http.StatusUnauthorized:
		return ErrUnauthorized
	case code == http.StatusForbidden:
		return ErrForbidden
	case code == http.StatusNotFound:
		return ErrNotFound
	case code == http.StatusConflict:
		return ErrConflict
	case code == http.StatusUnprocessableEntity:
		return ErrUnprocessable
	case code == http.StatusTooManyRequests:
		return ErrRateLimited
	case code >= 500 && code <= 599:
		return ErrServer
	}
	return nil
}

// APIError is the error for a response with a status other than 2xx.
//
// Code, Message and Details come from the API's error envelope
// {"error":{"code","message","details"}}. When the body is not that envelope
// (an HTML page from a proxy, an empty or cut-off body), Code is empty and
// Message holds a short excerpt of the body.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Details    map[string]any

	// RateLimit is the rate limit the response reported.
	RateLimit RateLimit
	// RetryAfter is how long the server asked the client to wait before
	// trying again (Retry-After), or zero.
	RetryAfter time.Duration

	// Method and Path name the request that failed.
	Method string
	Path   string
}

// Error returns a one-line description naming the request, the status, and
// the API's code and message.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bitscale: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is reports whether target is the sentinel error for e's Code or for the
// class of e's StatusCode.
func (e *APIError) Is(target error) bool {
	if target == nil {
		return false
	}
	if s, ok := codeErrors[e.Code]; ok && s == target {
		return true
	}
	return statusError(e.StatusCode) == target
}

// maxErrorBody bounds how much of an error response is read: the envelope
// is small, and a proxy's error page need not be held whole.
const maxErrorBody = 64 << 10

// excerptLen is how much of a body that is not the envelope goes into
// APIError.Message.
const excerptLen = 200

// CheckResponse returns nil for a 2xx response and an *APIError otherwise,
// built from at most the first 64 KiB of the body, which it reads. It does
// not close the body: the caller still must.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	body, _ := readLimited(resp, maxErrorBody)
	return newAPIError(resp, body, parseRateLimit(resp.Header))
}

// newAPIError builds the *APIError for a non-2xx response whose body has
// been read and whose rate limit has been parsed.
func newAPIError(resp *http.Response, body []byte, rl RateLimit) *APIError {
	e := &APIError{
		StatusCode: resp.StatusCode,
		RateLimit:  rl,
		RetryAfter: retryAfter(resp.Header, time.Now()),
	}
	if resp.Request != nil {
		e.Method = resp.Request.Method
		e.Path = resp.Request.URL.EscapedPath()
	}
	if env, ok := decodeErrorEnvelope(body); ok {
		e.Code, e.Message, e.Details = env.Code, env.Message, env.details()
		return e
	}
	e.Message = excerpt(body)
	return e
}

// errorBody is the API's error object. Details is kept raw because the API
// does not fix its shape.
type errorBody struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

// details returns Details as a map. A value that is not a JSON object is
// kept under the key "details" so that nothing the server said is lost.
func (b *errorBody) details() map[string]any {
	if len(b.Details) == 0 || string(b.Details) == "null" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b.Details, &m) == nil {
		return m
	}
	var v any
	if json.Unmarshal(b.Details, &v) == nil {
		return map[string]any{"details": v}
	}
	return nil
}

// decodeErrorEnvelope decodes {"error":{...}}, and also accepts the error as
// a bare string ({"error":"..."}), which some gateways send. It is decoded
// by hand when it can be, as nearly every error body can: encoding/json
// spent more on it than the rest of a 404 together.
func decodeErrorEnvelope(body []byte) (*errorBody, bool) {
	if e, ok, sure := scanErrorEnvelope(body); sure {
		return e, ok
	}
	return unmarshalErrorEnvelope(body)
}

// unmarshalErrorEnvelope is decodeErrorEnvelope with encoding/json. The
// object is tried first, in one pass, being what the API sends.
func unmarshalErrorEnvelope(body []byte) (*errorBody, bool) {
	var env struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil {
		if env.Error != nil && (env.Error.Code != "" || env.Error.Message != "") {
			return env.Error, true
		}
		return nil, false
	}
	var str struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &str) == nil && str.Error != "" {
		return &errorBody{Message: str.Error}, true
	}
	return nil, false
}

// excerpt returns the start of a body as one line of valid UTF-8, for an
// error message. Markup is kept: it is what the server sent.
func excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) <= excerptLen {
		return strings.ToValidUTF8(s, "?")
	}
	cut := excerptLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "?") + "…"
}

// A DecodeError reports a 2xx response whose body could not be read or
// decoded into the expected type. Err is the underlying error; it matches
// ErrResponseTooLarge when the body exceeded the client's limit.
type DecodeError struct {
	Method     string
	Path       string
	StatusCode int
	Err        error
}

// Error names the request and what went wrong.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("bitscale: %s %s: reading %d response: %v", e.Method, e.Path, e.StatusCode, e.Err)
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// An ArgumentError reports an argument refused before any request was sent.
type ArgumentError struct {
	Name   string // the argument or field, such as "gridID"
	Reason string
}

// Error names the argument and the reason it was refused.
func (e *ArgumentError) Error() string {
	return "bitscale: " + e.Name + " " + e.Reason
}
