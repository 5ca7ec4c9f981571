package main

import (
	"fmt"
	"io"

	"github.com/bitscale/bitscale-go"
	"github.com/schollz/progressbar/v3"
)

// status shows a run's status as it changes while it is waited for: on a
// terminal one line redrawn in place, with a spinner and the time spent;
// otherwise a line per change.
type status interface {
	show(r *bitscale.Run)
	end()
}

func newStatus(w io.Writer) status {
	if isTerminal(w) {
		return &statusBar{w: w, pb: progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetSpinnerChangeInterval(0), // redrawn on each change, by no goroutine
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)}
	}
	return statusLines{w}
}

// statusBar is the line redrawn on a terminal.
type statusBar struct {
	w    io.Writer
	pb   *progressbar.ProgressBar
	last string
}

func (s *statusBar) show(r *bitscale.Run) {
	s.last = fmt.Sprintf("%s  %s", r.ID, r.Status)
	s.pb.Describe(s.last)
}

// end leaves the last status on its own line.
func (s *statusBar) end() {
	s.pb.Clear()
	s.pb.Exit()
	fmt.Fprintln(s.w, s.last)
}

// statusLines prints a line per change, for logs.
type statusLines struct{ w io.Writer }

func (s statusLines) show(r *bitscale.Run) { fmt.Fprintf(s.w, "%s  %s\n", r.ID, r.Status) }

func (s statusLines) end() {}
