package bitscale_test

import (
	"testing"

	"github.com/bitscale/bitscale-go/internal/perf"
)

// Each benchmark measures one call twice against the same in-memory server
// in the same run: through the SDK (impl=sdk) and through plain net/http
// and encoding/json sending the same headers and decoding into the same
// types (impl=baseline). Compare the two with benchstat:
//
//	go test -run '^$' -bench . -count 6 . > bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col '/impl@(baseline sdk)' bench.txt
//
// The bodies live in internal/perf; go run ./internal/benchreport runs
// them too, and prints the figures beside the SDK's targets.

func BenchmarkGridsGet(b *testing.B)         { benchCase(b, "GridsGet") }
func BenchmarkGridsGetParallel(b *testing.B) { benchCase(b, "GridsGetParallel") }
func BenchmarkGridsRun(b *testing.B)         { benchCase(b, "GridsRun") }
func BenchmarkGridsRunParallel(b *testing.B) { benchCase(b, "GridsRunParallel") }
func BenchmarkNotFound(b *testing.B)         { benchCase(b, "NotFound") }

// The large list, sent with a Content-Length and gzip-compressed without
// one, also reports the most heap one call held at once (peak-B/op) and
// how many copies of the body that is besides the decoded grids
// (body-copies/op).
func BenchmarkGridsListLarge(b *testing.B)     { benchCase(b, "GridsListLarge") }
func BenchmarkGridsListLargeGzip(b *testing.B) { benchCase(b, "GridsListLargeGzip") }

// The same calls with the server's handler called directly, with no
// connection: the difference between sdk and baseline is then the SDK's
// own cost, which over loopback hides among syscalls and the server's work.
func BenchmarkGridsGetDirect(b *testing.B) { benchCase(b, "GridsGetDirect") }
func BenchmarkGridsRunDirect(b *testing.B) { benchCase(b, "GridsRunDirect") }
func BenchmarkNotFoundDirect(b *testing.B) { benchCase(b, "NotFoundDirect") }

func benchCase(b *testing.B, name string) {
	c := perf.Lookup(name)
	srv := perf.NewServer()
	b.Cleanup(srv.Close)
	b.Run("impl=sdk", func(b *testing.B) { c.SDK(b, srv) })
	b.Run("impl=baseline", func(b *testing.B) { c.Baseline(b, srv) })
}
