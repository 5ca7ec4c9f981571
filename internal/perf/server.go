// Package perf measures the SDK against hand-written net/http code and
// measures the costs that grow with a program's work: connections opened,
// use of the rate limit, polls of asynchronous runs.
//
// Its benchmark bodies are shared by the package's benchmarks (go test
// -bench) and by the report command in internal/benchreport, so that both
// measure the same thing.
package perf

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bitscale/bitscale-go"
)

// Identifiers the in-memory server answers for, from the API reference's
// examples.
const (
	APIKey      = "bsk_perf_0123456789"
	WorkspaceID = "ws_abc123"
	GridID      = "grid_001"
	MissingGrid = "grid_missing"

	// ListSize is the number of grids in the large grid list.
	ListSize = 10000
)

// Bodies of the in-memory server: the reference's examples, compact, as an
// API sends them.
var (
	gridBody = []byte(`{"id":"grid_001","name":"Lead Enrichment — Q1",` +
		`"description":"Enriches inbound leads with company and contact data.",` +
		`"settings":{"row_limit":5000,"auto_run":false,"visibility":"workspace"},"columns":[` +
		`{"id":"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890","name":"Full Name","type":"text","is_input":true,"is_output":false,"required":true},` +
		`{"id":"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234","name":"Company","type":"text","is_input":true,"is_output":false,"required":false},` +
		`{"id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","name":"Enriched Email","type":"ai_enrichment","is_input":false,"is_output":true,"required":false}],` +
		`"row_count":1500,"created_at":"2024-04-01T09:00:00Z","updated_at":"2024-04-15T11:30:00Z"}`)
	runBody = []byte(`{"mode":"sync","status":"completed","outputs":{` +
		`"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890":"Jane Doe",` +
		`"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234":"Acme Corp",` +
		`"a1b2c3d4-e5f6-7890-abcd-ef1234567890":"jane.doe@acmecorp.com",` +
		`"b2c3d4e5-f6a7-8901-bcde-f12345678901":"https://linkedin.com/in/janedoe"},` +
		`"credits":{"consumed":12,"remaining":65788}}`)
	notFoundBody = []byte(`{"error":{"code":"GRID_NOT_FOUND","message":"No grid found for the given ID"}}`)
)

// RunRequest is the reference's example row, Jane Doe of Acme Corp.
func RunRequest() *bitscale.RunRequest {
	return &bitscale.RunRequest{Inputs: map[string]any{
		"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
		"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
	}}
}

// Server is an in-memory BitScale API for benchmarks. It answers from
// bodies built once, so that almost all the time measured is the client's
// and the loopback's, and it counts the connections it accepts.
//
// It serves GET grids/grid_001, POST grids/grid_001/run, the grid list of
// ws_abc123 (ListSize grids, several MB; gzip-compressed when the request
// asks for it and the query has gzip=1) and a 404 envelope for anything else.
type Server struct {
	srv     *httptest.Server
	list    []byte
	gzList  []byte
	headers http.Header // of every answer: Content-Type and the rate limit
	conns   atomic.Int64
}

// NewServer starts a Server on a loopback port.
func NewServer() *Server {
	s := &Server{list: GridListBody(ListSize)}
	s.gzList = gzipped(s.list)
	// A limit the benchmarks never reach, as the API reports it.
	reset := strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)
	s.headers = http.Header{
		"Content-Type":          {"application/json"},
		"X-Ratelimit-Limit":     {"1000000"},
		"X-Ratelimit-Remaining": {"999999"},
		"X-Ratelimit-Reset":     {reset},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnState = countNew(&s.conns)
	s.srv.Start()
	return s
}

// URL returns the API's base URL, "http://127.0.0.1:PORT/api/v1/".
func (s *Server) URL() string { return s.srv.URL + "/api/v1/" }

// Conns returns the number of connections accepted so far.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// ListBytes returns the size of the uncompressed grid list body.
func (s *Server) ListBytes() int { return len(s.list) }

// Close stops the server and closes its connections.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Read what the client sent, as a real server would, so that both
	// clients pay for writing their request bodies. Only a request from
	// Transport can have none.
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	h := w.Header()
	for k, v := range s.headers {
		h[k] = v
	}
	status, body := http.StatusOK, notFoundBody
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/grids/"+GridID:
		body = gridBody
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/grids/"+GridID+"/run":
		body = runBody
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/workspaces/"+WorkspaceID+"/grids":
		body = s.list
		if r.URL.Query().Get("gzip") == "1" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			body = s.gzList
			h["Content-Encoding"] = []string{"gzip"}
		}
	default:
		status = http.StatusNotFound
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

// Transport returns a RoundTripper that answers a request by calling the
// server's handler in the caller's goroutine, with no connection: with it,
// a benchmark measures a client's own cost, which over loopback is a small
// part of the time, next to the syscalls and the server's work.
func (s *Server) Transport() http.RoundTripper { return handlerTransport{s} }

type handlerTransport struct{ s *Server }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.s.serve(rec, req)
	if req.Body != nil {
		req.Body.Close() // as a RoundTripper must
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// GridListBody returns the JSON of a grid list of n grids of about 350
// bytes each, as the API would list a large workspace.
func GridListBody(n int) []byte {
	l := bitscale.GridList{Grids: make([]bitscale.GridSummary, n), Total: n}
	created := time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC)
	updated := time.Date(2024, 4, 15, 11, 30, 0, 0, time.UTC)
	for i := range l.Grids {
		l.Grids[i] = bitscale.GridSummary{
			ID:          fmt.Sprintf("grid_%06d", i),
			Name:        fmt.Sprintf("Lead Enrichment — batch %d", i),
			Description: strings.Repeat("Enriches inbound leads with company and contact data. ", 4),
			RowCount:    1500 + i,
			ColumnCount: 12,
			CreatedAt:   created,
			UpdatedAt:   updated,
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// countNew returns a ConnState hook that counts new connections in n.
func countNew(n *atomic.Int64) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
}

// Wire serves a handler, such as the fake BitScale server's, on a loopback
// listener of its own, and counts what crossed it: the connections
// accepted and the status of every answer. The fake keeps no count of
// connections or statuses; this is where they are seen.
type Wire struct {
	srv   *httptest.Server
	conns atomic.Int64

	hold    int64         // requests to hold until that many have arrived
	arrived atomic.Int64  // requests so far
	all     chan struct{} // closed when hold requests have arrived

	mu       sync.Mutex
	statuses []Status
}

// Status is one answer seen on a Wire.
type Status struct {
	Code  int
	Reset int64     // its X-RateLimit-Reset, which names its window; 0 if none
	Time  time.Time // when the answer was written
}

// NewWire starts a Wire in front of h. It holds the first hold requests
// until hold requests have arrived, so that hold callers starting together
// each have a request in flight at once (see Connections); hold may be 0.
func NewWire(h http.Handler, hold int) *Wire {
	w := &Wire{hold: int64(hold), all: make(chan struct{})}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.wait(r)
		sw := &statusWriter{ResponseWriter: rw, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		st := Status{Code: sw.code, Reset: resetOf(rw.Header()), Time: time.Now()}
		w.mu.Lock()
		w.statuses = append(w.statuses, st)
		w.mu.Unlock()
	}))
	w.srv.Config.ConnState = countNew(&w.conns)
	w.srv.Start()
	return w
}

func (w *Wire) wait(r *http.Request) {
	n := w.arrived.Add(1)
	switch {
	case n > w.hold:
		return
	case n == w.hold:
		close(w.all)
	}
	select {
	case <-w.all:
	case <-r.Context().Done():
	}
}

// URL returns the API's base URL through the wire.
func (w *Wire) URL() string { return w.srv.URL + "/api/v1/" }

// Conns returns the number of connections accepted so far.
func (w *Wire) Conns() int { return int(w.conns.Load()) }

// Statuses returns every answer so far, oldest first.
func (w *Wire) Statuses() []Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Status(nil), w.statuses...)
}

// Count returns how many answers had the status code.
func (w *Wire) Count(code int) int {
	n := 0
	for _, s := range w.Statuses() {
		if s.Code == code {
			n++
		}
	}
	return n
}

// resetOf returns the X-RateLimit-Reset of an answer's header, which the
// fake writes as the API reference spells it rather than canonicalized.
func resetOf(h http.Header) int64 {
	for k, v := range h {
		if strings.EqualFold(k, "X-RateLimit-Reset") && len(v) > 0 {
			n, _ := strconv.ParseInt(v[0], 10, 64)
			return n
		}
	}
	return 0
}

// Close stops the wire and closes its connections.
func (w *Wire) Close() { w.srv.Close() }

type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, for the
// fake's faults that flush part of a body or reset the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
