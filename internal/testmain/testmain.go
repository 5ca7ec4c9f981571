// Package testmain is the TestMain of the project's test packages whose
// tests wait on sockets, servers, subprocesses and timers more than on
// the CPU.
package testmain

import (
	"flag"
	"runtime"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// Run runs m's tests, perCore of them at once for each core unless
// -parallel was given, then fails them if a goroutine outlived them, and
// exits with their status. go test's default, one test per core, leaves
// tests that wait queued behind each other while the machine idles. When
// fuzzing, -parallel is left as it is: it is then how many processes
// fuzz.
func Run(m *testing.M, perCore int) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" || f.Name == "test.fuzz" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(perCore*runtime.GOMAXPROCS(0)))
	}
	goleak.VerifyTestMain(m)
}
