package main

import (
	"github.com/spf13/cobra"
)

func (a *app) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the user the API key belongs to",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			u, _, err := c.Users.Me(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(u)
			}
			t := newTable(a.stdout)
			t.row("ID", u.ID)
			t.row("NAME", u.Name)
			t.row("EMAIL", u.Email)
			t.row("PLAN", u.Plan)
			t.row("WORKSPACE", firstOf(c.WorkspaceID(), "(none: set BITSCALE_WORKSPACE_ID or --workspace)"))
			return t.flush()
		},
	}
}
