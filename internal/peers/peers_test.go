package peers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/peers/ogenclient"
	"github.com/bitscale/bitscale-go/internal/perf"
)

// Each benchmark makes one call through every client, one after the
// other, against one server; with -count they alternate, so that the
// machine's load falls on all of them alike. Compare cpu-ns/op, B/op and
// allocs/op with benchstat -col /impl.

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
	ogen: func(ctx context.Context, c *ogenclient.Client) error {
		g, err := c.GetGrid(ctx, ogenclient.GetGridParams{GridId: perf.GridID, WorkspaceID: perf.WorkspaceID})
		return want(err, g != nil && len(g.Columns) == 3)
	},
}

type peerCalls struct {
	sdk     func(context.Context, *bitscale.Client) error
	nethttp func(context.Context, *perf.Baseline) error
	ogen    func(context.Context, *ogenclient.Client) error
}

func benchPeers(b *testing.B, c peerCalls, direct bool) {
	srv := perf.NewServer()
	b.Cleanup(srv.Close)
	var rt http.RoundTripper = transport()
	if direct {
		rt = srv.Transport()
	}
	b.Run("impl=sdk", func(b *testing.B) {
		cl, err := perf.NewClient(srv, direct)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(cl.CloseIdleConnections)
		perf.Loop(b, func(ctx context.Context) error { return c.sdk(ctx, cl) })
	})
	b.Run("impl=nethttp", func(b *testing.B) {
		var blrt http.RoundTripper // the SDK's default settings
		if direct {
			blrt = rt
		}
		bl := perf.NewBaseline(srv.URL(), blrt)
		b.Cleanup(bl.CloseIdleConnections)
		perf.Loop(b, func(ctx context.Context) error { return c.nethttp(ctx, bl) })
	})
	b.Run("impl=ogen", func(b *testing.B) {
		hc := &http.Client{Transport: rt}
		b.Cleanup(hc.CloseIdleConnections)
		cl, err := ogenclient.NewClient(strings.TrimSuffix(srv.URL(), "/"), apiKey{}, ogenclient.WithClient(hc))
		if err != nil {
			b.Fatal(err)
		}
		perf.Loop(b, func(ctx context.Context) error { return c.ogen(ctx, cl) })
	})
}

// transport is set as the SDK's default transport is, as perf.Baseline's.
func transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 100
	return tr
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
