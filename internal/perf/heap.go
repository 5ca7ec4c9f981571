package perf

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"time"
)

// heapMetric counts the bytes of heap objects, live or not yet swept. Unlike
// runtime.ReadMemStats, reading it does not stop the world, so it can be
// sampled while the measured code runs.
const heapMetric = "/memory/classes/heap/objects:bytes"

// PeakHeap returns by how much the heap grew, at its highest, while f ran:
// the most memory f held at once, which B/op (the total allocated) does not
// show. It runs f rounds times and returns the median peak: a sample can
// miss a peak, and garbage a collection has not freed yet can raise one.
//
// The collector is made eager while f runs (GOGC=1), so the heap stays
// within about 1% of what is live, and a goroutine samples the heap every
// 50µs or so. The heap at its peak, a body and the values decoded from it,
// stays allocated until the next collection ends, so short samples miss
// little; the figure is still approximate and meant to compare two ways of
// doing the same work. Nothing else should run meanwhile.
func PeakHeap(rounds int, f func()) uint64 {
	old := debug.SetGCPercent(1)
	defer debug.SetGCPercent(old)
	peaks := make([]uint64, max(rounds, 1))
	for i := range peaks {
		peaks[i] = peakOnce(f)
	}
	slices.Sort(peaks)
	return peaks[len(peaks)/2]
}

func peakOnce(f func()) uint64 {
	runtime.GC()
	base := heapBytes()
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		top := base
		for {
			top = max(top, heapBytes())
			select {
			case <-stop:
				peak <- top
				return
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	f()
	last := heapBytes()
	close(stop)
	top := max(<-peak, last)
	return top - base
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
