package peers

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/peers/oapigenclient"
	"github.com/bitscale/bitscale-go/internal/peers/ogenclient"
	"github.com/bitscale/bitscale-go/internal/perf"
	"github.com/go-resty/resty/v2"
)

// Each benchmark makes one call through every client, one after the
// other, against one server. With -count, the testing package repeats
// each client's sub-benchmark before it moves to the next, so a change in
// the machine's load can fall on one client more than on the others; for
// figures that compare, run the test binary several times instead, each
// with another -rotate, as internal/benchreport does. Compare time,
// cpu-ns/op, B/op and allocs/op with benchstat -col /impl.

// rotate is the client that goes first; the others follow in their usual
// order, wrapping around.
var rotate = flag.Int("rotate", 0, "run the clients' sub-benchmarks starting with the n-th, wrapping around")

func BenchmarkGridsListLarge(b *testing.B) { benchPeers(b, gridsList, false) }
func BenchmarkGridsGet(b *testing.B)       { benchPeers(b, gridsGet, false) }

// The same calls with the server's handler called in process, with no
// connection (perf.Server.Transport): what is left is each client's own
// work, building the request and decoding the answer.
func BenchmarkGridsListLargeDirect(b *testing.B) { benchPeers(b, gridsList, true) }
func BenchmarkGridsGetDirect(b *testing.B)       { benchPeers(b, gridsGet, true) }

var gridsList = func() peerCalls {
	path := "workspaces/" + perf.WorkspaceID + "/grids"
	return peerCalls{
		sdk: func(ctx context.Context, c *bitscale.Client) error {
			l, _, err := c.Grids.List(ctx, perf.WorkspaceID, nil)
			return want(err, l != nil && len(l.Grids) == perf.ListSize)
		},
		nethttp: func(ctx context.Context, bl *perf.Baseline) error {
			var l bitscale.GridList
			err := bl.Do(ctx, http.MethodGet, path, nil, &l)
			return want(err, len(l.Grids) == perf.ListSize)
		},
		resty: func(ctx context.Context, c *resty.Client) error {
			var l bitscale.GridList
			resp, err := c.R().SetContext(ctx).
				SetPathParam("workspaceId", perf.WorkspaceID).
				SetResult(&l).
				Get("workspaces/{workspaceId}/grids")
			return want(restyErr(resp, err), len(l.Grids) == perf.ListSize)
		},
		oapigen: func(ctx context.Context, c *oapigenclient.ClientWithResponses) error {
			r, err := c.ListGridsWithResponse(ctx, perf.WorkspaceID, &oapigenclient.ListGridsParams{WorkspaceId: perf.WorkspaceID})
			if err != nil {
				return err
			}
			if r.JSON200 == nil {
				return oapigenErr(r.HTTPResponse, r.JSONDefault)
			}
			return want(nil, len(r.JSON200.Grids) == perf.ListSize)
		},
		ogen: func(ctx context.Context, c *ogenclient.Client) error {
			l, err := c.ListGrids(ctx, ogenclient.ListGridsParams{WorkspaceId: perf.WorkspaceID, WorkspaceID: perf.WorkspaceID})
			return want(err, l != nil && len(l.Grids) == perf.ListSize)
		},
	}
}()

var gridsGet = peerCalls{
	sdk: func(ctx context.Context, c *bitscale.Client) error {
		g, _, err := c.Grids.Get(ctx, perf.GridID)
		return want(err, g != nil && len(g.Columns) == 3)
	},
	nethttp: func(ctx context.Context, bl *perf.Baseline) error {
		var g bitscale.Grid
		err := bl.Do(ctx, http.MethodGet, "grids/"+perf.GridID, nil, &g)
		return want(err, len(g.Columns) == 3)
	},
	resty: func(ctx context.Context, c *resty.Client) error {
		var g bitscale.Grid
		resp, err := c.R().SetContext(ctx).
			SetPathParam("gridId", perf.GridID).
			SetResult(&g).
			Get("grids/{gridId}")
		return want(restyErr(resp, err), len(g.Columns) == 3)
	},
	oapigen: func(ctx context.Context, c *oapigenclient.ClientWithResponses) error {
		r, err := c.GetGridWithResponse(ctx, perf.GridID, &oapigenclient.GetGridParams{WorkspaceId: perf.WorkspaceID})
		if err != nil {
			return err
		}
		if r.JSON200 == nil {
			return oapigenErr(r.HTTPResponse, r.JSONDefault)
		}
		return want(nil, len(r.JSON200.Columns) == 3)
	},
	ogen: func(ctx context.Context, c *ogenclient.Client) error {
		g, err := c.GetGrid(ctx, ogenclient.GetGridParams{GridId: perf.GridID, WorkspaceID: perf.WorkspaceID})
		return want(err, g != nil && len(g.Columns) == 3)
	},
}

type peerCalls struct {
	sdk     func(context.Context, *bitscale.Client) error
	nethttp func(context.Context, *perf.Baseline) error
	resty   func(context.Context, *resty.Client) error
	oapigen func(context.Context, *oapigenclient.ClientWithResponses) error
	ogen    func(context.Context, *ogenclient.Client) error
}

func benchPeers(b *testing.B, c peerCalls, direct bool) {
	srv := perf.NewServer()
	b.Cleanup(srv.Close)
	var rt http.RoundTripper = transport()
	if direct {
		rt = srv.Transport()
	}
	// The base URL as the generated clients take it, without the slash.
	base := strings.TrimSuffix(srv.URL(), "/")
	impls := []struct {
		name string
		f    func(*testing.B)
	}{
		{"sdk", func(b *testing.B) {
			cl, err := perf.NewClient(srv, direct)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cl.CloseIdleConnections)
			perf.Loop(b, func(ctx context.Context) error { return c.sdk(ctx, cl) })
		}},
		{"nethttp", func(b *testing.B) {
			var blrt http.RoundTripper // the SDK's default settings
			if direct {
				blrt = rt
			}
			bl := perf.NewBaseline(srv.URL(), blrt)
			b.Cleanup(bl.CloseIdleConnections)
			perf.Loop(b, func(ctx context.Context) error { return c.nethttp(ctx, bl) })
		}},
		{"resty", func(b *testing.B) {
			cl := newResty(base, rt)
			b.Cleanup(cl.GetClient().CloseIdleConnections)
			perf.Loop(b, func(ctx context.Context) error { return c.resty(ctx, cl) })
		}},
		{"oapigen", func(b *testing.B) {
			hc := &http.Client{Transport: rt}
			b.Cleanup(hc.CloseIdleConnections)
			cl, err := oapigenclient.NewClientWithResponses(base,
				oapigenclient.WithHTTPClient(hc), oapigenclient.WithRequestEditorFn(setAPIKey))
			if err != nil {
				b.Fatal(err)
			}
			perf.Loop(b, func(ctx context.Context) error { return c.oapigen(ctx, cl) })
		}},
		{"ogen", func(b *testing.B) {
			hc := &http.Client{Transport: rt}
			b.Cleanup(hc.CloseIdleConnections)
			cl, err := ogenclient.NewClient(base, apiKey{}, ogenclient.WithClient(hc))
			if err != nil {
				b.Fatal(err)
			}
			perf.Loop(b, func(ctx context.Context) error { return c.ogen(ctx, cl) })
		}},
	}
	for i := range impls {
		impl := impls[(i+*rotate)%len(impls)]
		b.Run("impl="+impl.name, impl.f)
	}
}

// transport is set as the SDK's default transport is, as perf.Baseline's.
func transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 100
	return tr
}

// newResty returns a resty client of the API at base set up once, as
// resty's documentation suggests: the headers every call sends, the error
// envelope's type, and the same transport as the other clients, so that
// only resty's own work differs.
func newResty(base string, rt http.RoundTripper) *resty.Client {
	return resty.New().
		SetTransport(rt).
		SetBaseURL(base).
		// Verbatim: the reference spells these headers in lower case.
		SetHeaderVerbatim("api_key", perf.APIKey).
		SetHeaderVerbatim("workspace-id", perf.WorkspaceID).
		SetHeader("Accept", "application/json").
		SetError(&errorEnvelope{})
}

// errorEnvelope is the body of the API's errors.
type errorEnvelope struct {
	Error struct{ Code, Message string } `json:"error"`
}

// restyErr returns err, or an error for an answer that is not a 2xx.
func restyErr(resp *resty.Response, err error) error {
	if err != nil {
		return err
	}
	if resp.IsError() {
		e, _ := resp.Error().(*errorEnvelope)
		if e == nil {
			e = &errorEnvelope{}
		}
		return fmt.Errorf("%s: %s: %s", resp.Status(), e.Error.Code, e.Error.Message)
	}
	return nil
}

// setAPIKey adds the key to a request of the oapi-codegen client, which
// leaves security schemes to its user.
func setAPIKey(_ context.Context, req *http.Request) error {
	req.Header["api_key"] = []string{perf.APIKey}
	return nil
}

// oapigenErr returns the error for an answer the oapi-codegen client did
// not decode as a 200.
func oapigenErr(resp *http.Response, e *oapigenclient.ErrorEnvelope) error {
	if e == nil {
		return fmt.Errorf("%s", resp.Status)
	}
	return fmt.Errorf("%s: %s: %s", resp.Status, e.Error.Code, e.Error.Message)
}

type apiKey struct{}

func (apiKey) ApiKey(context.Context, ogenclient.OperationName) (ogenclient.ApiKey, error) {
	return ogenclient.ApiKey{APIKey: perf.APIKey}, nil
}

// want returns err, or an error when the answer is not the server's.
func want(err error, ok bool) error {
	if err == nil && !ok {
		return fmt.Errorf("unexpected answer")
	}
	return err
}
