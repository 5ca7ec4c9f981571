package bitscale

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWakeHubForgetsTheOldestRunsNoWaitHolds(t *testing.T) {
	t.Parallel()
	h := newWakeHub()
	h.watch("held") // the oldest, held by a wait
	for i := range wakeLimit + 10 {
		h.deliver(&Run{ID: fmt.Sprint("run_", i), Status: RunCompleted})
	}
	assert.Contains(t, h.runs, "held", "a run a wait holds is kept")
	assert.Contains(t, h.runs, "run_0", "the runs after a held one wait for it to be released")

	h.release("held")
	h.deliver(&Run{ID: "last", Status: RunCompleted})
	assert.Len(t, h.runs, wakeLimit)
	assert.NotContains(t, h.runs, "held")
	assert.NotContains(t, h.runs, "run_0")
	assert.Contains(t, h.runs, "last")
}

func TestWakeHubKeepsTheFirstDelivery(t *testing.T) {
	t.Parallel()
	h := newWakeHub()
	e := h.watch("run_1")
	assert.Nil(t, h.delivered(e))
	h.deliver(&Run{ID: "run_1", Status: RunCompleted, Outputs: map[string]any{"c": "first"}})
	h.deliver(&Run{ID: "run_1", Status: RunCompleted, Outputs: map[string]any{"c": "repeat"}})
	select {
	case <-e.woken():
	default:
		t.Fatal("the wait is not woken")
	}
	assert.Equal(t, "first", h.delivered(e).Outputs["c"])
	assert.Nil(t, (*wakeHub)(nil).delivered(nil), "no hub, nothing delivered")
	assert.Nil(t, (*wakeEntry)(nil).woken(), "no entry never wakes")
}
