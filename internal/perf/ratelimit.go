package perf

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// LimitRun is a program that has more work than the rate limit lets
// through: Callers goroutines share Requests calls to Users.Me against a
// fake that allows Limit requests per Window.
type LimitRun struct {
	Gate     bool // the client's rate-limit gate (WithRateLimitGate)
	Limit    int
	Window   time.Duration // whole seconds, as the fake counts
	Callers  int
	Requests int
}

// LimitResult is what a LimitRun measured.
type LimitResult struct {
	LimitRun
	Elapsed     time.Duration // from the first call to the last return
	PerWindow   []int         // 2xx answers in each window, in order
	Busy        int           // leading windows of PerWindow that ended before the work did
	Wire429     int           // 429 answers the server sent
	Surfaced429 int           // calls that returned ErrRateLimited
	Failed      int           // calls that returned another error
}

// Use returns the fewest and the mean 2xx answers per busy window, as a
// fraction of the limit: how much of the organization's budget the client
// used while it had work waiting. It returns zeros when no window ended
// before the work did.
func (r LimitResult) Use() (least, mean float64) {
	busy := r.PerWindow[:r.Busy]
	if len(busy) == 0 {
		return 0, 0
	}
	sum := 0
	for _, n := range busy {
		sum += n
	}
	return float64(slices.Min(busy)) / float64(r.Limit), float64(sum) / float64(len(busy)*r.Limit)
}

// Measure runs the program, starting at the beginning of one of the fake's
// windows (so it waits up to one window first), with the SDK's default
// retry policy and waits.
func (lr LimitRun) Measure(ctx context.Context) (LimitResult, error) {
	fake := fakeserver.New(fakeserver.WithRateLimit(lr.Limit, lr.Window))
	defer fake.Close()
	wire := NewWire(fake.Handler(), 0)
	defer wire.Close()
	c, err := bitscale.NewClient(fake.APIKey(), bitscale.WithBaseURL(wire.URL()), bitscale.WithRateLimitGate(lr.Gate))
	if err != nil {
		return LimitResult{}, err
	}
	defer c.CloseIdleConnections()

	if err := sleepUntil(ctx, nextWindow(time.Now(), lr.Window)); err != nil {
		return LimitResult{}, err
	}
	res := LimitResult{LimitRun: lr}
	var surfaced, failed, next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range lr.Callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(lr.Requests) {
				_, _, err := c.Users.Me(ctx)
				switch {
				case errors.Is(err, bitscale.ErrRateLimited):
					surfaced.Add(1)
				case err != nil:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	res.Elapsed = end.Sub(start)
	res.Surfaced429, res.Failed = int(surfaced.Load()), int(failed.Load())
	res.PerWindow, res.Busy = perWindow(wire.Statuses(), end)
	res.Wire429 = wire.Count(429)
	return res, ctx.Err()
}

// perWindow counts the 2xx answers of each window, named by the reset the
// fake reported with them, and how many windows ended by end.
func perWindow(statuses []Status, end time.Time) (counts []int, busy int) {
	byReset := map[int64]int{}
	for _, s := range statuses {
		if s.Code/100 == 2 {
			byReset[s.Reset]++
		}
	}
	resets := make([]int64, 0, len(byReset))
	for r := range byReset {
		resets = append(resets, r)
	}
	slices.Sort(resets)
	for _, r := range resets {
		counts = append(counts, byReset[r])
		if !time.Unix(r, 0).After(end) {
			busy++
		}
	}
	return counts, busy
}

// nextWindow returns when the fake's next window starts: windows are whole
// seconds long and start at whole multiples of their length since the
// Unix epoch.
func nextWindow(now time.Time, window time.Duration) time.Time {
	secs := max(int64((window+time.Second-1)/time.Second), 1)
	return time.Unix((now.Unix()/secs+1)*secs, 0)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
