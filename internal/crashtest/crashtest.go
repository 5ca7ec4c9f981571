// Package crashtest kills a program with SIGKILL at moments the fake
// BitScale server it talks to times, for the crash tests of the programs
// built on the SDK.
package crashtest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
)

// NoRaceSleep returns the GORACE setting, as an environment entry, that
// keeps a test binary built with -race from sleeping a second before it
// exits, as the race detector does by default: the program's every run
// would take a second more.
func NoRaceSleep() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// Killer kills a program with SIGKILL at moments the fake it talks to
// times. Latency is how long a run takes on the fake; the fake's enricher
// must be Enrich.
type Killer struct {
	Latency time.Duration
	ended   atomic.Int64 // runs that reached their end on the fake

	mu   sync.Mutex
	at   int64  // kill once ended reaches this
	kill func() // kills the program running, once
}

// Enrich is the fake's enricher: it counts the runs that reach their end,
// and has the program killed when they reach the count chosen.
func (k *Killer) Enrich(ctx context.Context, req bitscaletest.EnrichRequest) (map[string]any, error) {
	n := k.ended.Add(1)
	k.mu.Lock()
	if k.kill != nil && n >= k.at {
		time.AfterFunc(rand.N(k.Latency), k.kill)
		k.kill = nil
	}
	k.mu.Unlock()
	return bitscaletest.DefaultEnricher(ctx, req)
}

// Run starts the program bin with args and env and kills it with SIGKILL
// after 1 to 8 runs ended on the fake, or now and then a random time after
// its start, or lets it end first, and reports whether it killed it. It
// fails the test if the program could not run, or failed before it was
// killed with an exit code other than those in ok.
func (k *Killer) Run(t *testing.T, bin string, args, env []string, ok ...int) bool {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	var killed atomic.Bool
	kill := sync.OnceFunc(func() {
		killed.Store(true) // before: the program may be seen dead before Kill returns
		cmd.Process.Kill()
	})
	k.mu.Lock()
	if rand.N(4) == 0 {
		time.AfterFunc(rand.N(3*k.Latency), kill)
	} else {
		k.at, k.kill = k.ended.Load()+1+rand.N(int64(8)), kill
	}
	k.mu.Unlock()
	// Should the program hang, the test ends rather than wait for ever.
	watchdog := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	err := cmd.Wait()
	k.mu.Lock()
	k.kill = nil
	k.mu.Unlock()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", bin, err)
	}
	if err != nil && !killed.Load() && !slices.Contains(ok, exit.ExitCode()) {
		t.Fatalf("the program failed before it was killed: %v\n%s", err, stderr.String())
	}
	return err != nil && killed.Load()
}
