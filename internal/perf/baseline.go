package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/bitscale/bitscale-go"
)

// Baseline is the hand-written client the SDK is measured against: plain
// net/http and encoding/json, the same headers, the same transport
// settings as the SDK's default, decoding into the SDK's types. It has no
// retries, no rate-limit gate and no envelope handling: it is what a
// careful user would write for one call.
type Baseline struct {
	hc   *http.Client
	base string
}

// NewBaseline returns a Baseline for the API at baseURL, which ends in a
// slash, that sends requests through rt, or when rt is nil through a
// transport set as the SDK's default one is.
func NewBaseline(baseURL string, rt http.RoundTripper) *Baseline {
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 100 // as the SDK's default transport
		rt = tr
	}
	return &Baseline{hc: &http.Client{Transport: rt}, base: baseURL}
}

// CloseIdleConnections closes the connections kept for reuse.
func (bl *Baseline) CloseIdleConnections() { bl.hc.CloseIdleConnections() }

// BaselineError is the baseline's error for a non-2xx answer.
type BaselineError struct {
	StatusCode    int
	Code, Message string
}

// Error formats the status and the error envelope's code and message.
func (e *BaselineError) Error() string {
	return fmt.Sprintf("bitscale: %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Do sends one request for path, relative to the base URL, with body as
// JSON when not nil, and decodes a 2xx answer into v with a json.Decoder.
func (bl *Baseline) Do(ctx context.Context, method, path string, body, v any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, bl.base+path, r)
	if err != nil {
		return err
	}
	// Spelled as the API reference spells them, so set directly.
	req.Header["api_key"] = []string{APIKey}
	req.Header["workspace-id"] = []string{WorkspaceID}
	req.Header["Accept"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{"bitscale-go/" + bitscale.Version}
	if body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	resp, err := bl.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read to the end, so the connection goes back to the pool whatever
	// the decoder left unread.
	defer io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env)
		return &BaselineError{StatusCode: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// runRequestBody is the body of a sync run, as the SDK sends it.
type runRequestBody struct {
	Mode string `json:"mode"`
	*bitscale.RunRequest
}
