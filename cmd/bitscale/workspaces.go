package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/spf13/cobra"
)

func (a *app) workspacesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workspaces",
		Aliases: []string{"workspace", "ws"},
		Short:   "List workspaces, or show one with its plan and credits",
		Args:    nargs(0, 0),
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the workspaces the API key can use",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			list, _, err := c.Workspaces.List(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(list)
			}
			t := newTable(a.stdout, "ID", "NAME", "ROLE", "MEMBERS", "CREATED")
			for _, ws := range list.Workspaces {
				t.row(ws.ID, ws.Name, ws.Role, strconv.Itoa(ws.MemberCount), day(ws.CreatedAt))
			}
			return t.flush()
		},
	}, &cobra.Command{
		Use:   "get [ID]",
		Short: "Show a workspace (default: the current one) with its plan, credits and members",
		Args:  nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			id := c.WorkspaceID()
			if len(args) == 1 {
				id = args[0]
			}
			if id == "" {
				return withCode(exitUsage, bitscale.ErrNoWorkspace, "give the workspace's ID, or set BITSCALE_WORKSPACE_ID or --workspace")
			}
			ws, _, err := c.Workspaces.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(ws)
			}
			t := newTable(a.stdout)
			t.row("ID", ws.ID)
			t.row("NAME", ws.Name)
			t.row("PLAN", fmt.Sprintf("%s (%d credits a cycle, renews %s)", ws.Plan.Name, ws.Plan.CreditsIncluded, day(ws.Plan.RenewalDate)))
			t.row("CREDITS", fmt.Sprintf("%d left of %d (%d used)", ws.Credits.Remaining, ws.Credits.Total, ws.Credits.Used))
			t.row("MEMBERS", fmt.Sprintf("%d (%d admins)", ws.Members.Total, ws.Members.Admins))
			t.row("CREATED", fmt.Sprintf("%s by %s", day(ws.CreatedAt), ws.CreatedBy.Name))
			return t.flush()
		},
	})
	return cmd
}

// day formats a time as its date, or "-" for none.
func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}
