package fakeserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A FaultKind says what a Fault does instead of the normal response.
type FaultKind int

const (
	// FaultError answers with Status (default 500) and the error envelope
	// carrying Code (default INTERNAL_ERROR) and Message.
	FaultError FaultKind = iota
	// FaultSlow answers normally, after Delay.
	FaultSlow
	// FaultReset closes the connection, with a TCP reset, without a
	// response.
	FaultReset
	// FaultResetMidBody sends the status line and headers, with a
	// Content-Length, then half the body, and closes the connection.
	FaultResetMidBody
	// FaultMalformedJSON answers 200 (or Status) with a JSON body cut short.
	FaultMalformedJSON
	// FaultEmptyBody answers 200 (or Status) with an empty body.
	FaultEmptyBody
	// FaultHTML answers Status (default 502) with an HTML error page, as a
	// proxy in front of the API would.
	FaultHTML
)

var faultNames = []string{"error", "slow", "reset", "reset mid-body", "malformed JSON", "empty body", "HTML"}

// String returns the kind's name, such as "reset mid-body".
func (k FaultKind) String() string {
	if k < 0 || int(k) >= len(faultNames) {
		return "FaultKind(" + strconv.Itoa(int(k)) + ")"
	}
	return faultNames[k]
}

// Fault makes the fake misbehave on matching requests.
//
// A fault applies either before handling (the default), so the request
// never reaches the API, not even its authentication: no run is created,
// no credit spent, no rate limit counted; or after handling (AfterHandling), so the request is served for
// real and only its response is replaced: a client that then sees a
// timeout or a reset cannot tell whether its run happened, and it did.
// Delay combines with every kind; with AfterHandling it makes a slow
// response to a request already served.
//
// Go's http.Transport silently resends an idempotent request (a GET) whose
// reused connection closed without a response, so a client that must see
// FaultReset on a GET should not reuse connections.
type Fault struct {
	Method string // the request method to match; "" matches any
	// Path is the escaped path to match, written as Request.Path reports
	// it: "/api/v1/grids/grid_001/run". A path relative to the base URL,
	// "grids/grid_001/run", means the same. A trailing "*" matches any
	// path with that prefix, and "" matches every path.
	Path string
	// Times is how many matching requests the fault applies to: 0 means
	// one, a negative number means every one until ClearFaults.
	Times         int
	Kind          FaultKind
	AfterHandling bool
	Delay         time.Duration // wait before answering (or not)

	Status     int           // overrides the kind's status
	Code       string        // FaultError's error code
	Message    string        // FaultError's message
	RetryAfter time.Duration // sent as Retry-After, in whole seconds, if set
	Header     http.Header   // extra headers, such as X-RateLimit-Reset
}

type pendingFault struct {
	Fault
	left int // negative: forever
}

// InjectFault queues a fault. Faults are tried in the order injected; a
// matching request consumes one use of the first that matches. Unknown
// kinds act as FaultError.
func (s *Server) InjectFault(f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &pendingFault{Fault: f, left: left})
}

// ClearFaults drops every fault not used up yet.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (f *Fault) matches(method, path string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	pattern := strings.TrimPrefix(strings.TrimPrefix(f.Path, basePath), "/")
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == "" || pattern == path
}

// takeFault uses up one application of the first fault matching a request.
func (s *Server) takeFault(method, path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, pf := range s.faults {
		if !pf.matches(method, path) {
			continue
		}
		if pf.left > 0 {
			pf.left--
			if pf.left == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return pf.Fault, true
	}
	return Fault{}, false
}

// serveFault serves a request a fault applies to. A client that hangs up
// during Delay gets nothing, and a request faulted before handling is then
// not served at all.
func (s *Server) serveFault(w http.ResponseWriter, c *call, f Fault) {
	c.outcome = f.Kind.String()
	if !f.AfterHandling {
		if !s.wait(c.r.Context(), f.Delay) {
			return
		}
		if f.Kind == FaultSlow {
			f.addHeaders(w.Header())
			s.serveAPI(w, c)
			return
		}
		s.writeFault(w, f, nil)
		return
	}
	rec := &recorder{header: make(http.Header)}
	s.serveAPI(rec, c)
	if !s.wait(c.r.Context(), f.Delay) {
		return
	}
	s.writeFault(w, f, rec)
}

// writeFault answers as the fault says. rec is the real response when the
// fault applies after handling, else nil.
func (s *Server) writeFault(w http.ResponseWriter, f Fault, rec *recorder) {
	switch f.Kind {
	case FaultSlow:
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		f.addHeaders(w.Header())
		w.WriteHeader(orDefault(rec.status, http.StatusOK))
		w.Write(rec.body.Bytes())
	case FaultReset:
		reset(w)
	case FaultResetMidBody:
		status, h, body := http.StatusOK, http.Header{"Content-Type": {"application/json"}}, truncatedBody
		if rec != nil {
			status, h, body = rec.status, rec.header.Clone(), rec.body.Bytes()
		}
		if f.Status != 0 {
			status = f.Status
		}
		f.addHeaders(h)
		writeHalf(w, status, h, body)
	case FaultMalformedJSON:
		f.write(w, http.StatusOK, "application/json", []byte(`{"id": "usr_abc123", "name": "Jane`))
	case FaultEmptyBody:
		f.write(w, http.StatusOK, "application/json", nil)
	case FaultHTML:
		st := orDefault(f.Status, http.StatusBadGateway)
		page := fmt.Sprintf("<html>\r\n<head><title>%[1]d %[2]s</title></head>\r\n<body>\r\n<center><h1>%[1]d %[2]s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", st, http.StatusText(st))
		f.write(w, st, "text/html; charset=utf-8", []byte(page))
	default:
		st := orDefault(f.Status, http.StatusInternalServerError)
		e := envelopeError{Code: f.Code, Message: f.Message}
		if e.Code == "" {
			e.Code = CodeInternalError
		}
		if e.Message == "" {
			e.Message = http.StatusText(st)
		}
		f.write(w, st, "application/json", encodeJSON(envelope{Error: e}))
	}
}

// truncatedBody is what FaultResetMidBody sends half of when no real
// response exists.
var truncatedBody = []byte(`{"message":"this response is cut short by a fault injected into the fake","status":"completed"}` + "\n")

func orDefault(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

// write answers with the fault's status, if any, else status, and its
// extra headers.
func (f *Fault) write(w http.ResponseWriter, status int, contentType string, body []byte) {
	f.addHeaders(w.Header())
	writeBody(w, orDefault(f.Status, status), contentType, body)
}

func (f *Fault) addHeaders(h http.Header) {
	for k, vs := range f.Header {
		setHeader(h, k, slices.Clone(vs)...)
	}
	if f.RetryAfter > 0 {
		setHeader(h, "Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
}

// reset closes the client's connection without a response. Lingering off
// makes the close a TCP reset rather than an orderly end.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// writeHalf writes the status line, the headers with the full body's
// Content-Length, and half the body, by hand, then closes the connection.
func writeHalf(w http.ResponseWriter, status int, h http.Header, body []byte) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	if len(body) < 2 {
		body = []byte("{}")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	h.Del("Transfer-Encoding")
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body[:len(body)/2])
	conn.Write(b.Bytes())
}

// recorder keeps a response in memory, for faults applied after handling.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
