package bitscale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

// Response is the API's HTTP response. Its body has been read and closed;
// the decoded value is what the method returned.
type Response struct {
	*http.Response

	// RateLimit is the rate limit this response reported.
	RateLimit RateLimit
}

// NewRequest returns a request for path, relative to the client's base URL
// (such as "grids/grid_001"), with body encoded as JSON when not nil. It
// sets the Accept, User-Agent, Content-Type and workspace-id headers; the API
// key is added when the request is sent, and only to the API's host. IDs in
// path must already be escaped with url.PathEscape. It returns an error for a
// path that does not parse or a body that cannot be encoded.
func (c *Client) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	target := path
	if !strings.HasPrefix(path, "https://") && !strings.HasPrefix(path, "http://") {
		// Joined as strings, so the URL is parsed once, by net/http.
		target = c.core.base + strings.TrimPrefix(path, "/")
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("bitscale: encoding %s %s body: %w", method, path, err)
		}
		r = bytes.NewReader(b) // net/http sets GetBody, which retries use
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return nil, fmt.Errorf("bitscale: request %s %q: %w", method, path, err)
	}
	if !headerSafe(c.workspaceID) {
		return nil, &ArgumentError{Name: "workspace ID", Reason: "holds control characters"}
	}
	// The values share one array, allocated once; each slice's capacity is
	// its length, so that appending to one copies it rather than write
	// over the next.
	vals := []string{"application/json", c.core.userAgent, "application/json", c.workspaceID}
	req.Header["Accept"] = vals[0:1:1]
	req.Header["User-Agent"] = vals[1:2:2]
	if body != nil {
		req.Header["Content-Type"] = vals[2:3:3]
	}
	if c.workspaceID != "" {
		req.Header[headerWorkspace] = vals[3:4:4]
	}
	return req, nil
}

// Do sends req, retrying as the client's policy allows, and decodes a 2xx
// JSON response into v: v may be nil to discard the body, or an io.Writer to
// receive it raw. It returns an *APIError for any other status, a
// *DecodeError for a 2xx body that cannot be read or decoded, and the
// context's error when ctx ends first; when an attempt failed before, that
// error also holds the attempt's cause. The *Response is returned whenever
// the server answered.
func (c *Client) Do(req *http.Request, v any) (*Response, error) {
	cl := c.newCall(req.Context(), req.Method)
	return c.do(req.WithContext(cl.context()), cl, v)
}

// do is Do for a request that already carries cl's context, as the
// service methods build it, which spares a copy of the request.
func (c *Client) do(req *http.Request, cl *call, v any) (*Response, error) {
	method, path := req.Method, req.URL.EscapedPath()
	cl.path = path
	if err := cl.Err(); err != nil {
		return nil, fmt.Errorf("bitscale: %s %s: %w", method, path, err)
	}
	cl.req.Request = req
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// A body that cannot be made again is read into memory, so that a
		// retry can send it again. Others get a fresh body in freshBody.
		r, err := retryablehttp.FromRequest(req)
		if err != nil {
			return nil, fmt.Errorf("bitscale: %s %s: reading request body: %w", method, path, err)
		}
		cl.req = *r
	}
	replayable := replayable(method)
	rc := c.core.replayable
	if !replayable {
		rc = c.core.once
	}
	resp, err := rc.Do(&cl.req)
	if err != nil {
		// No answer, or one refused unread (a redirect not followed).
		var r *Response
		if resp != nil {
			r = &Response{Response: resp, RateLimit: cl.rateLimitOf(resp)}
		}
		return r, c.sendError(method, path, replayable, err, cl)
	}
	r := &Response{Response: resp, RateLimit: cl.rateLimitOf(resp)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.core.apiError(method, path, resp, cl.body, r.RateLimit)
		if !replayable && mayHaveRun(resp.StatusCode) {
			return r, &OutcomeError{Err: cl.explain(apiErr)}
		}
		return r, cl.explain(apiErr)
	}
	readErr := cl.readErr
	if readErr == nil {
		readErr = c.decode(resp, cl.body, v, r.RateLimit)
	}
	if readErr != nil {
		var apiErr *APIError
		if errors.As(readErr, &apiErr) {
			return r, apiErr
		}
		err := cl.explain(&DecodeError{Method: method, Path: path, StatusCode: resp.StatusCode, Err: readErr})
		if !replayable {
			err = &OutcomeError{Err: err, note: "it was carried out, but its answer could not be read; not sent again"}
		}
		return r, err
	}
	return r, nil
}

// mayHaveRun reports whether a request that got this non-2xx status may
// have been carried out: a redirect (not followed for such requests) or a
// server error, but for 501 and 505, which refuse the request as such.
func mayHaveRun(status int) bool {
	switch {
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return false
	case status >= 300 && status <= 399, status >= 500:
		return true
	}
	return false
}

// replayable reports whether a request with this method may be sent twice.
func replayable(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// sendError wraps the error of a request that got no response. Whether a
// run may have been carried out is judged on the last attempt's error
// alone: the cause kept from an attempt before is only told.
func (c *Client) sendError(method, path string, replayable bool, err error, cl *call) error {
	wrapped := cl.explain(fmt.Errorf("bitscale: %s %s: %w", method, path, attemptCause(err)))
	// Only an attempt's error (a *url.Error) can come from a request the
	// server saw; a bare context error ended a wait between attempts.
	var ue *url.Error
	if !replayable && errors.As(err, &ue) && connected(err) {
		return &OutcomeError{Err: wrapped}
	}
	return wrapped
}

// attemptCause returns the error of an attempt without the *url.Error
// around it, which repeats the method and URL.
func attemptCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// send builds a request, sends it and decodes the answer into a new T.
func send[T any](ctx context.Context, c *Client, method, path string, body any) (*T, *Response, error) {
	if err := checkContext(ctx); err != nil {
		return nil, nil, err
	}
	cl := c.newCall(ctx, method)
	req, err := c.NewRequest(cl.context(), method, path, body)
	if err != nil {
		return nil, nil, err
	}
	v := new(T)
	resp, err := c.do(req, cl, v)
	if err != nil {
		return nil, resp, err
	}
	return v, resp, nil
}

// checkContext refuses a nil ctx, on which a call would otherwise fail
// deep inside, or panic.
func checkContext(ctx context.Context) error {
	if ctx == nil {
		return &ArgumentError{Name: "ctx", Reason: "must not be nil"}
	}
	return nil
}
