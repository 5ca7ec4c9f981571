package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// rootCommand returns the bitscale command with its subcommands.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "bitscale",
		Short: "Run BitScale grids and read workspaces, grids and runs",
		Long: `bitscale runs BitScale enrichment grids on one row or a whole file, and
reads workspaces, grids and runs; bitscale mcp serves the same to AI
assistants over the Model Context Protocol.

It reads BITSCALE_API_KEY, BITSCALE_WORKSPACE_ID and BITSCALE_BASE_URL;
--workspace and --base-url override the last two. --fake runs any command
against an embedded fake BitScale, with no account and no key.

Exit codes: 0 success; 1 an error from the API, the network or a file;
2 a bad command line or configuration, found before anything was sent;
3 a batch that ended (with --dry-run: would end) with rows failed, unknown
or not attempted;
130 interrupted.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, err, fmt.Sprintf("see '%s --help'", c.CommandPath()))
	})
	pf := root.PersistentFlags()
	pf.BoolVar(&a.json, "json", false, "print JSON instead of tables, errors included (on stderr)")
	pf.BoolVar(&a.fake, "fake", false, "run against an embedded fake BitScale (workspace ws_abc123, grid grid_001)")
	pf.StringVar(&a.workspace, "workspace", "", "the workspace `ID` (default $BITSCALE_WORKSPACE_ID)")
	pf.StringVar(&a.baseURL, "base-url", "", "the API's base `URL` (default $BITSCALE_BASE_URL, or BitScale's)")

	root.AddCommand(
		a.whoamiCommand(),
		a.workspacesCommand(),
		a.gridsCommand(),
		a.runCommand(),
		a.runsCommand(),
		a.enrichCommand(),
		a.fakeCommand(),
		a.mcpCommand(),
	)
	return root
}

// nargs returns a validator for between min and max positional arguments
// (max < 0: any number), whose refusal is a usage error.
func nargs(min, max int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < min || max >= 0 && len(args) > max {
			return usageError("%s takes %s, got %d: see '%s --help'", c.CommandPath(), argCount(min, max), len(args), c.CommandPath())
		}
		return nil
	}
}

func argCount(min, max int) string {
	switch {
	case min == max && min == 1:
		return "1 argument"
	case min == max:
		return fmt.Sprintf("%d arguments", min)
	case max < 0:
		return fmt.Sprintf("at least %d arguments", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}
