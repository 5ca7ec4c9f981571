package main

import (
	"log/slog"
	"net"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/cmd/bitscale/internal/mcpserver"
	"github.com/spf13/cobra"
)

func (a *app) mcpCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve BitScale to AI assistants over the Model Context Protocol",
		Long: `Serve BitScale's workspaces, grids and runs to an AI assistant as Model
Context Protocol tools: whoami, list_workspaces, get_workspace, list_grids,
get_grid, run_grid, get_run and wait_run.

It serves on stdin and stdout, as assistants that start it expect; with
--http it serves streamable HTTP on ADDR instead. It logs on stderr.

run_grid spends credits. A run whose answer is lost is reported to the
assistant as unknown, never sent again.`,
		Example: `  bitscale mcp
  bitscale mcp --fake
  bitscale mcp --http 127.0.0.1:8080`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, nil))
			s := mcpserver.New(c, &mcpserver.Options{Version: bitscale.Version, Logger: logger, PollInterval: a.pollInterval()})
			if addr == "" {
				return mcpserver.ServeStdio(cmd.Context(), s, a.stdin, a.stdout)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return withCode(exitUsage, err, "give --http a free address, such as 127.0.0.1:8080")
			}
			logger.Info("serving MCP over streamable HTTP", "url", "http://"+ln.Addr().String()+"/")
			if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
				logger.Warn("the server is reachable from other machines, with no authentication: anyone who reaches it spends the API key's credits")
			}
			return mcpserver.ServeHTTP(cmd.Context(), s, ln, logger)
		},
	}
	cmd.Flags().StringVar(&addr, "http", "", "serve streamable HTTP on `ADDR`, such as 127.0.0.1:8080, instead of stdin and stdout")
	return cmd
}
