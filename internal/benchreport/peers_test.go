package main

import (
	"strings"
	"testing"
)

// Two passes of the peers' test binary, with the clients in another order
// in each, and a line that is not a result.
var peerPasses = []string{`goos: linux
BenchmarkGridsGet/impl=sdk-2         	    6768	     100000 ns/op	     80000 cpu-ns/op	    9800 B/op	     104 allocs/op
BenchmarkGridsGet/impl=ogen-2        	   10000	      90000 ns/op	     80000 cpu-ns/op	    9900 B/op	     115 allocs/op
BenchmarkGridsGet/impl=nethttp-2     	    6762	     120000 ns/op	    120000 cpu-ns/op	   10500 B/op	     116 allocs/op
PASS
`, `BenchmarkGridsGet/impl=nethttp-2     	    6762	     180000 ns/op	    120000 cpu-ns/op	   10500 B/op	     116 allocs/op
BenchmarkGridsGet/impl=sdk-2         	    6768	     200000 ns/op	     80000 cpu-ns/op	    9800 B/op	     104 allocs/op
BenchmarkGridsGet/impl=ogen          	   10000	     220000 ns/op	     80000 cpu-ns/op	    9900 B/op	     115 allocs/op
`}

func TestPeerReport(t *testing.T) {
	r := &peerReport{passes: len(peerPasses), figs: map[string]map[string][]figures{}, commands: []string{"./peers.test"}}
	for _, p := range peerPasses {
		if err := r.parse([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.check(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.impls, ","); got != "nethttp,ogen" {
		t.Errorf("peers in the order %s, want nethttp,ogen", got)
	}
	var b strings.Builder
	r.write(&b)
	// Time per call: net/http took 1.2× then 0.9× the SDK's, a median of
	// 1.05× ± 0.15/1.05; its own median is 150µs. ogen: 0.9× then 1.1×.
	for _, want := range []string{
		"| Grids.Get: time/op ", "| 150µs  ", "| 150µs, 1.05× ±14% ", "| 155µs, 1.00× ±10% ",
		"| Grids.Get: allocs/op ", "| 116, 1.12× ±0% ", "| 115, 1.11× ±0% ",
		"    ./peers.test\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPeerReportMissingPass(t *testing.T) {
	r := &peerReport{passes: 2, figs: map[string]map[string][]figures{}}
	if err := r.parse([]byte(peerPasses[0])); err != nil {
		t.Fatal(err)
	}
	if err := r.check(); err == nil {
		t.Error("figures from one pass of two were taken")
	}
}

func TestPeerTitle(t *testing.T) {
	for bench, want := range map[string]string{
		"GridsGet":             "Grids.Get",
		"GridsListLargeDirect": "Grids.List 10k grids, no connection",
		"Other":                "Other",
	} {
		if got := peerTitle(bench); got != want {
			t.Errorf("peerTitle(%q) = %q, want %q", bench, got, want)
		}
	}
}
