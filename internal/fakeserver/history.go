package fakeserver

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Request is a request the fake received, as Requests reports it.
type Request struct {
	Method   string
	Path     string // escaped, as sent
	RawQuery string
	Header   http.Header // the api_key value replaced by "[redacted]"
	Body     []byte
	Time     time.Time
}

// Requests returns every request received so far, oldest first, faulted
// ones included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ClearHistory forgets the recorded requests and webhook deliveries.
// Runs, being state the API serves, stay.
func (s *Server) ClearHistory() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.deliveries = nil
}

func (s *Server) record(r *http.Request, body []byte) {
	h := r.Header.Clone()
	for k := range h {
		if strings.EqualFold(k, "api_key") {
			h[k] = []string{"[redacted]"}
		}
	}
	req := Request{
		Method:   r.Method,
		Path:     r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Header:   h,
		Body:     slices.Clone(body),
		Time:     s.now(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}
