package bitscale_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// NewRequest's header values are shared between requests; a caller who
// changes its request's headers must not change the next request's.
func TestNewRequestHeadersAreTheCallersToChange(t *testing.T) {
	t.Parallel()
	c, _ := mockClient(t)
	first, err := c.NewRequest(context.Background(), "POST", "grids/grid_001/run", map[string]any{"inputs": map[string]any{"a": 1}})
	require.NoError(t, err)
	first.Header.Add("Accept", "text/plain")
	first.Header["User-Agent"][0] = "changed/1.0"
	first.Header.Add("Content-Type", "charset=utf-8")

	second, err := c.NewRequest(context.Background(), "POST", "grids/grid_001/run", map[string]any{"inputs": map[string]any{"a": 1}})
	require.NoError(t, err)
	assert.Equal(t, []string{"application/json"}, second.Header["Accept"])
	assert.Equal(t, []string{"application/json"}, second.Header["Content-Type"])
	assert.Equal(t, "bitscale-go/", second.Header["User-Agent"][0][:len("bitscale-go/")])
}
