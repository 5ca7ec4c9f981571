package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// progressRows is how many rows the progress tests enrich. What they check
// holds for any number; several times enrich's default concurrency has
// rows end while others run, as in a long file.
const progressRows = 20

// TestProgressBarOnATerminal runs enrich with stderr on a pseudo-terminal
// and checks that the bar is redrawn in place and ends with the totals.
func TestProgressBarOnATerminal(t *testing.T) {
	t.Parallel()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx) // until the terminal closes
		close(read)
	}()

	srv := startFake(t)
	in, out := someLeads(t, progressRows)
	var stdout bytes.Buffer
	a := newApp(strings.NewReader(""), &stdout, tty, func(k string) string { return env(srv)[k] })
	a.poll = 2e6
	code := a.execute(context.Background(), []string{"enrich", "grid_001", in, "-o", out})
	tty.Close()
	<-read
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, screen.String())
	}
	got := screen.String()
	t.Logf("terminal:\n%q", got)
	if n := strings.Count(got, "\r"); n < 2 {
		t.Errorf("the bar was drawn %d times in place, want at least the first and the last", n)
	}
	frames := strings.Split(strings.TrimRight(got, "\r\n"), "\r")
	last := frames[len(frames)-1]
	for _, want := range []string{fmt.Sprintf("%d/%d", progressRows, progressRows), "rows/s",
		fmt.Sprintf("%d credits, 0 failed, 0 unknown", 12*progressRows)} {
		if !strings.Contains(last, want) {
			t.Errorf("the last frame %q does not show %q", last, want)
		}
	}
	if !strings.HasSuffix(got, "\n") {
		t.Errorf("the bar's line is not ended")
	}
	if strings.Contains(stdout.String(), "\r") {
		t.Errorf("the bar went to stdout")
	}
}

// TestProgressLinesWithoutATerminal checks the plain lines enrich prints
// when stderr is not a terminal: one form, rows counting up, the totals
// last, nothing redrawn.
func TestProgressLinesWithoutATerminal(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	in, out := someLeads(t, progressRows)
	r := cli(t, invocation{env: env(srv)}, "enrich", "grid_001", in, "-o", out) // a line on every update
	wantCode(t, r, exitOK)
	if strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "\x1b") {
		t.Errorf("stderr has carriage returns or escapes")
	}
	line := regexp.MustCompile(`^progress: (\d+)/` + strconv.Itoa(progressRows) + ` rows, \d+\.\d rows/s, ETA \S+, (\d+) credits, 0 failed, 0 unknown$`)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if !strings.HasPrefix(lines[0], fmt.Sprintf("Enriching %d rows of ", progressRows)+in+" with grid grid_001") {
		t.Errorf("first line: %q", lines[0])
	}
	done := 0
	for _, l := range lines[1:] {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not a progress line", l)
		}
		n, _ := strconv.Atoi(m[1])
		credits, _ := strconv.Atoi(m[2])
		if n != done+1 || credits != 12*n {
			t.Errorf("line %q after %d rows", l, done)
		}
		done = n
	}
	if done != progressRows {
		t.Errorf("the last line counts %d rows, want %d", done, progressRows)
	}
}

// TestRunsWaitOnATerminal checks that runs wait redraws one status line
// in place on a terminal, and leaves the last status on its own line.
func TestRunsWaitOnATerminal(t *testing.T) {
	t.Parallel()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx)
		close(read)
	}()

	srv := startFake(t)
	var run struct {
		ID string `json:"run_id"`
	}
	decode(t, cli(t, invocation{env: env(srv)}, "run", "grid_001", "--async", "--json", "-i", "Full Name=Jane Doe").stdout, &run)
	var stdout bytes.Buffer
	a := newApp(strings.NewReader(""), &stdout, tty, func(k string) string { return env(srv)[k] })
	a.poll = 2e6
	code := a.execute(context.Background(), []string{"runs", "wait", "grid_001", run.ID})
	tty.Close()
	<-read
	got := screen.String()
	t.Logf("terminal:\n%q", got)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Count(got, "\r") < 2 {
		t.Errorf("the status line was not redrawn in place")
	}
	if !strings.HasSuffix(got, "\r"+run.ID+"  completed\r\n") {
		t.Errorf("the last status is not on its own line")
	}
	if !strings.Contains(stdout.String(), "completed") {
		t.Errorf("stdout: %s", stdout.String())
	}
}
