package bitscale_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A run that was carried out comes back whole even when an output is a
// number a float64 cannot hold: that number is kept as json.Number, the
// other outputs as they always decode, and no error is returned.
func TestRunWithAnOutOfRangeNumberKeepsItsOutputs(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"plain":    `{"run_id":"r1","status":"completed","outputs":{"c1":1e400,"c2":"ok","c3":2.5,"c4":[1,-1e999]}}`,
		"envelope": `{"success":true,"data":{"run_id":"r1","status":"completed","outputs":{"c1":1e400,"c2":"ok","c3":2.5,"c4":[1,-1e999]}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newTestClient(t, serveJSON(200, []byte(body)))
			run, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
			require.NoError(t, err)
			require.NotNil(t, run)
			assert.Equal(t, "r1", run.ID)
			assert.Equal(t, bitscale.RunCompleted, run.Status)
			assert.Equal(t, map[string]any{
				"c1": json.Number("1e400"),
				"c2": "ok",
				"c3": 2.5,
				"c4": []any{1.0, json.Number("-1e999")},
			}, run.Outputs)
		})
	}
}

// A number that does not fit a typed field is still an error.
func TestOutOfRangeNumberInATypedFieldIsADecodeError(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"run_id":"r1","status":"completed","credits":{"consumed":1e400}}`)))
	run, _, err := c.Grids.Run(context.Background(), "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"a": "b"}})
	var de *bitscale.DecodeError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, bitscale.ErrOutcomeUnknown, "carried out, answer unreadable")
	assert.Nil(t, run)
}
