package bitscale

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// httpClient returns a copy of the configured HTTP client whose transport
// is t wrapped around the configured one.
func httpClient(s settings, t *transport) *http.Client {
	var hc http.Client
	if s.httpClient != nil {
		hc = *s.httpClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Keep a connection per concurrent caller, not net/http's default of
		// two, so that parallel callers reuse connections instead of opening
		// new ones for every request.
		tr.MaxIdleConnsPerHost = 100
		tr.IdleConnTimeout = idleTimeout
		// Learn how soon the server closes idle connections, so that a
		// run is never sent on one it may be closing.
		tr.DialContext = watchConns(tr.DialContext, t)
		hc.Transport = tr
	}
	t.next = hc.Transport
	if t.next == nil {
		t.next = http.DefaultTransport
	}
	hc.Transport = t
	t.timeout = s.attemptTimeout
	hc.CheckRedirect = checkRedirect(hc.CheckRedirect, t.key[0])
	return &hc
}

// transport adds the API key to requests for the API's host, and only those,
// passes them through the rate-limit gate, and bounds each attempt.
type transport struct {
	next    http.RoundTripper
	key     []string // the api_key header value, shared and never changed
	base    *url.URL
	gate    *gate
	timeout time.Duration // per attempt, or 0
	idle    atomic.Int64  // when a connection last went back to the pool, in Unix nanoseconds
	// serverIdle is the shortest time, in nanoseconds, after which the
	// server was seen to close an idle connection, or 0.
	serverIdle atomic.Int64
}

// RoundTrip sends one attempt. It does not change req: the key goes on a
// copy, so the caller's request and Response.Request never hold it.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.base.Scheme || req.URL.Host != t.base.Host {
		// A redirect or a URL from a response led elsewhere: the key is
		// never added, and net/http copied the workspace header, so drop it.
		//lint:ignore SA1008 the header is stored as the API spells it, not canonicalized.
		if _, ok := req.Header[headerWorkspace]; ok {
			r := *req
			r.Header = req.Header.Clone()
			delete(r.Header, headerWorkspace)
			req = &r
		}
		return t.next.RoundTrip(req)
	}
	probe, err := t.gate.acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &unsentError{err}
	}
	var (
		rl           RateLimit
		ok, answered bool
	)
	defer func() { t.gate.release(rl, ok, answered, probe) }() // even if next panics

	// The call, found in the context, holds the trace of the attempt when
	// the request must not be sent twice. Without one, no attempt is ever
	// taken as unsent, which is the safe side.
	cl, _ := req.Context().Value(callKey{}).(*call)
	r := new(http.Request) // the copy that carries the key
	*r = *req
	r.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	r.Header[headerAPIKey] = t.key
	run := !replayable(req.Method)
	if run {
		// net/http's HTTP/2 transport resends a request it can rebuild
		// after some stream errors, even once the server had all of it:
		// a run must not be sent twice behind the SDK's back.
		r.GetBody = nil
		t.dropStale()
		if cl != nil {
			cl.sent.reset()
		}
	}
	resp, err := t.send(r)
	if err != nil && run && cl != nil && cl.sent.unsent() {
		err = &unsentError{err}
	}
	if resp == nil {
		return nil, err
	}
	rl, ok = rateLimitHeaders(resp.Header)
	answered = true
	if cl != nil {
		cl.answered, cl.rateLimit = resp, rl // Do reads them once this returns
	}
	resp.Request = req
	return resp, err
}

// send sends r, bounded by the attempt timeout if there is one; then the
// attempt's context ends when the body is closed, once it has been read.
func (t *transport) send(r *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.next.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if resp == nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			err = fmt.Errorf("attempt timed out after %s: %w", t.timeout, err)
		}
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{resp.Body, cancel}
	return resp, err
}

// sendTrace follows the attempts of a request that must not be sent
// twice, to tell whether the last one was written. Its hooks are set once
// per call, and the transport resets it before each attempt.
type sendTrace struct {
	trace          httptrace.ClientTrace
	gotConn, wrote atomic.Bool
}

// follow sets s's hooks and returns ctx with them, along with any trace
// ctx held.
func (s *sendTrace) follow(ctx context.Context) context.Context {
	s.trace.GetConn = func(string) { s.gotConn.Store(true) }
	s.trace.WroteHeaders = func() { s.wrote.Store(true) }
	return httptrace.WithClientTrace(ctx, &s.trace)
}

// reset forgets the attempt before. Should that attempt still report its
// headers written, the next one is only taken as maybe sent.
func (s *sendTrace) reset() {
	s.gotConn.Store(false)
	s.wrote.Store(false)
}

// unsent reports whether the attempt surely ended before the server could
// see the request: the transport reports its steps, and the headers were
// never written.
func (s *sendTrace) unsent() bool { return s.gotConn.Load() && !s.wrote.Load() }

// cancelBody ends an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// unsentError wraps the error of an attempt that failed before the server
// could see the request, which is safe to send again.
type unsentError struct{ err error }

func (e *unsentError) Error() string { return e.err.Error() }

func (e *unsentError) Unwrap() error { return e.err }
