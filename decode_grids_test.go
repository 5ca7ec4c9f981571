package bitscale_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A newer API may add fields and column types; the grid answers, decoded
// by hand for speed, must keep taking them, as must the envelope.
func TestGridsGetTakesNewFieldsAndColumnTypes(t *testing.T) {
	t.Parallel()
	body := `{"id":"grid_001","name":"Lead Enrichment — Q1","owner":{"id":"usr_1","teams":[1,2.5e3,null]},
		"settings":{"row_limit":5000,"auto_run":true,"visibility":"team","schedule":"0 * * * *"},
		"columns":[{"id":"c1","name":"Embedding","type":"vector","is_input":false,"is_output":true,"required":false,"dims":1536},
		           {"id":"c2","name":"Full Name","type":"text","is_input":true,"is_output":false,"required":true}],
		"row_count":1500,"created_at":"2024-04-01T09:00:00Z","updated_at":"2024-04-15T11:30:00+02:00","archived":false}`
	want := &bitscale.Grid{
		ID:       "grid_001",
		Name:     "Lead Enrichment — Q1",
		Settings: bitscale.GridSettings{RowLimit: 5000, AutoRun: true, Visibility: "team"},
		Columns: []bitscale.Column{
			{ID: "c1", Name: "Embedding", Type: "vector", IsOutput: true},
			{ID: "c2", Name: "Full Name", Type: bitscale.ColumnText, IsInput: true, Required: true},
		},
		RowCount:  1500,
		CreatedAt: date("2024-04-01T09:00:00Z"),
		UpdatedAt: date("2024-04-15T11:30:00+02:00"),
	}
	for name, b := range map[string]string{
		"bare":     body,
		"envelope": `{"success":true,"data":` + body + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newTestClient(t, serveJSON(200, []byte(b)))
			g, _, err := c.Grids.Get(context.Background(), "grid_001")
			require.NoError(t, err)
			assert.Equal(t, want, g)
		})
	}
}

func TestGridsListEnvelopes(t *testing.T) {
	t.Parallel()
	list := `{"grids":[{"id":"g1","name":"A","row_count":2,"column_count":3,"created_at":"2024-04-01T09:00:00Z","tags":["x"]}],"total":1}`
	want := &bitscale.GridList{Grids: []bitscale.GridSummary{{ID: "g1", Name: "A", RowCount: 2, ColumnCount: 3,
		CreatedAt: date("2024-04-01T09:00:00Z")}}, Total: 1}
	for name, b := range map[string]string{
		"bare":                     list,
		"envelope":                 `{"success":true,"data":` + list + `}`,
		"envelope, upper-case key": `{"Success":true,"Data":` + list + `}`,
		"names in other cases":     `{"Grids":[{"ID":"g1","name":"A","Row_Count":2,"column_count":3,"created_at":"2024-04-01T09:00:00Z"}],"TOTAL":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newTestClient(t, serveJSON(200, []byte(b)))
			l, _, err := c.Grids.List(context.Background(), "", nil)
			require.NoError(t, err)
			assert.Equal(t, want, l)
		})
	}
	t.Run("failed envelope", func(t *testing.T) {
		c, _ := newTestClient(t, serveJSON(200, []byte(`{"success":false,"error":{"code":"GRID_NOT_FOUND","message":"gone"}}`)))
		_, _, err := c.Grids.List(context.Background(), "", nil)
		var apiErr *bitscale.APIError
		require.True(t, errors.As(err, &apiErr), "got %v", err)
		assert.Equal(t, "GRID_NOT_FOUND", apiErr.Code)
	})
	t.Run("wrong type", func(t *testing.T) {
		c, _ := newTestClient(t, serveJSON(200, []byte(`{"grids":[{"id":"g1","row_count":"many"}],"total":1}`)))
		_, _, err := c.Grids.List(context.Background(), "", nil)
		var de *bitscale.DecodeError
		require.True(t, errors.As(err, &de), "got %v", err)
		assert.Contains(t, err.Error(), "row_count")
	})
}

// A type of the caller's that embeds a grid list has fields of its own,
// which must be decoded too.
func TestDoDecodesTypesEmbeddingGridList(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, serveJSON(200, []byte(`{"grids":[{"id":"g1"}],"total":1,"next_page":"p2"}`)))
	req, err := c.NewRequest(context.Background(), "GET", "workspaces/ws_abc123/grids", nil)
	require.NoError(t, err)
	var page struct {
		bitscale.GridList
		NextPage string `json:"next_page"`
	}
	_, err = c.Do(req, &page)
	require.NoError(t, err)
	assert.Equal(t, "p2", page.NextPage)
	assert.Equal(t, []bitscale.GridSummary{{ID: "g1"}}, page.Grids)
}
