package bitscale_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typedGrid has an input column of every type the API documents.
func typedGrid() *bitscale.Grid {
	return &bitscale.Grid{ID: "grid_t", Columns: []bitscale.Column{
		{ID: "c-name", Name: "Full Name", Type: bitscale.ColumnText, IsInput: true, Required: true},
		{ID: "c-size", Name: "Employees", Type: bitscale.ColumnNumber, IsInput: true},
		{ID: "c-site", Name: "Website", Type: bitscale.ColumnURL, IsInput: true},
		{ID: "c-mail", Name: "Email", Type: bitscale.ColumnEmail, IsInput: true, Required: true},
		{ID: "c-date", Name: "Founded", Type: bitscale.ColumnDate, IsInput: true},
		{ID: "c-b2b", Name: "B2B", Type: bitscale.ColumnBoolean, IsInput: true},
		{ID: "c-out", Name: "Summary", Type: bitscale.ColumnAIEnrichment, IsOutput: true},
	}}
}

func TestGridColumnLookup(t *testing.T) {
	t.Parallel()
	g := typedGrid()
	for key, want := range map[string]string{
		"c-size":       "c-size",
		"Employees":    "c-size",
		"employees":    "c-size",
		"  FULL NAME ": "c-name",
	} {
		col, ok := g.Column(key)
		require.True(t, ok, key)
		assert.Equal(t, want, col.ID, key)
	}
	_, ok := g.Column("Revenue")
	assert.False(t, ok)
}

func TestGridInputsByName(t *testing.T) {
	t.Parallel()
	g := typedGrid()
	founded := time.Date(1998, 9, 4, 0, 0, 0, 0, time.UTC)
	in, err := g.Inputs(map[string]any{
		"Full Name": "Jane Doe",
		"employees": 120,
		"Website":   "https://acme.example",
		"c-mail":    "jane@acme.example",
		"Founded":   founded,
		"B2B":       true,
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"c-name": "Jane Doe",
		"c-size": 120,
		"c-site": "https://acme.example",
		"c-mail": "jane@acme.example",
		"c-date": "1998-09-04T00:00:00Z",
		"c-b2b":  true,
	}, in)

	// Optional columns may be left out, or nil.
	in, err = g.Inputs(map[string]any{"Full Name": "J", "Email": "j@x.example", "Website": nil, "Employees": json.Number("7.5")})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"c-name": "J", "c-mail": "j@x.example", "c-size": json.Number("7.5")}, in)
}

func TestGridInputsReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	g := typedGrid()
	_, err := g.Inputs(map[string]any{
		"Revenue":   10,          // no such column
		"Summary":   "x",         // an output column
		"Employees": "many",      // not a number
		"Website":   "acme.com",  // not an absolute URL
		"Founded":   "last year", // not a date
		"B2B":       "yes",       // not a boolean
		"Full Name": "   ",       // required, blank
		// Email, required, missing.
	})
	var inErr *bitscale.InputError
	require.ErrorAs(t, err, &inErr)
	got := map[string]string{}
	for _, p := range inErr.Problems {
		got[p.Column] = p.Reason
	}
	assert.Equal(t, map[string]string{
		"Revenue":   "is not a column of grid grid_t",
		"Summary":   "is not an input column",
		"Employees": "needs a number, got string",
		"Website":   `needs an absolute http(s) URL, got "acme.com"`,
		"Founded":   `needs an ISO 8601 date such as 2024-04-15, got "last year"`,
		"B2B":       "needs true or false, got string",
		"Full Name": "is required",
		"Email":     "is required",
	}, got)
	assert.Contains(t, err.Error(), `"Email" is required`)

	for name, v := range map[string]any{
		"Email":     "not an email",
		"Full Name": 42,
	} {
		_, err := g.Inputs(map[string]any{"Full Name": "J", "Email": "j@x.example", name: v})
		require.ErrorAs(t, err, &inErr, name)
		require.Len(t, inErr.Problems, 1, name)
		assert.Equal(t, name, inErr.Problems[0].Column)
	}
	_, err = g.Inputs(map[string]any{"Full Name": "J", "c-name": "K", "Email": "j@x.example"})
	require.ErrorAs(t, err, &inErr)
	assert.Contains(t, err.Error(), "given twice")
}

func TestGridRunRequestAndOutputs(t *testing.T) {
	t.Parallel()
	g := typedGrid()
	req, err := g.RunRequest(map[string]any{"Full Name": "J", "Email": "j@x.example"}, "Summary")
	require.NoError(t, err)
	assert.Equal(t, &bitscale.RunRequest{
		Inputs:        map[string]any{"c-name": "J", "c-mail": "j@x.example"},
		OutputColumns: []string{"c-out"},
	}, req)

	_, err = g.RunRequest(map[string]any{"Full Name": "J"}, "Nope")
	var inErr *bitscale.InputError
	require.ErrorAs(t, err, &inErr)
	assert.Len(t, inErr.Problems, 2, "the missing input and the unknown output, together")

	out := g.OutputsByName(&bitscale.Run{Outputs: map[string]any{"c-out": "B2B SaaS", "c-name": "J", "c-new": 1}})
	assert.Equal(t, map[string]any{"Summary": "B2B SaaS", "Full Name": "J", "c-new": 1}, out)
}

func TestColumnNamesAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv, c := fakeAndClient(t)
	g, _, err := c.Grids.Get(context.Background(), "grid_001")
	require.NoError(t, err)
	req, err := g.RunRequest(map[string]any{"Full Name": "Jane Doe", "Company": "Acme Corp"}, "Enriched Email")
	require.NoError(t, err)
	run, _, err := c.Grids.Run(context.Background(), g.ID, req)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"Enriched Email": "jane.doe@acmecorp.com"}, g.OutputsByName(run))
	assert.Len(t, srv.Runs(), 1)
}
