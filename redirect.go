package bitscale

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// errDowngrade is the error of a redirect from https to plain http.
var errDowngrade = errors.New("refusing a redirect from https to http")

// checkRedirect returns a redirect policy that never follows a redirect of
// a request that is not safe to send twice, which would make its outcome a
// guess (the answer to the redirect is not the answer to the run), and
// never follows one from https to http, saying where it led, without key,
// should the server have put it in the URL; then asks next, or stops after
// 10.
func checkRedirect(next func(*http.Request, []*http.Request) error, key string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case !replayable(via[0].Method):
			return http.ErrUseLastResponse
		case via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https":
			to := strings.ReplaceAll(req.URL.Redacted(), key, redacted)
			return fmt.Errorf("%w (to %s)", errDowngrade, to)
		case next != nil:
			return next(req, via)
		case len(via) >= 10:
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
