package bitscale_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One answer with the window spent and a reset centuries away does not
// shut the gate for good: calls fail at once for the maximum wait, then a
// call goes out, learns the real window, and calls go through again.
func TestFarResetShutsTheGateForTheMaximumWaitAtMost(t *testing.T) {
	const maxWait = 100 * time.Millisecond
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "100")
		if n.Add(1) == 1 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "99999999999") // the year 5138
		} else {
			w.Header().Set("X-RateLimit-Remaining", "98")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
		}
		serveJSON(200, []byte(`{"id":"usr_abc123"}`))(w, r)
	})
	c, _ := newTestClient(t, h, bitscale.WithRetryWait(time.Millisecond, maxWait))
	_, _, err := c.Users.Me(context.Background())
	require.NoError(t, err)

	_, _, err = c.Users.Me(context.Background())
	t.Logf("err=%v", err)
	require.ErrorIs(t, err, bitscale.ErrRateLimited, "a wait longer than the maximum fails at once")
	assert.EqualValues(t, 1, n.Load())

	time.Sleep(2 * maxWait)
	_, _, err = c.Users.Me(context.Background())
	require.NoError(t, err, "the reset is not believed for longer than the maximum wait")
	_, _, err = c.Users.Me(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 3, n.Load())
	assert.Equal(t, 98, c.RateLimit().Remaining)
}
