package bitscale_test

import (
	"context"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/perf"
)

// These tests check costs that grow with a program's work by counting,
// never by timing: connections opened, 429s, polls. The timed figures are
// printed by go run ./internal/benchreport.

func TestSequentialCallsShareOneConnection(t *testing.T) {
	t.Parallel()
	res, err := perf.Connections(1, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls, answers by status %v, %d pauses", res.Calls, res.Statuses, res.Pauses)
	// A pause (a stalled machine) may send the next run on a new
	// connection, as it should; nothing else opens one.
	if res.Conns > 1+res.Pauses {
		t.Errorf("%d sequential calls, errors among them, %d pauses, opened %d connections, want %d at most", res.Calls, res.Pauses, res.Conns, 1+res.Pauses)
	}
}

func TestParallelCallersOpenOneConnectionEach(t *testing.T) {
	t.Parallel()
	const callers = 8
	res, err := perf.Connections(callers, 200)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls, answers by status %v, %d connections, %d pauses", res.Calls, res.Statuses, res.Conns, res.Pauses)
	// What is asserted is that answers of every status keep their
	// connection: 200 calls open about one connection per caller. At a cold
	// start net/http may dial for a request that a connection freed
	// meanwhile then serves, leaving the dialled one spare, so a loaded
	// machine can see a few more than one per caller, never one per call.
	if most := 2*callers + res.Pauses*callers; res.Conns > most {
		t.Errorf("%d parallel callers opened %d connections for %d calls, %d pauses, want at most %d", callers, res.Conns, res.Calls, res.Pauses, most)
	}
}

func TestRateLimitGateSurfacesNo429(t *testing.T) {
	t.Parallel()
	// More requests than one window allows: the gate must hold some for
	// the next window.
	run := perf.LimitRun{Gate: true, Limit: 20, Window: time.Second, Callers: 8, Requests: 30}
	res, err := run.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2xx per window %v; 429s on the wire %d", res.PerWindow, res.Wire429)
	if res.Surfaced429 != 0 || res.Failed != 0 {
		t.Errorf("with the gate on, %d calls returned 429 and %d another error, want none",
			res.Surfaced429, res.Failed)
	}
}

func TestPollUntilDoneCountsPolls(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]*bitscale.PollOptions{"default": nil, "fixed": perf.FixedPoll} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A run of a second, so that the first poll, sent at once,
			// comes before it ends on a busy machine too.
			res, err := perf.PollRun{Duration: time.Second, Options: opts}.Measure(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d polls, seen %s after completion", res.Polls, res.Delay)
			// The first poll comes at once, before the run can be done.
			if res.Polls < 2 {
				t.Errorf("%d polls, want at least 2", res.Polls)
			}
		})
	}
}
