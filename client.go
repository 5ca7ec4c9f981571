package bitscale

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-retryablehttp"
)

// ErrNoWorkspace is returned, before any request is sent, by the methods of
// endpoints that need a workspace when the client has none.
var ErrNoWorkspace = errors.New("bitscale: no workspace ID: set one with WithWorkspaceID, " +
	"the BITSCALE_WORKSPACE_ID environment variable, or Client.ForWorkspace")

// Client talks to the BitScale API. Create one with NewClient or
// NewClientFromEnv and share it: it is safe for concurrent use.
type Client struct {
	Users      *UsersService
	Workspaces *WorkspacesService
	Grids      *GridsService
	Runs       *RunsService

	workspaceID string
	core        *core // shared with the clients made by ForWorkspace
}

// core is what every client of one NewClient call shares.
type core struct {
	key         *string // a pointer, which fmt prints as an address
	baseURL     *url.URL
	base        string // baseURL as a string, to join paths to
	userAgent   string
	maxResponse int64
	gate        *gate
	conns       *transport
	wake        atomic.Pointer[wakeHub] // set once a webhook handler tells this client of runs
	replayable  *retryablehttp.Client   // for requests safe to send twice
	once        *retryablehttp.Client   // for requests that are not (grid runs)
}

type service struct{ client *Client }

// UsersService reads the account of the API key's user.
type UsersService service

// WorkspacesService lists and reads workspaces.
type WorkspacesService service

// GridsService lists, reads and runs grids.
type GridsService service

// RunsService reads asynchronous runs and waits for them to end.
type RunsService service

// NewClient returns a client that authenticates with apiKey. It sends no
// request. It returns an error for an empty key, a key that cannot be sent
// in a header, or an invalid option.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	key := strings.TrimSpace(apiKey)
	if key == "" {
		return nil, errors.New("bitscale: empty API key: pass the key of your BitScale account, such as " +
			"os.Getenv(\"BITSCALE_API_KEY\") with BITSCALE_API_KEY set, or use NewClientFromEnv")
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, errors.New("bitscale: API key holds spaces or control characters")
	}
	s := settings{
		baseURL:     DefaultBaseURL,
		maxRetries:  DefaultMaxRetries,
		waitMin:     DefaultRetryWaitMin,
		waitMax:     DefaultRetryWaitMax,
		policy:      DefaultRetryPolicy,
		gate:        true,
		maxResponse: DefaultMaxResponseSize,
	}
	for _, opt := range opts {
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(s.baseURL, s.allowHTTP)
	if err != nil {
		return nil, err
	}
	c := &core{
		key:         &key,
		baseURL:     base,
		base:        base.String(),
		userAgent:   strings.TrimSpace(s.userAgent + " bitscale-go/" + Version),
		maxResponse: s.maxResponse,
		gate:        newGate(s.waitMax, s.gate),
	}
	c.conns = &transport{key: []string{key}, base: base, gate: c.gate}
	hc := httpClient(s, c.conns)
	c.replayable = retryClient(s, c, hc, true)
	c.once = retryClient(s, c, hc, false)
	return newClient(c, s.workspaceID), nil
}

// NewClientFromEnv returns a client configured from BITSCALE_API_KEY,
// BITSCALE_WORKSPACE_ID and BITSCALE_BASE_URL; opts are applied after them
// and so win. It returns an error when BITSCALE_API_KEY is unset, or as
// NewClient does.
func NewClientFromEnv(opts ...Option) (*Client, error) {
	key := os.Getenv("BITSCALE_API_KEY")
	if strings.TrimSpace(key) == "" {
		return nil, errors.New("bitscale: BITSCALE_API_KEY is not set")
	}
	var env []Option
	if ws := os.Getenv("BITSCALE_WORKSPACE_ID"); ws != "" {
		env = append(env, WithWorkspaceID(ws))
	}
	if u := os.Getenv("BITSCALE_BASE_URL"); u != "" {
		env = append(env, WithBaseURL(u))
	}
	return NewClient(key, append(env, opts...)...)
}

func newClient(c *core, workspaceID string) *Client {
	cl := &Client{core: c, workspaceID: workspaceID}
	cl.Users = &UsersService{cl}
	cl.Workspaces = &WorkspacesService{cl}
	cl.Grids = &GridsService{cl}
	cl.Runs = &RunsService{cl}
	return cl
}

// ForWorkspace returns a client for another workspace that shares this
// client's connections, options and rate-limit gate, for programs that serve
// several workspaces. An empty ID gives a client with no workspace.
func (c *Client) ForWorkspace(workspaceID string) *Client {
	return newClient(c.core, strings.TrimSpace(workspaceID))
}

// WorkspaceID returns the workspace sent in the workspace-id header, or "".
func (c *Client) WorkspaceID() string { return c.workspaceID }

// BaseURL returns a copy of the base URL requests are sent to.
func (c *Client) BaseURL() *url.URL {
	u := *c.core.baseURL
	return &u
}

// RateLimit returns the rate limit the API last reported to this client or
// to any client made from it with ForWorkspace. It is safe for concurrent use.
func (c *Client) RateLimit() RateLimit { return c.core.gate.rateLimit() }

// String describes the client without its API key, or a password in the
// base URL.
func (c *Client) String() string {
	return fmt.Sprintf("bitscale.Client{base: %s, workspace: %q}", c.core.baseURL.Redacted(), c.workspaceID)
}

func parseBaseURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("bitscale: base URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return nil, fmt.Errorf("bitscale: base URL %q is not an absolute http(s) URL", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("bitscale: base URL %q has a query or fragment", raw)
	case u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()):
		return nil, fmt.Errorf("bitscale: base URL %q would send the API key unencrypted; "+
			"use https, or WithAllowHTTP if this is intended", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/api/v1/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// needWorkspace returns ErrNoWorkspace when the client has no workspace.
func (c *Client) needWorkspace() error {
	if c.workspaceID == "" {
		return ErrNoWorkspace
	}
	return nil
}

// CloseIdleConnections closes the connections the client keeps open for
// reuse, such as before a program exits. The client stays usable.
func (c *Client) CloseIdleConnections() {
	// The transport wrapper hides this method from http.Client on purpose:
	// go-retryablehttp closes idle connections whenever retries run out,
	// which would make a busy client's other callers reconnect.
	if ci, ok := c.core.conns.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// hub returns the hub that webhook handlers tell of runs, making it on
// first use.
func (c *core) hub() *wakeHub {
	c.wake.CompareAndSwap(nil, newWakeHub())
	return c.wake.Load()
}
