package bitscale

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The hand decoder beside encoding/json, on bodies already in memory: the
// large grid list of the benchmarks (built as internal/perf builds it,
// which this package cannot import) and the reference's grid.
//
//	go test -run '^$' -bench Decode -count 6 . > dec.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /dec dec.txt

func BenchmarkDecodeGridList(b *testing.B) {
	l := GridList{Grids: make([]GridSummary, 10000), Total: 10000}
	for i := range l.Grids {
		l.Grids[i] = GridSummary{
			ID: fmt.Sprintf("grid_%06d", i), Name: fmt.Sprintf("Lead Enrichment — batch %d", i),
			Description: strings.Repeat("Enriches inbound leads with company and contact data. ", 4),
			RowCount:    1500 + i, ColumnCount: 12,
			CreatedAt: time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC),
			UpdatedAt: time.Date(2024, 4, 15, 11, 30, 0, 0, time.UTC),
		}
	}
	body, err := json.Marshal(l)
	if err != nil {
		b.Fatal(err)
	}
	benchDecode[GridList](b, body)
}

func BenchmarkDecodeGrid(b *testing.B) { benchDecode[Grid](b, []byte(gridBodies[0])) }

func benchDecode[T any, P interface {
	*T
	handDecoder
}](b *testing.B, body []byte) {
	b.Run("dec=encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu := cpuNanos()
		for b.Loop() {
			var v T
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpuNanos()-cpu)
	})
	b.Run("dec=hand", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu := cpuNanos()
		for b.Loop() {
			var v T
			if !decodeHand(body, P(&v)) {
				b.Fatal("gave up")
			}
		}
		reportCPU(b, cpuNanos()-cpu)
	})
}

// reportCPU reports the process's CPU time per call, as internal/perf's
// cpu-ns/op.
func reportCPU(b *testing.B, ns int64) {
	if ns > 0 && b.N > 0 {
		b.ReportMetric(float64(ns)/float64(b.N), "cpu-ns/op")
	}
}
