// Package bitscale is the Go client for the BitScale API: it runs BitScale's
// AI enrichment grids, reads workspaces, grids and runs, and verifies the
// webhooks BitScale sends when an asynchronous run ends.
//
// A Client is safe for concurrent use and should be reused: it keeps one
// connection pool, one view of the organization's rate limit and one retry
// policy for every goroutine that uses it.
//
//	client, err := bitscale.NewClient(apiKey, bitscale.WithWorkspaceID("ws_abc123"))
//	if err != nil {
//		return err
//	}
//	run, _, err := client.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{
//		Inputs: map[string]any{"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe"},
//	})
//
// Every method returns the decoded value, a *Response that carries the HTTP
// response and the rate limit it reported, and an error. Errors from the API
// are *APIError values that match the sentinel errors of this package with
// errors.Is (ErrGridNotFound, ErrInsufficientCredits, ErrRateLimited, ...).
//
// Requests that are safe to repeat are retried on network errors, 429 and
// 5xx answers. A grid run spends credits and the API has no idempotency key,
// so a run is sent again only when the server surely did not start it; when
// that is not certain the error matches ErrOutcomeUnknown.
//
// The package bitscaletest provides an in-process fake BitScale server for
// the tests of programs that use this package.
package bitscale

import (
	"net/url"
	"strings"
)

// Version is the version of this SDK. It is sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the base URL of version 1 of the BitScale API.
const DefaultBaseURL = "https://api.bitscale.ai/api/v1/"

// Header names as the API reference spells them. The API key and workspace
// headers are lower case with an underscore and a hyphen; they are written to
// the header map directly so that Go does not canonicalize them.
const (
	headerAPIKey    = "api_key"
	headerWorkspace = "workspace-id"

	// SignatureHeader carries the HMAC-SHA256 signature of a webhook body.
	SignatureHeader = "X-BitScale-Signature"
	// RunIDHeader carries the run ID of a webhook delivery.
	RunIDHeader = "X-BitScale-Run-Id"
)

// segment path-escapes one ID for use as a single path segment. It refuses
// an empty ID and the dot segments "." and "..", which would otherwise
// resolve to another endpoint; what names the ID goes into the error.
func segment(name, id string) (string, error) {
	switch strings.TrimSpace(id) {
	case "":
		return "", &ArgumentError{Name: name, Reason: "must not be empty"}
	case ".", "..":
		return "", &ArgumentError{Name: name, Reason: "must not be a dot segment"}
	}
	return url.PathEscape(id), nil
}
