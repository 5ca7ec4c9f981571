package bitscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// retryClient returns the retrying client for requests that are, or are
// not, safe to send twice. Its CheckRetry decides whether to retry and
// waits before saying yes: only it knows the call (from the context) and so
// the attempt number, the deadline and what the attempt left behind.
func retryClient(s settings, c *core, hc *http.Client, replayable bool) *retryablehttp.Client {
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     s.maxRetries,
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		PrepareRetry: freshBody,
	}
	policy, waitMin, waitMax, log := s.policy, s.waitMin, s.waitMax, s.logger
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		cl := ctx.Value(callKey{}).(*call)
		if err == nil {
			// Read the body inside the retry loop, so that a body cut off
			// mid-way is retried like any other failed attempt.
			err = cl.read(resp)
		}
		if cl.retries >= s.maxRetries {
			return false, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if err == nil || !errors.Is(err, ctxErr) {
				cl.stop = ctxErr // the attempt's own error does not say it
			}
			return false, nil
		}
		if !policy(ctx, replayable, resp, err) {
			return false, nil
		}
		// Rather than wait and try again in vain, give the caller the
		// server's answer now when its wait is longer than allowed.
		if serverWait(resp, time.Now()) > waitMax {
			return false, nil
		}
		wait := backoff(waitMin, waitMax, cl.retries, resp)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			cl.stop = fmt.Errorf("waiting %s would pass the context's deadline: %w",
				wait.Round(time.Millisecond), context.DeadlineExceeded)
			return false, nil
		}
		cl.cause = c.attemptError(cl, resp, err)
		if log != nil {
			logRetry(log, resp, err)
		}
		if wait > 0 {
			if err := sleep(ctx, wait, nil); err != nil {
				cl.stop = err
				return false, nil
			}
		}
		cl.retries++
		return true, nil
	}
	if log != nil {
		rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, n int) {
			log.Debug("bitscale: request", "method", req.Method, "path", req.URL.EscapedPath(), "attempt", n+1)
		}
		rc.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
			log.Debug("bitscale: response", "method", resp.Request.Method, "path", resp.Request.URL.EscapedPath(),
				"status", resp.StatusCode, "rate_limit", parseRateLimit(resp.Header).String())
		}
	}
	return rc
}

// freshBody gives a retry a new body from GetBody. It runs on the retry's
// own copy of the request: the attempt before may still be reading the old
// body, so rewinding that one would race with it.
func freshBody(req *http.Request) error {
	if req.GetBody == nil || req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	req.Body = body
	return nil
}

func logRetry(log *slog.Logger, resp *http.Response, err error) {
	if resp != nil {
		log.Info("bitscale: retrying", "method", resp.Request.Method, "path", resp.Request.URL.EscapedPath(),
			"status", resp.StatusCode)
		return
	}
	log.Info("bitscale: retrying", "error", err)
}

// callKey is the context key under which a *call finds itself.
type callKey struct{}

// call is one Do call as its attempts go: the request as go-retryablehttp
// sends it, the body of the last answer, and what the retry decisions left
// for the error that ends the call. It is also the request's context, the
// caller's with the call added, which is how CheckRetry finds it; being one
// allocation rather than two keeps a call's cost down.
type call struct {
	context.Context // the caller's
	req             retryablehttp.Request
	method, path    string
	limit           int64      // on a 2xx body
	conns           *transport // told when an answer was read whole

	body    []byte // of the last answer
	readErr error  // from reading body

	// The rate limit the transport parsed from the answer answered, so
	// that Do need not parse the same headers again.
	answered  *http.Response
	rateLimit RateLimit

	retries int   // retries granted so far
	cause   error // the error of the last attempt retried
	stop    error // why a retry the policy wanted was not made

	sent sendTrace // for a request that must not be sent twice
}

// newCall returns the state of a call of method with the caller's ctx.
func (c *Client) newCall(ctx context.Context, method string) *call {
	return &call{Context: ctx, method: method, limit: c.core.maxResponse, conns: c.core.conns}
}

// context returns the context the call's request must carry: the call
// itself, with a trace of each attempt for a request that must not be
// sent twice. It is called once per call.
func (cl *call) context() context.Context {
	if replayable(cl.method) {
		return cl
	}
	return cl.sent.follow(cl)
}

// Value returns the call itself for callKey, and otherwise what the
// caller's context holds.
func (cl *call) Value(key any) any {
	if key == (callKey{}) {
		return cl
	}
	return cl.Context.Value(key)
}

// read reads and closes the body of an attempt's answer.
func (cl *call) read(resp *http.Response) error {
	failed := resp.StatusCode < 200 || resp.StatusCode > 299
	limit := cl.limit
	if failed {
		limit = maxErrorBody
	}
	var body []byte
	var err error
	if !failed && resp.ContentLength > limit {
		// Refused before a byte is read or a buffer is sized for it.
		err = fmt.Errorf("%w: Content-Length %d, more than %d bytes", ErrResponseTooLarge, resp.ContentLength, limit)
	} else {
		body, err = readLimited(resp, limit)
	}
	resp.Body.Close()
	resp.Body = http.NoBody // nothing left for go-retryablehttp to drain
	if err == nil {
		cl.conns.pooled(resp)
	}
	if failed {
		err = nil // the part read still makes a useful APIError
	}
	cl.body, cl.readErr = body, err
	return err
}

// explain returns err, the error that ends the call, with what it would
// otherwise lose: why the call stopped when a retry was wanted, or the cause
// of the attempt before when the context ended the last one.
func (cl *call) explain(err error) error {
	if cl.stop != nil {
		return fmt.Errorf("%w (not tried again: %w)", err, cl.stop)
	}
	if ctxErr := cl.Err(); cl.cause != nil && ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (the attempt before failed: %w)", err, cl.cause)
	}
	return err
}

// attemptError returns the error of an attempt that is to be retried, for
// the call's error should the context end the next one.
func (c *core) attemptError(cl *call, resp *http.Response, err error) error {
	switch {
	case resp == nil:
		return attemptCause(err)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return c.apiError(cl.method, cl.path, resp, cl.body, cl.rateLimitOf(resp))
	case err != nil:
		return &DecodeError{Method: cl.method, Path: cl.path, StatusCode: resp.StatusCode, Err: err}
	}
	return fmt.Errorf("%d %s answer retried by the policy", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// rateLimitOf returns the rate limit resp reported, parsed by the transport
// when resp is the answer it saw last, and parsed here otherwise (an answer
// from another host, after a redirect).
func (cl *call) rateLimitOf(resp *http.Response) RateLimit {
	if resp == cl.answered {
		return cl.rateLimit
	}
	return parseRateLimit(resp.Header)
}
