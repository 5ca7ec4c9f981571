package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/spf13/cobra"
)

// app is one invocation of the command: its streams, its environment, its
// global flags and the client they lead to.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// Global flags.
	json      bool
	fake      bool
	workspace string
	baseURL   string

	// stop is closed by the first Ctrl-C; commands that can stop
	// gracefully (enrich) set graceful, and the others are cancelled.
	stop     <-chan struct{}
	graceful atomic.Bool

	// progressEvery is how often progress is printed when stderr is not
	// a terminal.
	progressEvery time.Duration
	// poll, if set, is the first wait between polls of a run.
	poll time.Duration
	// fakeOptions configure the server --fake starts.
	fakeOptions []bitscaletest.Option

	srv    *bitscaletest.Server // the server --fake started, or nil
	client *bitscale.Client
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, progressEvery: 5 * time.Second}
}

// execute runs the command line args and returns the exit code.
func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if a.srv != nil {
		a.srv.Close()
	}
	if err == nil {
		return exitOK
	}
	if isFlagError(err) {
		fmt.Fprintf(a.stderr, "bitscale: %s\nRun '%s --help' for usage.\n", err, commandPath(root, args))
		return exitUsage
	}
	if a.json {
		b, _ := json.Marshal(newErrorJSON(err))
		fmt.Fprintf(a.stderr, "%s\n", b)
	} else {
		fmt.Fprintln(a.stderr, "bitscale:", describe(err))
	}
	return exitCode(err)
}

// isFlagError reports whether err is cobra's refusal of the command line,
// which it returns as a plain error.
func isFlagError(err error) bool {
	var ce *cliError
	if errors.As(err, &ce) {
		return false
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument",
		"flag needs an argument", "accepts ", "requires at least", "requires at most", "required flag", "bad flag syntax",
		"if any flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// commandPath names the command args select, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	if c, _, err := root.Find(args); err == nil {
		return c.CommandPath()
	}
	return root.CommandPath()
}

// interrupts handles Ctrl-C: the first closes stop, and cancels the
// commands that cannot stop gracefully; the second cancels everything.
func (a *app) interrupts(signals <-chan os.Signal, stop chan<- struct{}, cancel context.CancelFunc) {
	<-signals
	close(stop)
	if !a.graceful.Load() {
		cancel()
		return
	}
	fmt.Fprintln(a.stderr, "\nStopping: no new rows start; the rows running finish and are written. Ctrl-C again abandons them.")
	<-signals
	fmt.Fprintln(a.stderr, "\nAbandoning the rows running.")
	cancel()
}

// connect returns the client the flags and the environment configure, or
// one of a fake server started for --fake.
func (a *app) connect() (*bitscale.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	ua := bitscale.WithUserAgent("bitscale-cli/" + bitscale.Version)
	if a.fake {
		a.srv = bitscaletest.NewServer(a.fakeOptions...)
		opts := []bitscale.Option{ua}
		if a.workspace != "" {
			opts = append(opts, bitscale.WithWorkspaceID(a.workspace))
		}
		a.client = a.srv.Client(opts...)
		return a.client, nil
	}
	key := a.getenv("BITSCALE_API_KEY")
	if key == "" {
		return nil, usageError("no API key: set BITSCALE_API_KEY (export BITSCALE_API_KEY=... with a key from your BitScale settings), " +
			"or add --fake to try the command on an embedded fake BitScale")
	}
	opts := []bitscale.Option{ua}
	if ws := firstOf(a.workspace, a.getenv("BITSCALE_WORKSPACE_ID")); ws != "" {
		opts = append(opts, bitscale.WithWorkspaceID(ws))
	}
	if base := firstOf(a.baseURL, a.getenv("BITSCALE_BASE_URL")); base != "" {
		opts = append(opts, bitscale.WithBaseURL(base))
	}
	c, err := bitscale.NewClient(key, opts...)
	if err != nil {
		return nil, withCode(exitUsage, err, "")
	}
	a.client = c
	return c, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// printJSON writes v to stdout as indented JSON, the stable form --json
// promises.
func (a *app) printJSON(v any) error { return writeJSON(a.stdout, v) }

// writeJSON writes v to w as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
