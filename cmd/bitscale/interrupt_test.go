package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
)

func TestFirstCtrlCStopsEnrichSecondAbandons(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &stderr, func(string) string { return "" })
	a.graceful.Store(true)
	signals := make(chan os.Signal, 2)
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		a.interrupts(signals, stop, cancel)
		close(done)
	}()

	signals <- os.Interrupt
	<-stop
	if ctx.Err() != nil {
		t.Fatal("the first Ctrl-C cancelled enrich's rows")
	}
	signals <- os.Interrupt
	<-done
	if ctx.Err() == nil {
		t.Fatal("the second Ctrl-C did not abandon the rows")
	}
	if !strings.Contains(stderr.String(), "Ctrl-C again abandons them") || !strings.Contains(stderr.String(), "Abandoning") {
		t.Errorf("stderr: %q", stderr.String())
	}
}

func TestCtrlCCancelsOtherCommandsAtOnce(t *testing.T) {
	t.Parallel()
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	signals := make(chan os.Signal, 1)
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	signals <- os.Interrupt
	a.interrupts(signals, stop, cancel)
	if ctx.Err() == nil {
		t.Error("the first Ctrl-C did not cancel")
	}
}

// cancelOn is a writer that cancels a context once what was written holds
// a string, as a Ctrl-C at that moment would.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	s      string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.s) {
		w.cancel()
	}
	return len(p), nil
}

func TestRunsWaitInterrupted(t *testing.T) {
	t.Parallel()
	srv := startFake(t, bitscaletest.WithRunDurations(time.Hour, time.Hour))
	var run bitscale.Run
	decode(t, cli(t, invocation{env: env(srv)}, "run", "grid_001", "--async", "--json", "-i", "Full Name=Jane Doe").stdout, &run)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelOn{s: run.ID + "  queued\n", cancel: cancel}
	e := env(srv)
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, stderr, func(k string) string { return e[k] })
	code := a.execute(ctx, []string{"runs", "wait", "grid_001", run.ID})
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if want := "'bitscale runs wait grid_001 " + run.ID + "' waits again"; !strings.Contains(stderr.buf.String(), want) {
		t.Errorf("stderr does not say %q: %s", want, stderr.buf.String())
	}
	if n := len(srv.Runs()); n != 1 {
		t.Errorf("the fake has %d runs, want 1", n)
	}
}
