package bitscale

import (
	"encoding/json"
	"strconv"
	"time"
)

// A run is decoded by hand too: it is the answer to every sync run and
// every poll, and encoding/json spent more on it than the rest of a sync
// run's call. Its outputs are any JSON values, decoded as encoding/json
// decodes into an interface.

// The fields of a Run that encoding/json would merge, or fill in place, if
// a body gave them twice: the hand decoder gives up instead.
const (
	runOutputs = 1 << iota
	runCredits
	runError
	runStartedAt
	runCompletedAt
)

func (r *Run) decodeJSON(s *scanner) bool {
	var seen int
	once := func(field int) bool {
		given := seen&field != 0
		seen |= field
		return !given
	}
	return s.object(runNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "run_id":
			return s.str(&r.ID)
		case "grid_id":
			return s.str(&r.GridID)
		case "mode":
			return s.enum((*string)(&r.Mode), runModes)
		case "status":
			return s.enum((*string)(&r.Status), runStatuses)
		case "poll_url":
			return s.str(&r.PollURL)
		case "outputs":
			return once(runOutputs) && s.outputs(&r.Outputs)
		case "credits":
			return once(runCredits) && s.credits(&r.Credits)
		case "error":
			return once(runError) && s.runError(&r.Error)
		case "started_at":
			return once(runStartedAt) && s.timePtr(&r.StartedAt)
		case "completed_at":
			return once(runCompletedAt) && s.timePtr(&r.CompletedAt)
		}
		return s.skip(1)
	})
}

// outputs decodes an object into *p, a nil map. A null leaves it nil.
func (s *scanner) outputs(p *map[string]any) bool {
	if s.literal("null") {
		return true
	}
	m := map[string]any{}
	if !s.members(m, 1) {
		return false
	}
	*p = m
	return true
}

// credits decodes an object into a new Credits at *p, which is nil. A
// null leaves it nil.
func (s *scanner) credits(p **Credits) bool {
	if s.literal("null") {
		return true
	}
	c := new(Credits)
	ok := s.object(creditsNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "consumed":
			return s.integer(&c.Consumed)
		case "remaining":
			return s.integer(&c.Remaining)
		}
		return s.skip(1)
	})
	*p = c
	return ok
}

// runError decodes a run's error, a string or an object, with
// RunError.UnmarshalJSON, as encoding/json would. A null leaves *p nil.
func (s *scanner) runError(p **RunError) bool {
	if s.literal("null") {
		return true
	}
	start := s.pos
	if !s.skip(1) {
		return false
	}
	e := new(RunError)
	if e.UnmarshalJSON(s.buf[start:s.pos]) != nil {
		return false
	}
	*p = e
	return true
}

// timePtr decodes a timestamp into a new time at *p, which is nil. A null
// leaves it nil.
func (s *scanner) timePtr(p **time.Time) bool {
	if s.literal("null") {
		return true
	}
	t := new(time.Time)
	if !s.time(t) {
		return false
	}
	*p = t
	return true
}

// members decodes an object's members into m as encoding/json decodes
// into a map: every name is kept as it is, and a name given twice keeps
// its last value.
func (s *scanner) members(m map[string]any, depth int) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		s.space()
		start, end, plain, ok := s.stringToken()
		if !ok || !s.next(':') {
			return false
		}
		name := string(s.buf[start+1 : end-1])
		if !plain && json.Unmarshal(s.buf[start:end], &name) != nil {
			return false
		}
		var v any
		if !s.value(&v, depth) {
			return false
		}
		m[name] = v
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// value decodes any JSON value into *p as encoding/json decodes into an
// interface: an object as a map[string]any, an array as a []any and a
// number as a float64. A number out of a float64's range is given up,
// for unmarshal to keep as a json.Number.
func (s *scanner) value(p *any, depth int) bool {
	s.space()
	if s.pos >= len(s.buf) {
		return false
	}
	switch s.buf[s.pos] {
	case '"':
		var str string
		if !s.str(&str) {
			return false
		}
		*p = str
	case '{':
		if depth >= maxDepth {
			return false
		}
		m := map[string]any{}
		if !s.members(m, depth+1) {
			return false
		}
		*p = m
	case '[':
		if depth >= maxDepth {
			return false
		}
		var a []any
		if !array(s, &a, func(e *any) bool { return s.value(e, depth+1) }) {
			return false
		}
		*p = a
	case 't', 'f':
		var b bool
		if !s.boolean(&b) {
			return false
		}
		*p = b
	case 'n':
		if !s.literal("null") {
			return false
		}
		*p = nil
	default:
		start := s.pos
		if !s.number() {
			return false
		}
		f, err := strconv.ParseFloat(string(s.buf[start:s.pos]), 64)
		if err != nil {
			return false
		}
		*p = f
	}
	return true
}

// The names and enumerations of a run, for object and enum.
var (
	runNames     = []string{"run_id", "grid_id", "mode", "status", "poll_url", "outputs", "credits", "error", "started_at", "completed_at"}
	creditsNames = []string{"consumed", "remaining"}
	runModes     = []string{string(ModeSync), string(ModeAsync)}
	runStatuses  = []string{string(RunQueued), string(RunRunning), string(RunCompleted), string(RunFailed)}
)
