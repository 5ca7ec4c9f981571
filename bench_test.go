package bitscale_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

// The benchmarks compare each SDK call with the same call written by hand
// with net/http and encoding/json, sending the same headers and decoding
// into the same type, against the same in-process server in the same run.

// benchServer serves the reference's fixtures, a large grid list and an
// error, from memory.
func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	grid := mustRead(b, "testdata/grid_get.json")
	run := mustRead(b, "testdata/run_sync.json")
	list := bigGridList(10000)
	notFound := []byte(`{"error":{"code":"GRID_NOT_FOUND","message":"No grid found for the given ID"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Limit", "1000000")
		w.Header().Set("X-RateLimit-Remaining", "999999")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
		switch r.URL.Path {
		case "/api/v1/grids/grid_001":
			w.Write(grid)
		case "/api/v1/grids/grid_001/run":
			w.Write(run)
		case "/api/v1/workspaces/ws_abc123/grids":
			w.Header().Set("Content-Length", fmt.Sprint(len(list)))
			w.Write(list)
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write(notFound)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

func mustRead(b *testing.B, name string) []byte {
	b.Helper()
	var buf bytes.Buffer
	f, err := http.Dir(".").Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf.ReadFrom(f)
	return buf.Bytes()
}

// bigGridList returns a grid list of n grids, several MB of JSON.
func bigGridList(n int) []byte {
	l := bitscale.GridList{Total: n}
	for i := range n {
		l.Grids = append(l.Grids, bitscale.GridSummary{
			ID:          fmt.Sprintf("grid_%06d", i),
			Name:        fmt.Sprintf("Lead Enrichment — batch %d", i),
			Description: strings.Repeat("Enriches inbound leads with company and contact data. ", 4),
			RowCount:    1500 + i, ColumnCount: 12,
			CreatedAt: time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 4, 15, 11, 30, 0, 0, time.UTC),
		})
	}
	b, _ := json.Marshal(l)
	return b
}

func benchTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 100
	return tr
}

func benchClient(b *testing.B, srv *httptest.Server) *bitscale.Client {
	b.Helper()
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL(srv.URL), bitscale.WithWorkspaceID(testWorkspace),
		bitscale.WithHTTPClient(&http.Client{Transport: benchTransport()}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.CloseIdleConnections)
	return c
}

// baseline is the hand-written client.
type baseline struct {
	hc   *http.Client
	base string
}

func newBaseline(b *testing.B, srv *httptest.Server) *baseline {
	hc := &http.Client{Transport: benchTransport()}
	b.Cleanup(hc.CloseIdleConnections)
	return &baseline{hc: hc, base: srv.URL + "/api/v1/"}
}

type baselineError struct {
	Error struct{ Code, Message string } `json:"error"`
}

func (bl *baseline) do(ctx context.Context, method, path string, body, v any) error {
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
	req.Header["api_key"] = []string{testKey}
	req.Header["workspace-id"] = []string{testWorkspace}
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
	if resp.StatusCode != http.StatusOK {
		var e baselineError
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return fmt.Errorf("%d %s: %s", resp.StatusCode, e.Error.Code, e.Error.Message)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

var runReq = &bitscale.RunRequest{Inputs: map[string]any{
	"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
	"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
}}

func BenchmarkGridsGet(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Grids.Get(ctx, "grid_001"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		bl := newBaseline(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			var g bitscale.Grid
			if err := bl.do(ctx, "GET", "grids/grid_001", nil, &g); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGridsGetParallel(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := c.Grids.Get(ctx, "grid_001"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("baseline", func(b *testing.B) {
		bl := newBaseline(b, srv)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var g bitscale.Grid
				if err := bl.do(ctx, "GET", "grids/grid_001", nil, &g); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkGridsRun(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Grids.Run(ctx, "grid_001", runReq); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		bl := newBaseline(b, srv)
		body := struct {
			Mode string `json:"mode"`
			*bitscale.RunRequest
		}{"sync", runReq}
		b.ReportAllocs()
		for b.Loop() {
			var r bitscale.Run
			if err := bl.do(ctx, "POST", "grids/grid_001/run", &body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGridsRunParallel(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := c.Grids.Run(ctx, "grid_001", runReq); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("baseline", func(b *testing.B) {
		bl := newBaseline(b, srv)
		body := struct {
			Mode string `json:"mode"`
			*bitscale.RunRequest
		}{"sync", runReq}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var r bitscale.Run
				if err := bl.do(ctx, "POST", "grids/grid_001/run", &body, &r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkGridsListLarge(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			l, _, err := c.Grids.List(ctx, "", nil)
			if err != nil || len(l.Grids) != 10000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		bl := newBaseline(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			var l bitscale.GridList
			if err := bl.do(ctx, "GET", "workspaces/ws_abc123/grids", nil, &l); err != nil || len(l.Grids) != 10000 {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkNotFound(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Grids.Get(ctx, "missing"); err == nil {
				b.Fatal("want an error")
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		bl := newBaseline(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			var g bitscale.Grid
			if err := bl.do(ctx, "GET", "grids/missing", nil, &g); err == nil {
				b.Fatal("want an error")
			}
		}
	})
}
