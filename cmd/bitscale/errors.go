package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bitscale/bitscale-go"
)

// hint says what to do about an error from the SDK, in one sentence.
func hint(err error) string {
	var outcome *bitscale.OutcomeError
	switch {
	case errors.As(err, &outcome) && outcome.RunID != "":
		return "the run was accepted and may still run: check it with 'bitscale runs get GRID " + outcome.RunID + "'"
	case errors.Is(err, bitscale.ErrOutcomeUnknown):
		return "the run may have happened and spent credits; check in BitScale before running it again"
	case errors.Is(err, bitscale.ErrNoWorkspace):
		return "set BITSCALE_WORKSPACE_ID or give --workspace; 'bitscale workspaces list' shows yours"
	case errors.Is(err, bitscale.ErrInvalidAPIKey), errors.Is(err, bitscale.ErrUnauthorized):
		return "check BITSCALE_API_KEY: it is wrong, revoked or expired"
	case errors.Is(err, bitscale.ErrWorkspaceNotFound):
		return "check --workspace or BITSCALE_WORKSPACE_ID; 'bitscale workspaces list' shows yours"
	case errors.Is(err, bitscale.ErrGridNotFound):
		return "'bitscale grids list' shows the grids of the workspace"
	case errors.Is(err, bitscale.ErrMissingRequiredField), errors.Is(err, bitscale.ErrInvalidColumnType):
		return "'bitscale grids get GRID' shows the grid's inputs and their types"
	case errors.Is(err, bitscale.ErrRunLimitExceeded):
		return "the grid's run quota is spent; wait for it to renew, or raise it in BitScale"
	case errors.Is(err, bitscale.ErrInsufficientCredits):
		return "add credits to the workspace in BitScale"
	case errors.Is(err, bitscale.ErrWebhookDeliveryFailed):
		return "BitScale delivers only to a public https:// URL"
	case errors.Is(err, bitscale.ErrRateLimited):
		return "the organization's rate limit is spent; try again in a minute"
	case errors.Is(err, bitscale.ErrServer):
		return "BitScale could not answer; try again later"
	case errors.Is(err, bitscale.ErrForbidden):
		return "the API key may not use this workspace or grid"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return ""
}

// describe returns err as one line: the API's code when there is one, what
// happened, and what to do about it.
func describe(err error) string {
	// The command's name starts the line; the SDK's errors start with it too.
	msg := strings.TrimPrefix(err.Error(), "bitscale: ")
	var ce *cliError
	if errors.As(err, &ce) && ce.hint != "" {
		return oneLine(msg)
	}
	var apiErr *bitscale.APIError
	if errors.As(err, &apiErr) && apiErr.Code != "" && !strings.Contains(msg, apiErr.Code) {
		msg = apiErr.Code + ": " + msg
	}
	if h := hint(err); h != "" {
		msg += ": " + h
	}
	return oneLine(msg)
}

// oneLine joins the lines of s, so that an error stays one line on stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// errorJSON is the form of an error on stderr with --json.
type errorJSON struct {
	Error struct {
		Code     string `json:"code,omitempty"` // the API's code, if any
		Message  string `json:"message"`
		ExitCode int    `json:"exit_code"`
	} `json:"error"`
}

func newErrorJSON(err error) errorJSON {
	var e errorJSON
	var apiErr *bitscale.APIError
	if errors.As(err, &apiErr) {
		e.Error.Code = apiErr.Code
	}
	e.Error.Message = describe(err)
	e.Error.ExitCode = exitCode(err)
	return e
}

// insufficientCredits says what the workspace has (balance, or -1 when it
// could not be read) and what the rest of the work would need, when the
// API refused a run for lack of credits.
func insufficientCredits(err error, balance, rows, perRow int) error {
	has := "the workspace's balance could not be read"
	if balance >= 0 {
		has = fmt.Sprintf("the workspace has %d credits left", balance)
	}
	need := "more"
	if perRow > 0 {
		need = fmt.Sprintf("about %d (%d credits a row)", rows*perRow, perRow)
	}
	return withCode(exitPartial, err, fmt.Sprintf("%s, and the %d rows not run would need %s; "+
		"add credits, then run the same command again to continue", has, rows, need))
}
