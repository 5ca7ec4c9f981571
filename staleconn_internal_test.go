package bitscale

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The default transport closes idle connections before a load balancer
// with the common 60s idle timeout would.
func TestDefaultTransportDropsIdleConnectionsBeforeLoadBalancers(t *testing.T) {
	t.Parallel()
	c, err := NewClient("bsk_test")
	require.NoError(t, err)
	tr, ok := c.core.conns.next.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, 30*time.Second, tr.IdleConnTimeout)
	assert.Equal(t, 100, tr.MaxIdleConnsPerHost)
}
