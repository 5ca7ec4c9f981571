package peers

import (
	"context"
	stdjson "encoding/json"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/internal/peers/ogenclient"
	"github.com/bitscale/bitscale-go/internal/perf"
	"github.com/bytedance/sonic"
	"github.com/go-faster/jx"
	jsonv2 "github.com/go-json-experiment/json"
	goccy "github.com/goccy/go-json"
	jsoniter "github.com/json-iterator/go"
	segment "github.com/segmentio/encoding/json"
)

// BenchmarkDecodeList decodes the large grid list, already in memory, into
// the SDK's GridList with each decoder the SDK could use, and with
// encoding/json into a copy of the type whose times are strings, to show
// what parsing the times costs.
func BenchmarkDecodeList(b *testing.B) {
	body := perf.GridListBody(perf.ListSize)
	decoders := []struct {
		name   string
		decode func([]byte, *bitscale.GridList) error
	}{
		{"encoding-json", func(p []byte, l *bitscale.GridList) error { return stdjson.Unmarshal(p, l) }},
		{"json-v2", func(p []byte, l *bitscale.GridList) error { return jsonv2.Unmarshal(p, l) }},
		{"goccy", func(p []byte, l *bitscale.GridList) error { return goccy.Unmarshal(p, l) }},
		{"sonic", func(p []byte, l *bitscale.GridList) error { return sonic.Unmarshal(p, l) }},
		{"segmentio", func(p []byte, l *bitscale.GridList) error { return segment.Unmarshal(p, l) }},
		{"jsoniter", func(p []byte, l *bitscale.GridList) error {
			return jsoniter.ConfigCompatibleWithStandardLibrary.Unmarshal(p, l)
		}},
	}
	for _, d := range decoders {
		b.Run("dec="+d.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			perf.Loop(b, func(context.Context) error {
				var l bitscale.GridList
				if err := d.decode(body, &l); err != nil {
					return err
				}
				return want(nil, len(l.Grids) == perf.ListSize &&
					l.Grids[1].CreatedAt.Equal(time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC)))
			})
		})
	}
	// ogen's decoding step alone, as its client runs it on the body: into
	// its own types, then checked against the description.
	b.Run("dec=ogen", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		perf.Loop(b, func(context.Context) error {
			var l ogenclient.GridList
			if err := l.Decode(jx.DecodeBytes(body)); err != nil {
				return err
			}
			return want(l.Validate(), len(l.Grids) == perf.ListSize)
		})
	})
	b.Run("dec=encoding-json-string-times", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		perf.Loop(b, func(context.Context) error {
			var l struct {
				Grids []struct {
					ID, Name, Description string
					RowCount              int    `json:"row_count"`
					ColumnCount           int    `json:"column_count"`
					CreatedAt             string `json:"created_at"`
					UpdatedAt             string `json:"updated_at"`
				} `json:"grids"`
				Total int `json:"total"`
			}
			err := stdjson.Unmarshal(body, &l)
			return want(err, len(l.Grids) == perf.ListSize)
		})
	})
}
