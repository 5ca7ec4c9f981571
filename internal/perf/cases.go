package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// A Case is one API call measured twice against the same Server: through
// the SDK and through the Baseline.
type Case struct {
	Name  string // the benchmark's name, such as "GridsGet"
	Title string // the report's name, such as "Grids.Get"
	// Direct cases call the server's handler with no connection
	// (Server.Transport), so that the clients' own costs show. The
	// targets are set for calls over a connection, not for these.
	Direct   bool
	SDK      func(b *testing.B, s *Server)
	Baseline func(b *testing.B, s *Server)
}

// Extra metrics the cases report with b.ReportMetric.
const (
	// MetricCPU is the CPU time the whole process, server included, used
	// per call. Unlike the time per call it hardly moves when other
	// programs compete for the machine; it is 0 where it cannot be read.
	MetricCPU = "cpu-ns/op"
	// MetricPeak is the most heap a call held at once, in bytes (PeakHeap).
	MetricPeak = "peak-B/op"
	// MetricCopies is how many copies of the response body that peak
	// holds besides the decoded value: about 1 when the body is read into
	// one buffer of its exact size, up to 2 when a buffer grows by
	// doubling.
	MetricCopies = "body-copies/op"
)

// Cases are the calls the SDK's performance targets are set for, then the
// same calls with no connection.
var Cases = []Case{
	sequential("GridsGet", "Grids.Get", gridsGet, false),
	parallel("GridsGetParallel", "Grids.Get parallel", gridsGet),
	sequential("GridsRun", "Grids.Run sync", gridsRun, false),
	parallel("GridsRunParallel", "Grids.Run sync parallel", gridsRun),
	sequential("GridsListLarge", "Grids.List 10k grids", gridsList(false), false),
	sequential("GridsListLargeGzip", "Grids.List 10k grids, gzip", gridsList(true), false),
	sequential("NotFound", "404 error envelope", notFound, false),
	sequential("GridsGetDirect", "Grids.Get, no connection", gridsGet, true),
	sequential("GridsRunDirect", "Grids.Run sync, no connection", gridsRun, true),
	sequential("NotFoundDirect", "404 error envelope, no connection", notFound, true),
}

// Lookup returns the case with the given Name.
func Lookup(name string) Case {
	for _, c := range Cases {
		if c.Name == name {
			return c
		}
	}
	panic("perf: no case " + name)
}

// A call is one API call made both ways; each way checks its answer, so
// that a broken server is not measured as a fast one.
type call struct {
	sdk  func(ctx context.Context, c *bitscale.Client) error
	base func(ctx context.Context, bl *Baseline) error
	// peak asks for PeakHeap figures, for calls with large bodies.
	peak bool
}

// NewClient returns an SDK client of s with the SDK's defaults, or with
// s.Transport when direct.
func NewClient(s *Server, direct bool) (*bitscale.Client, error) {
	opts := []bitscale.Option{bitscale.WithBaseURL(s.URL()), bitscale.WithWorkspaceID(WorkspaceID)}
	if direct {
		opts = append(opts, bitscale.WithHTTPClient(&http.Client{Transport: s.Transport()}))
	}
	return bitscale.NewClient(APIKey, opts...)
}

// sequential returns the case of c made by one goroutine, with or without
// a connection.
func sequential(name, title string, c call, direct bool) Case {
	return Case{
		Name:   name,
		Title:  title,
		Direct: direct,
		SDK: func(b *testing.B, s *Server) {
			cl := sdkClient(b, s, direct)
			loop(b, s, c.peakKey(name, "sdk"), func(ctx context.Context) error { return c.sdk(ctx, cl) })
		},
		Baseline: func(b *testing.B, s *Server) {
			bl := baseline(b, s, direct)
			loop(b, s, c.peakKey(name, "baseline"), func(ctx context.Context) error { return c.base(ctx, bl) })
		},
	}
}

// parallel returns the case of c made by GOMAXPROCS goroutines at once.
func parallel(name, title string, c call) Case {
	return Case{
		Name:  name,
		Title: title,
		SDK: func(b *testing.B, s *Server) {
			cl := sdkClient(b, s, false)
			loopParallel(b, func(ctx context.Context) error { return c.sdk(ctx, cl) })
		},
		Baseline: func(b *testing.B, s *Server) {
			bl := baseline(b, s, false)
			loopParallel(b, func(ctx context.Context) error { return c.base(ctx, bl) })
		},
	}
}

// sdkClient returns a client whose idle connections close when b ends.
func sdkClient(b *testing.B, s *Server, direct bool) *bitscale.Client {
	cl, err := NewClient(s, direct)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.CloseIdleConnections)
	return cl
}

// baseline returns a Baseline whose idle connections close when b ends.
func baseline(b *testing.B, s *Server, direct bool) *Baseline {
	var rt http.RoundTripper
	if direct {
		rt = s.Transport()
	}
	bl := NewBaseline(s.URL(), rt)
	b.Cleanup(bl.CloseIdleConnections)
	return bl
}

// peakKey names the call's peak heap figures, or is "" when it has none.
func (c call) peakKey(name, impl string) string {
	if !c.peak {
		return ""
	}
	return name + "/" + impl
}

// loop runs f b.N times and, for a call with a peakKey, reports its peak
// heap figures.
func loop(b *testing.B, s *Server, peakKey string, f func(context.Context) error) {
	ctx := context.Background()
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if err := f(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, processCPU()-cpu)
	if peakKey == "" {
		return
	}
	p, err := peakOf(peakKey, func() error { return f(ctx) })
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(p), MetricPeak)
	b.ReportMetric(float64(int64(p)-int64(decodedPeak()))/float64(s.ListBytes()), MetricCopies)
}

// peaks caches peak heap figures by key. The testing package calls a
// benchmark function several times as it settles on b.N, and only the last
// call's metrics count; measuring the peak, with the collector made eager,
// takes far longer than one call, so it is measured once per process.
var peaks sync.Map // of string to uint64

func peakOf(key string, f func() error) (uint64, error) {
	if p, ok := peaks.Load(key); ok {
		return p.(uint64), nil
	}
	var err error
	p := PeakHeap(3, func() {
		if e := f(); e != nil {
			err = e
		}
	})
	if err != nil {
		return 0, err
	}
	peaks.Store(key, p)
	return p, nil
}

// loopParallel runs f b.N times, shared among GOMAXPROCS goroutines.
func loopParallel(b *testing.B, f func(context.Context) error) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := f(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCPU(b, processCPU()-cpu)
}

func reportCPU(b *testing.B, d time.Duration) {
	if d > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), MetricCPU)
	}
}

// decodedPeak is the peak heap of decoding the large grid list from a body
// already in memory: what any client must hold besides the body.
var decodedPeak = sync.OnceValue(func() uint64 {
	body := GridListBody(ListSize)
	return PeakHeap(5, func() {
		var l bitscale.GridList
		if err := json.Unmarshal(body, &l); err != nil {
			panic(err)
		}
	})
})

var gridsGet = call{
	sdk: func(ctx context.Context, c *bitscale.Client) error {
		g, _, err := c.Grids.Get(ctx, GridID)
		return check(err, g != nil && len(g.Columns) == 3)
	},
	base: func(ctx context.Context, bl *Baseline) error {
		var g bitscale.Grid
		err := bl.Do(ctx, http.MethodGet, "grids/"+GridID, nil, &g)
		return check(err, len(g.Columns) == 3)
	},
}

var gridsRun = call{
	sdk: func(ctx context.Context, c *bitscale.Client) error {
		r, _, err := c.Grids.Run(ctx, GridID, RunRequest())
		return check(err, r != nil && r.Status == bitscale.RunCompleted)
	},
	base: func(ctx context.Context, bl *Baseline) error {
		var r bitscale.Run
		body := runRequestBody{Mode: "sync", RunRequest: RunRequest()}
		err := bl.Do(ctx, http.MethodPost, "grids/"+GridID+"/run", &body, &r)
		return check(err, r.Status == bitscale.RunCompleted)
	},
}

// gridsList lists the large workspace, compressed or not on the wire.
func gridsList(gzip bool) call {
	path := "workspaces/" + WorkspaceID + "/grids"
	if gzip {
		// The server compresses only when asked in the query, so that the
		// plain case measures a body of known length. GridListOptions has
		// no such field: the SDK's Do, the escape hatch, sends it.
		path += "?gzip=1"
	}
	return call{
		peak: true,
		sdk: func(ctx context.Context, c *bitscale.Client) error {
			if !gzip {
				l, _, err := c.Grids.List(ctx, WorkspaceID, nil)
				return check(err, l != nil && len(l.Grids) == ListSize)
			}
			req, err := c.NewRequest(ctx, http.MethodGet, path, nil)
			if err != nil {
				return err
			}
			var l bitscale.GridList
			_, err = c.Do(req, &l)
			return check(err, len(l.Grids) == ListSize)
		},
		base: func(ctx context.Context, bl *Baseline) error {
			var l bitscale.GridList
			err := bl.Do(ctx, http.MethodGet, path, nil, &l)
			return check(err, len(l.Grids) == ListSize)
		},
	}
}

var notFound = call{
	sdk: func(ctx context.Context, c *bitscale.Client) error {
		_, _, err := c.Grids.Get(ctx, MissingGrid)
		if !errors.Is(err, bitscale.ErrGridNotFound) {
			return fmt.Errorf("got %v, want a GRID_NOT_FOUND error", err)
		}
		return nil
	},
	base: func(ctx context.Context, bl *Baseline) error {
		err := bl.Do(ctx, http.MethodGet, "grids/"+MissingGrid, nil, new(bitscale.Grid))
		if e, ok := err.(*BaselineError); !ok || e.Code != bitscale.CodeGridNotFound {
			return fmt.Errorf("got %v, want a GRID_NOT_FOUND error", err)
		}
		return nil
	},
}

var errUnexpected = errors.New("perf: unexpected answer")

// check returns err, or errUnexpected when the answer is not the one the
// server sends.
func check(err error, ok bool) error {
	if err == nil && !ok {
		return errUnexpected
	}
	return err
}

// Loop runs f b.N times, reporting allocations and MetricCPU, for
// benchmarks outside this package that measure other clients against the
// same Server, such as those of internal/peers.
func Loop(b *testing.B, f func(context.Context) error) { loop(b, nil, "", f) }
