package mcpserver

import (
	"context"
	"errors"
	"strings"

	"github.com/bitscale/bitscale-go"
)

// Codes of tool errors that have no code from the API.
const (
	CodeInvalidInputs  = "INVALID_INPUTS"  // a run's inputs do not fit its grid; nothing was sent
	CodeOutcomeUnknown = "OUTCOME_UNKNOWN" // a run may or may not have happened
	CodeNoWorkspace    = "NO_WORKSPACE"    // no workspace was given or configured
	CodeRunFailed      = "RUN_FAILED"      // a run ended failed, with no code of its own
	CodeError          = "ERROR"           // anything else
)

// ToolError is the error a tool reports: the API's code, or one of the
// codes above, and a sentence that says what happened and what to do.
type ToolError struct {
	Code    string
	Message string
	err     error
}

// Error returns the code, then the message: a model reads the code first.
func (e *ToolError) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the SDK's error, if any.
func (e *ToolError) Unwrap() error { return e.err }

// asToolError returns err as a *ToolError, with the API's code when it
// has one and a hint of what to do.
func asToolError(err error) *ToolError {
	var te *ToolError
	if errors.As(err, &te) {
		return te
	}
	msg := strings.TrimPrefix(err.Error(), "bitscale: ")
	if h := hint(err); h != "" {
		msg += ". " + h
	}
	return &ToolError{Code: code(err), Message: msg, err: err}
}

// code returns the code for err: the API's, when it gave one.
func code(err error) string {
	var apiErr *bitscale.APIError
	var runErr *bitscale.RunError
	switch {
	case errors.Is(err, bitscale.ErrOutcomeUnknown):
		return CodeOutcomeUnknown
	case errors.As(err, &apiErr) && apiErr.Code != "":
		return apiErr.Code
	case errors.As(err, &runErr):
		if runErr.Code != "" {
			return runErr.Code
		}
		return CodeRunFailed
	case errors.Is(err, bitscale.ErrNoWorkspace):
		return CodeNoWorkspace
	}
	return CodeError
}

// hint says what to do about err, in a sentence a model can act on.
func hint(err error) string {
	switch {
	case errors.Is(err, bitscale.ErrOutcomeUnknown):
		return "The run may or may not have happened and spent credits; it was not sent again. " +
			"Do not run it again: tell the user, who can check the grid in BitScale"
	case errors.Is(err, bitscale.ErrNoWorkspace):
		return "Give workspace_id (list_workspaces lists them), or have the user set BITSCALE_WORKSPACE_ID"
	case errors.Is(err, bitscale.ErrInvalidAPIKey), errors.Is(err, bitscale.ErrUnauthorized):
		return "The API key is wrong, revoked or expired: the user must set a valid BITSCALE_API_KEY"
	case errors.Is(err, bitscale.ErrWorkspaceNotFound):
		return "list_workspaces lists the workspaces this API key can use"
	case errors.Is(err, bitscale.ErrGridNotFound):
		return "list_grids lists the grids of the workspace"
	case errors.Is(err, bitscale.ErrMissingRequiredField), errors.Is(err, bitscale.ErrInvalidColumnType):
		return "get_grid lists the grid's input columns, their types and which are required"
	case errors.Is(err, bitscale.ErrRunLimitExceeded):
		return "The grid's run quota is spent: it renews with the plan, or the user can raise it in BitScale"
	case errors.Is(err, bitscale.ErrInsufficientCredits):
		return "The user must add credits to the workspace in BitScale before a grid can run"
	case errors.Is(err, bitscale.ErrRateLimited):
		return "The organization's rate limit is spent: wait a minute before calling again"
	case errors.Is(err, bitscale.ErrServer):
		return "BitScale could not answer: try again later"
	case errors.Is(err, bitscale.ErrForbidden):
		return "The API key may not use this workspace or grid"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "The call was cancelled"
	}
	return ""
}
