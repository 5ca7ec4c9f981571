package bitscale_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/fakeserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGateKeepsBusyClientUnderTheLimit drives 16 goroutines through one
// client against the fake at a small limit and a short window.
func TestGateKeepsBusyClientUnderTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("spans several rate-limit windows")
	}
	const limit, callers, calls = 40, 16, 10
	srv := fakeserver.New(fakeserver.WithRateLimit(limit, time.Second))
	defer srv.Close()
	c, err := bitscale.NewClient(srv.APIKey(), bitscale.WithBaseURL(srv.URL()),
		bitscale.WithRetryWait(10*time.Millisecond, 10*time.Second))
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	var wg sync.WaitGroup
	errs := make(chan error, callers*calls)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				_, _, err := c.Users.Me(context.Background())
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "no 429 reaches the caller")
	}

	reqs := srv.Requests()
	var refused int
	for _, r := range reqs {
		if r.Status == 429 {
			refused++
		}
	}
	t.Logf("%d requests on the wire for %d calls, %d answered 429", len(reqs), callers*calls, refused)
	assert.Less(t, float64(refused), 0.01*float64(len(reqs)), "429s on the wire under 1%% of requests")
	assert.Equal(t, callers*calls, len(reqs)-refused)
}
