//go:build !unix

package bitscale

func cpuNanos() int64 { return 0 }
