package fakeserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error codes the fake writes in the "code" field of its error envelope.
// The first eight are the ones the API reference documents; the reference
// leaves the others open, and the fake picks plain names for them.
const (
	CodeInvalidAPIKey         = "INVALID_API_KEY"
	CodeWorkspaceNotFound     = "WORKSPACE_NOT_FOUND"
	CodeGridNotFound          = "GRID_NOT_FOUND"
	CodeMissingRequiredField  = "MISSING_REQUIRED_FIELD"
	CodeInvalidColumnType     = "INVALID_COLUMN_TYPE"
	CodeRunLimitExceeded      = "RUN_LIMIT_EXCEEDED"
	CodeInsufficientCredits   = "INSUFFICIENT_CREDITS"
	CodeWebhookDeliveryFailed = "WEBHOOK_DELIVERY_FAILED"

	CodeRateLimited      = "RATE_LIMITED"
	CodeInvalidRequest   = "INVALID_REQUEST"
	CodeNotFound         = "NOT_FOUND"
	CodeRunNotFound      = "RUN_NOT_FOUND"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeInternalError    = "INTERNAL_ERROR"

	// CodeEnrichmentFailed is not an HTTP error: it is the code of a
	// failed run's "error" object when the enricher returned an error.
	CodeEnrichmentFailed = "ENRICHMENT_FAILED"
)

// codeStatus is the one place that says which HTTP status goes with which
// error code.
var codeStatus = map[string]int{
	CodeInvalidAPIKey:         http.StatusUnauthorized,        // 401
	CodeWorkspaceNotFound:     http.StatusNotFound,            // 404
	CodeGridNotFound:          http.StatusNotFound,            // 404
	CodeMissingRequiredField:  http.StatusBadRequest,          // 400
	CodeInvalidColumnType:     http.StatusUnprocessableEntity, // 422
	CodeRunLimitExceeded:      http.StatusTooManyRequests,     // 429
	CodeInsufficientCredits:   http.StatusForbidden,           // 403
	CodeWebhookDeliveryFailed: http.StatusUnprocessableEntity, // 422
	CodeRateLimited:           http.StatusTooManyRequests,     // 429
	CodeInvalidRequest:        http.StatusBadRequest,          // 400
	CodeNotFound:              http.StatusNotFound,            // 404
	CodeRunNotFound:           http.StatusNotFound,            // 404
	CodeMethodNotAllowed:      http.StatusMethodNotAllowed,    // 405
	CodeInternalError:         http.StatusInternalServerError, // 500
}

// StatusFor returns the HTTP status the fake answers with for an error code,
// or 500 for a code it does not know.
func StatusFor(code string) int {
	if st, ok := codeStatus[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// apiError is an error the fake answers with: its status comes from codeStatus.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// envelope is the body of every error response.
type envelope struct {
	Error envelopeError `json:"error"`
}

type envelopeError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// writeError answers with the error envelope and the status of e's code.
func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, StatusFor(e.code), envelope{Error: envelopeError{Code: e.code, Message: e.msg}})
}

// writeJSON answers with v encoded as JSON. Non-ASCII and HTML characters
// are written as they are, as the reference's examples show them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, "application/json", encodeJSON(v))
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// encodeJSON encodes v, which is always one of the fake's own wire types.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a user's enricher can put unencodable values in a body.
		b.Reset()
		enc.Encode(envelope{Error: envelopeError{Code: CodeInternalError, Message: err.Error()}})
	}
	return b.Bytes()
}
