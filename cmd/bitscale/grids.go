package main

import (
	"fmt"
	"strconv"

	"github.com/bitscale/bitscale-go"
	"github.com/spf13/cobra"
)

func (a *app) gridsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "grids",
		Aliases: []string{"grid"},
		Short:   "List grids, or show one with its columns",
		Args:    nargs(0, 0),
	}
	var search string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the grids of the workspace",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			grids, _, err := c.Grids.List(cmd.Context(), "", &bitscale.GridListOptions{Search: search})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(grids)
			}
			t := newTable(a.stdout, "ID", "NAME", "ROWS", "COLUMNS", "UPDATED")
			for _, g := range grids.Grids {
				t.row(g.ID, g.Name, strconv.Itoa(g.RowCount), strconv.Itoa(g.ColumnCount), day(g.UpdatedAt))
			}
			return t.flush()
		},
	}
	list.Flags().StringVar(&search, "search", "", "keep the grids whose name contains `text`, ignoring case")
	get := &cobra.Command{
		Use:   "get GRID",
		Short: "Show a grid and its columns: name, type, input or output, required",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect()
			if err != nil {
				return err
			}
			g, _, err := c.Grids.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(g)
			}
			fmt.Fprintf(a.stdout, "%s  %s\n", g.ID, g.Name)
			if g.Description != "" {
				fmt.Fprintln(a.stdout, g.Description)
			}
			fmt.Fprintf(a.stdout, "%d rows, updated %s\n\n", g.RowCount, day(g.UpdatedAt))
			t := newTable(a.stdout, "COLUMN", "TYPE", "ROLE", "REQUIRED", "ID")
			for _, col := range g.Columns {
				t.row(col.Name, string(col.Type), role(col), yes(col.Required), col.ID)
			}
			return t.flush()
		},
	}
	cmd.AddCommand(list, get)
	return cmd
}

// role says whether a column is an input, an output, both or neither.
func role(col bitscale.Column) string {
	switch {
	case col.IsInput && col.IsOutput:
		return "input, output"
	case col.IsInput:
		return "input"
	case col.IsOutput:
		return "output"
	}
	return "-"
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}
