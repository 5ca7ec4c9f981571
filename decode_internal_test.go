package bitscale

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A body whose Content-Length is within the limit is read into one buffer
// of that size, not grown by copying; an empty one needs no buffer at all.
// Not parallel: AllocsPerRun counts every allocation of the process.
func TestReadLimitedSizesItsBufferFromContentLength(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 4096)
	for _, tc := range []struct {
		length, limit int64
		allocs        float64
	}{
		{length: 4096, limit: 4096, allocs: 1}, // exactly the limit
		{length: 4096, limit: 1 << 20, allocs: 1},
		{length: 0, limit: 4096, allocs: 0},
	} {
		r := bytes.NewReader(body[:tc.length])
		resp := &http.Response{Body: io.NopCloser(r), ContentLength: tc.length}
		var got []byte
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			r.Reset(body[:tc.length])
			got, err = readLimited(resp, tc.limit)
		})
		require.NoError(t, err, "length %d, limit %d", tc.length, tc.limit)
		assert.Equal(t, body[:tc.length], got, "length %d, limit %d", tc.length, tc.limit)
		assert.Equal(t, tc.allocs, allocs, "allocations reading %d bytes with a limit of %d", tc.length, tc.limit)
	}
}
