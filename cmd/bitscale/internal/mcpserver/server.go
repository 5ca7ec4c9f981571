// Package mcpserver serves BitScale to AI assistants over the Model Context
// Protocol: tools that read workspaces, grids and runs, and run grids, on a
// client of the BitScale Go SDK.
//
// The tools name columns by their names, as a user would, and check a
// run's inputs against its grid before anything is sent. A run whose
// outcome is unknown is reported as unknown, with what is known of it, and
// never sent again.
package mcpserver

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Options configure a server. The zero value and nil use the defaults.
type Options struct {
	// Version is the server's version, as told to clients.
	Version string
	// Logger receives a line for each tool call; nil discards them.
	Logger *slog.Logger
	// PollInterval is the first wait between polls of a run (default
	// bitscale.DefaultPollInterval).
	PollInterval time.Duration
}

// instructions tell a model how the tools fit together.
const instructions = `Tools for BitScale, which enriches rows of data by running grids.
Find a grid with list_grids, read its input columns with get_grid, then run it
on one row with run_grid, giving inputs by column name. A run spends the
workspace's credits: run a grid only when the user asked for it, and never run
it again after an error that says the outcome is unknown.`

// New returns a server whose tools use c. c's workspace, if any, is the
// one tools use when they are given none.
func New(c *bitscale.Client, opts *Options) *mcp.Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.PollInterval <= 0 {
		o.PollInterval = bitscale.DefaultPollInterval
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "bitscale", Title: "BitScale", Version: o.Version},
		&mcp.ServerOptions{Instructions: instructions, SchemaCache: schemas})
	t := &tools{client: c, log: o.Logger, poll: o.PollInterval}
	t.addAccount(s)
	t.addGrids(s)
	t.addRun(s)
	t.addRuns(s)
	return s
}

// schemas caches the tools' JSON schemas, which the MCP SDK otherwise
// derives from their Go types and resolves on every New, by reflection:
// the command calls New once, but its tests once per test, which made
// this most of their CPU. The schemas are the same whatever the options.
var schemas = mcp.NewSchemaCache()

// tools holds what the tools share.
type tools struct {
	client *bitscale.Client
	log    *slog.Logger
	poll   time.Duration
}

// in returns the client for workspaceID, or the configured one for "".
func (t *tools) in(workspaceID string) *bitscale.Client {
	if workspaceID == "" || workspaceID == t.client.WorkspaceID() {
		return t.client
	}
	return t.client.ForWorkspace(workspaceID)
}

// add registers a tool whose errors are turned into tool errors a model
// can act on, and logs each call with its outcome. Arguments are not
// logged: they hold the user's data.
func add[In, Out any](s *mcp.Server, t *tools, tool *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	mcp.AddTool(s, tool, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		res, out, err := h(ctx, req, in)
		if err != nil {
			e := asToolError(err)
			t.log.Info("tool call failed", "tool", tool.Name, "code", e.Code)
			return nil, out, e
		}
		t.log.Info("tool call", "tool", tool.Name)
		return res, out, nil
	})
}
