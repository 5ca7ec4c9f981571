package bitscale

import (
	"sync"
	"time"
)

// Polling schedule of a run whose webhook this process receives: polls
// are then a fallback, for a delivery that goes to another replica or
// never comes, so they start late and stay far apart.
const (
	WebhookPollInterval    = 10 * time.Second
	WebhookPollMaxInterval = time.Minute
)

// wakeLimit bounds the runs a wakeHub remembers that no wait holds.
const wakeLimit = 10000

// wakeHub hands the runs a webhook handler verified to the waits of one
// client (and of the clients ForWorkspace made from it), so that a wait
// ends the moment its run's delivery arrives instead of at its next poll.
type wakeHub struct {
	mu    sync.Mutex
	runs  map[string]*wakeEntry
	order []string // when each run was first seen, to forget the oldest
}

// wakeEntry is what the hub knows of one run.
type wakeEntry struct {
	done     chan struct{} // closed when the run's delivery arrived
	run      *Run          // the delivered run, once done is closed
	expected bool          // sent with a webhook URL by this client
	waits    int           // waits holding the entry
}

func newWakeHub() *wakeHub { return &wakeHub{runs: make(map[string]*wakeEntry)} }

// entry returns the entry of runID, making it if need be. The hub's lock
// must be held.
func (h *wakeHub) entry(runID string) *wakeEntry {
	if e, ok := h.runs[runID]; ok {
		return e
	}
	e := &wakeEntry{done: make(chan struct{})}
	h.runs[runID] = e
	h.order = append(h.order, runID)
	h.forget()
	return e
}

// forget drops the oldest entries no wait holds while there are too many.
func (h *wakeHub) forget() {
	for len(h.order) > wakeLimit {
		id := h.order[0]
		if e := h.runs[id]; e != nil && e.waits > 0 {
			return // held; the order resumes past it once released
		}
		delete(h.runs, id)
		h.order = h.order[1:]
	}
}

// expect notes that runID was sent with a webhook URL.
func (h *wakeHub) expect(runID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entry(runID).expected = true
}

// deliver hands over a verified run; a repeat changes nothing.
func (h *wakeHub) deliver(run *Run) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(run.ID)
	if e.run == nil {
		e.run = run
		close(e.done)
	}
}

// watch holds runID's entry for a wait, which must call release.
func (h *wakeHub) watch(runID string) *wakeEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entry(runID)
	e.waits++
	return e
}

// release ends a wait on runID.
func (h *wakeHub) release(runID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.runs[runID]; e != nil {
		e.waits--
	}
	h.forget()
}

// delivered returns the run delivered for e, or nil; h and e may be nil.
func (h *wakeHub) delivered(e *wakeEntry) *Run {
	if h == nil || e == nil {
		return nil
	}
	select {
	case <-e.done:
		h.mu.Lock()
		defer h.mu.Unlock()
		return e.run
	default:
		return nil
	}
}

// woken returns the channel closed when e's run is delivered, or nil for
// a nil e, which never wakes.
func (e *wakeEntry) woken() <-chan struct{} {
	if e == nil {
		return nil
	}
	return e.done
}
