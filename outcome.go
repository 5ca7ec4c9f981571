package bitscale

import "strings"

// An OutcomeError is the error of a grid run that may or may not have been
// carried out, and so may have spent credits: the connection failed after
// the request was written, the attempt timed out, the server answered 5xx
// or a redirect, a 2xx answer could not be read, or an accepted async run
// was not seen to end. It matches ErrOutcomeUnknown. The SDK never sends
// such a run again by itself.
//
// What is known of the run is kept so that its outcome can be found out
// where the API allows it:
//
//   - RunID is set when the API accepted an async run: Runs.Get or
//     Runs.PollUntilDone tell how it ended.
//   - WebhookRef is set when the run was given a webhook URL: if the run
//     happened, its delivery carries the same ref (Run.WebhookRef in the
//     webhook handler), even when the answer to the request was lost.
//
// A sync run has neither: the API cannot list runs, so a sync run whose
// answer was lost cannot be looked up.
type OutcomeError struct {
	Err        error  // what happened
	RunID      string // the accepted run's ID, or ""
	WebhookRef string // the ref added to the run's webhook URL, or ""

	note string // replaces the default account of what is known
}

// Error says what happened and what is known of the run.
func (e *OutcomeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(" (")
	switch {
	case e.note != "":
		b.WriteString(e.note)
	case e.RunID != "":
		b.WriteString("run " + e.RunID + " was accepted and may still run; poll it with Runs.PollUntilDone")
	default:
		b.WriteString("not sent again: it may or may not have been carried out")
	}
	if e.WebhookRef != "" {
		b.WriteString("; its webhook carries ref " + e.WebhookRef)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns Err and ErrOutcomeUnknown.
func (e *OutcomeError) Unwrap() []error { return []error{e.Err, ErrOutcomeUnknown} }
