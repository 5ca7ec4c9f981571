//go:build unix

package bitscale

import "syscall"

// cpuNanos returns the CPU time the process has used, or 0 where it
// cannot be read. Benchmarks report it beside the time per call because,
// on a shared machine, it hardly moves with the other programs' load.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
