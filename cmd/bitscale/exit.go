package main

import (
	"errors"
	"fmt"
)

// Exit codes, as the command's documentation lists them.
const (
	exitOK          = 0
	exitError       = 1   // an error from the API, the network or a file
	exitUsage       = 2   // a bad command line or configuration, found before anything was sent
	exitPartial     = 3   // a batch ended (or would, with --dry-run) with rows failed, unknown or not attempted
	exitInterrupted = 130 // stopped by Ctrl-C, as shells report SIGINT
)

// cliError is an error that chooses the exit code, and says what to do
// about it.
type cliError struct {
	code int
	err  error
	hint string // what to do about it, or ""
}

func (e *cliError) Error() string {
	if e.hint == "" {
		return e.err.Error()
	}
	return e.err.Error() + ": " + e.hint
}

func (e *cliError) Unwrap() error { return e.err }

// usageError is a command line or configuration that cannot work.
func usageError(format string, args ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// withCode wraps err to end the command with code and hint.
func withCode(code int, err error, hint string) error {
	return &cliError{code: code, err: err, hint: hint}
}

// exitCode returns the exit code for err.
func exitCode(err error) int {
	var ce *cliError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	}
	return exitError
}
