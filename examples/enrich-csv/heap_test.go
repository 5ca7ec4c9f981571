package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/crashtest"
)

var (
	heapRows = flag.Int("heap-rows", 0, "with `n` > 0, TestEnrichPeakHeap enriches a CSV of n rows and reports the program's peak heap")
	heapSync = flag.Bool("heap-sync", false, "TestEnrichPeakHeap runs the rows with -sync")
)

// heapReport, set in the environment with asCommand, names the file where
// the program writes its peak heap when it ends.
const heapReport = "BITSCALE_TEST_HEAP_REPORT"

// maxPeakHeap is the most heap the program may hold, whatever the size of
// its files.
const maxPeakHeap = 64 << 20

// TestEnrichPeakHeap runs the program on a CSV of -heap-rows rows (none
// unless given: it takes minutes for a million) against the fake, whose
// runs take no time, and reports the program's peak heap, which must stay
// under 64 MiB:
//
//	go test -run PeakHeap -heap-rows 1000000 -v ./examples/enrich-csv
//
// The program runs in a process of its own, so that its heap is measured
// apart from the fake's, which keeps every run. Its files are kept in
// memory where the system allows, as the other tests keep theirs, so that
// the journal's syncs do not make it wait for a disk.
func TestEnrichPeakHeap(t *testing.T) {
	if *heapRows <= 0 {
		t.Skip("give -heap-rows n to run it")
	}
	srv := bitscaletest.NewServer(bitscaletest.WithRateLimit(1<<30, time.Minute), bitscaletest.WithRunDurations(0, 0))
	t.Cleanup(srv.Close)
	if err := srv.SetCredits(bitscaletest.SeedWorkspaceID, 1<<50); err != nil {
		t.Fatal(err)
	}
	// The fake records each request; only its runs are needed here.
	forget, done := time.NewTicker(time.Second), make(chan struct{})
	defer func() { forget.Stop(); close(done) }()
	go func() {
		for {
			select {
			case <-forget.C:
				srv.ClearHistory()
			case <-done:
				return
			}
		}
	}()

	in, out := writeInput(t, "")
	if err := writeLeads(in, *heapRows); err != nil {
		t.Fatal(err)
	}
	args := []string{"-run", "-in", in, "-out", out, "-grid", "grid_001", "-concurrency", "8", "-poll", "1ms", "-every", strconv.Itoa(max(*heapRows/10, 1))}
	if *heapSync {
		args = append(args, "-sync")
	}
	env := []string{"BITSCALE_API_KEY=" + srv.APIKey(), "BITSCALE_BASE_URL=" + srv.URL(),
		"BITSCALE_WORKSPACE_ID=" + bitscaletest.SeedWorkspaceID, "BITSCALE_GRID_ID="}
	peak, elapsed := peakHeap(t, args, env)
	if n := len(srv.Runs()); n != *heapRows {
		t.Errorf("the fake ran %d times, want %d", n, *heapRows)
	}
	t.Logf("%d rows (sync %v), concurrency 8, in %v: peak heap %.1f MiB", *heapRows, *heapSync, elapsed.Round(time.Second), float64(peak)/(1<<20))
	// Run again, it reads the output and the journal through and finds
	// every row done: what a run resuming a large output holds.
	again, elapsed := peakHeap(t, args, env)
	if n := len(srv.Runs()); n != *heapRows {
		t.Errorf("the rerun sent %d runs, want none", n-*heapRows)
	}
	t.Logf("the rerun, every row done before (%v): peak heap %.1f MiB", elapsed.Round(time.Second), float64(again)/(1<<20))
	for _, p := range []uint64{peak, again} {
		if p >= maxPeakHeap {
			t.Errorf("peak heap %.1f MiB, want under %d MiB", float64(p)/(1<<20), maxPeakHeap>>20)
		}
	}
}

// peakHeap runs the program with args and env added to the test's, and
// returns its peak heap and how long it took.
func peakHeap(t *testing.T, args, env []string) (uint64, time.Duration) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "heap")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), asCommand+"=1", crashtest.NoRaceSleep(), heapReport+"="+report), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("the program: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	elapsed := time.Since(start)
	t.Logf("%s%s", stderr.String(), stdout.String())
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	peak, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return peak, elapsed
}

// writeLeads writes a CSV of n leads to path.
func writeLeads(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "Full Name,Company")
	for i := range n {
		fmt.Fprintf(w, "Lead %d,Company %d\n", i, i%1000)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runReportingPeakHeap runs the program as main does, sampling its heap
// every millisecond, and writes the highest sample to path when it ends.
// The heap sampled counts the bytes of heap objects, garbage not yet
// collected included, at the default GOGC: an upper bound of what the
// program holds.
func runReportingPeakHeap(path string) int {
	var peak atomic.Uint64
	sample := func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				sample()
			}
		}
	}()
	code := cli(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	close(done)
	sample()
	if err := os.WriteFile(path, []byte(strconv.FormatUint(peak.Load(), 10)), 0o644); err != nil {
		return 1
	}
	return code
}
