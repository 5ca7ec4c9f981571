package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a batch got: a bar redrawn in place on a
// terminal, and otherwise a plain line every few seconds, which suits a
// log.
type progress interface {
	update(p bitscale.BatchProgress)
	finish()
}

// newProgress returns the progress for w: a bar when w is a terminal.
// every is how often a plain line is printed otherwise; 0 prints one on
// every update.
func newProgress(w io.Writer, total int, every time.Duration) progress {
	if isTerminal(w) {
		return newBar(w, total)
	}
	return &lines{w: w, total: total, every: every, start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bar is the progress bar of a terminal. It is redrawn at most every
// tenth of a second, and always at the end.
type bar struct {
	w     io.Writer
	pb    *progressbar.ProgressBar
	last  bitscale.BatchProgress
	drawn time.Time
}

const barEvery = 100 * time.Millisecond

func newBar(w io.Writer, total int) *bar {
	pb := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetDescription(describeProgress(bitscale.BatchProgress{})),
	)
	return &bar{w: w, pb: pb}
}

func (b *bar) update(p bitscale.BatchProgress) {
	b.last = p
	if now := time.Now(); now.Sub(b.drawn) >= barEvery {
		b.draw()
		b.drawn = now
	}
}

func (b *bar) draw() {
	b.pb.Describe(describeProgress(b.last))
	b.pb.Set(b.last.Done)
}

// finish draws the bar a last time, with the totals, and ends its line.
func (b *bar) finish() {
	b.draw()
	b.pb.Exit()
	fmt.Fprintln(b.w)
}

// describeProgress is what the bar shows after the count and rate.
func describeProgress(p bitscale.BatchProgress) string {
	return fmt.Sprintf("%d credits, %d failed, %d unknown", p.Credits, p.Failed, p.Unknown)
}

// lines prints a plain line every so often.
type lines struct {
	w       io.Writer
	total   int
	every   time.Duration
	start   time.Time
	printed time.Time
	last    bitscale.BatchProgress
	dirty   bool // last is not printed yet
}

func (l *lines) update(p bitscale.BatchProgress) {
	l.last, l.dirty = p, true
	if now := time.Now(); l.every == 0 || now.Sub(l.printed) >= l.every {
		l.print(now)
	}
}

func (l *lines) finish() {
	if l.dirty {
		l.print(time.Now())
	}
}

// print writes one line: rows done of the total, rate, time left, credits
// and failures.
func (l *lines) print(now time.Time) {
	p := l.last
	elapsed := now.Sub(l.start)
	rate := float64(p.Done-p.Resumed) / elapsed.Seconds()
	eta := "-"
	if rate > 0 && l.total > p.Done {
		eta = time.Duration(float64(l.total-p.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(l.w, "progress: %d/%d rows, %.1f rows/s, ETA %s, %d credits, %d failed, %d unknown\n",
		p.Done, l.total, rate, eta, p.Credits, p.Failed, p.Unknown)
	l.printed, l.dirty = now, false
}
