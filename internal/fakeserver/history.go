package fakeserver

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Request is a request the fake received, as Requests reports it.
type Request struct {
	Method string
	// Path is the escaped path as sent, from the server's root:
	// "/api/v1/grids/grid_001/run". Fault.Path matches it written the
	// same way.
	Path     string
	RawQuery string
	Header   http.Header // the api_key value replaced by "[redacted]"
	Body     []byte
	Time     time.Time // when it arrived
	// Status is the status answered: 0 while the request is being served,
	// and when a reset fault took the connection over.
	Status int

	seq uint64 // to find the record again when the answer is known
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

// record adds a request as it arrives and returns its sequence number.
func (s *Server) record(r *http.Request, body []byte) uint64 {
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
	s.seq++
	req.seq = s.seq
	s.requests = append(s.requests, req)
	return req.seq
}

// recordStatus notes the status a recorded request was answered with.
func (s *Server) recordStatus(seq uint64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].seq == seq {
			s.requests[i].Status = status
			return
		}
	}
}
