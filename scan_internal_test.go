package bitscale

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// gridBodies are answers the hand decoder must decode exactly as
// encoding/json does, or give up on so that encoding/json decodes them.
var gridBodies = []string{
	// The reference's example, with a column type and fields this SDK does
	// not know.
	`{"id":"grid_001","name":"Lead Enrichment — Q1","description":"Enriches inbound leads.",
	  "settings":{"row_limit":5000,"auto_run":false,"visibility":"team","colour":"blue"},
	  "columns":[{"id":"3f7a","name":"Full Name","type":"text","is_input":true,"is_output":false,"required":true},
	             {"id":"a1b2","name":"Score","type":"vector_embedding","is_input":false,"is_output":true,"required":false,
	              "options":{"dims":[1536,-2.5e-3,0.0],"model":null,"ok":true,"nested":[[{}],[]]}}],
	  "row_count":1500,"created_at":"2024-04-01T09:00:00Z","updated_at":"2024-04-15T11:30:00Z",
	  "owner":{"id":"usr_1","tags":["a","b\"c"]},"archived":false,"score":12.5}`,
	`{"grids":[{"id":"g1","name":"A","description":"","row_count":0,"column_count":2,
	  "created_at":"2024-02-29T23:59:59Z","updated_at":"2024-04-15T11:30:00+02:00","folder":"x"}],"total":1,"next":null}`,
	`{"grids":[],"total":0}`,
	`{"grids":null,"total":3}`,
	`{"grids":[null,{}],"total":2}`,
	`  {"id":"g","name":"n"}  ` + "\n",
	`null`,
	`{}`,
	// Strings encoding/json decodes: escapes, bad UTF-8, non-ASCII.
	`{"id":"g\u00e9\n\"q\"","name":"\ud83d\ude00 \ud800","description":"caf` + "\xe9" + `"}`,
	`{"id":"grid_é","name":"日本"}`,
	// Times: other forms, out of range, not strings.
	`{"created_at":"2024-04-01T09:00:00.123456Z","updated_at":"2024-04-01t09:00:00z"}`,
	`{"created_at":"2023-02-29T09:00:00Z"}`,
	`{"created_at":"2024-04-01T24:00:00Z"}`,
	`{"created_at":"2024-04-01T23:59:60Z"}`,
	`{"created_at":"2024-13-01T00:00:00Z"}`,
	`{"created_at":"0000-01-01T00:00:00Z"}`,
	`{"created_at":null,"updated_at":12}`,
	`{"created_at":"2024-04-01T09:00:00"}`,
	// Names only encoding/json's matching takes, or given twice.
	`{"ID":"g","Name":"n","ROW_COUNT":3}`,
	`{"createdBy":"u","iD":"g","rowCount":1,"Settings":{"Row_Limit":2},"grids":[{"Total":1}]}`,
	`{"success":true,"Data":{"id":"g"},"Error":null}`,
	`{"id":"a","id":"b","row_count":1,"row_count":null}`,
	`{"columns":[{"id":"a"}],"columns":[{"name":"b"}]}`,
	`{"columns":[],"columns":[{"name":"b"}]}`,
	`{"settings":{"row_limit":1},"settings":{"auto_run":true}}`,
	`{"i\u0064":"g"}`,
	`{"ſettings":{"row_limit":1}}`,
	// Numbers.
	`{"row_count":-0,"column_count":-12}`,
	`{"row_count":9223372036854775807}`,
	`{"row_count":9223372036854775808}`,
	`{"row_count":1.0}`,
	`{"row_count":1e3}`,
	`{"row_count":01}`,
	`{"row_count":"1"}`,
	`{"row_count":-}`,
	`{"x":1.}`, `{"x":-01}`, `{"x":.5}`, `{"x":1e}`, `{"x":1E+2}`,
	// Wrong types and bad syntax.
	`{"id":5,"name":"n"}`,
	`{"settings":{"auto_run":"yes"}}`,
	`{"settings":[]}`,
	`{"columns":{}}`,
	`{"id":"g",}`,
	`{"id":"g"} x`,
	`{"id":"g"`,
	`{"id":"g` + "\x01" + `"}`,
	`{"x":"\q"}`,
	`{"x":"\u12"}`,
	`{"x":tru}`,
	`{"x":truex}`,
	`{"x":[1,]}`,
	`{"x":{"a" 1}}`,
	`[]`,
	`"grid"`,
	``,
	// Envelopes.
	`{"success":true,"data":{"id":"g","grids":[{"id":"g"}]}}`,
	`{"success":false,"error":{"code":"GRID_NOT_FOUND","message":"no"}}`,
	`{"success":null,"data":null}`,
	`{"success":"yes","data":{"id":"g"}}`,
	`{"success":true,"data":{"id":"g"},"data":{"name":"n"}}`,
	`{"Success":false,"data":{"id":"g"}}`,
}

// checkHand decodes body into a new T by hand and with encoding/json and
// fails when the hand decoder took the body but decoded it otherwise.
func checkHand[T any, P interface {
	*T
	handDecoder
}](t *testing.T, body string) {
	t.Helper()
	var want, got T
	wantErr := json.Unmarshal([]byte(body), &want)
	if decodeHand([]byte(body), P(&got)) {
		if wantErr != nil {
			t.Errorf("%T: hand decoder took %q, which encoding/json refuses: %v", got, body, wantErr)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%T: %q decoded by hand as\n%+v\nencoding/json gives\n%+v", got, body, got, want)
		}
	}
	// Through unmarshal, which falls back: the same value and error.
	var through T
	err := unmarshal([]byte(body), P(&through))
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Errorf("%T: %q: unmarshal error %v, encoding/json %v", got, body, err, wantErr)
	}
	if !reflect.DeepEqual(through, want) {
		t.Errorf("%T: %q: unmarshal gives\n%+v\nencoding/json\n%+v", got, body, through, want)
	}

	var env struct {
		Success *bool           `json:"success"`
		Data    any             `json:"data"`
		Error   json.RawMessage `json:"error"`
	}
	var wantData, gotData T
	env.Data = &wantData
	envErr := json.Unmarshal([]byte(body), &env)
	var success *bool
	if decodeEnvelope([]byte(body), P(&gotData), &success) {
		if envErr != nil {
			t.Errorf("%T: envelope decoder took %q, which encoding/json refuses: %v", got, body, envErr)
		} else if !reflect.DeepEqual(gotData, wantData) || !reflect.DeepEqual(success, env.Success) {
			t.Errorf("%T: envelope %q decoded by hand as %+v, success %v; encoding/json gives %+v, %v",
				got, body, gotData, ptr(success), wantData, ptr(env.Success))
		}
	}
}

func ptr(b *bool) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprint(*b)
}

func TestHandDecoderAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, body := range gridBodies {
		checkHand[Grid](t, body)
		checkHand[GridList](t, body)
		checkHand[GridSummary](t, body)
	}
}

func TestHandDecoderTakesTheAPIsAnswers(t *testing.T) {
	t.Parallel()
	// The plain answers must not fall back, or nothing is gained.
	for _, body := range gridBodies[:3] {
		var g Grid
		var l GridList
		if !decodeHand([]byte(body), &g) || !decodeHand([]byte(body), &l) {
			t.Errorf("hand decoder gave up on %q", body)
		}
	}
	// Nor names in camel case that match no field.
	var g Grid
	if !decodeHand([]byte(`{"id":"g","createdBy":"usr_1","rowLimit":{"Max":1}}`), &g) || g.ID != "g" {
		t.Errorf("hand decoder gave up on a new name in camel case, or decoded %+v", g)
	}
	g = Grid{}
	if !decodeHand([]byte(gridBodies[0]), &g) {
		t.Fatal("gave up")
	}
	// A column type and a visibility newer than this SDK are kept.
	if g.Columns[1].Type != "vector_embedding" || g.Settings.Visibility != "team" || g.RowCount != 1500 {
		t.Errorf("got %+v", g)
	}
	if want := time.Date(2024, 4, 15, 11, 30, 0, 0, time.UTC); g.UpdatedAt != want {
		t.Errorf("UpdatedAt = %v, want %v", g.UpdatedAt, want)
	}
}

func TestParseUTCMatchesTimeParse(t *testing.T) {
	t.Parallel()
	days := []string{"2024-02-29", "2023-02-29", "2023-02-28", "2100-02-29", "2000-02-29", "2024-04-31",
		"2024-12-31", "2024-00-10", "2024-01-00", "0000-01-01", "9999-12-31", "2024-1a-01"}
	clocks := []string{"00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "1:00:000", "12:00:0x"}
	for _, d := range days {
		for _, c := range clocks {
			for _, z := range []string{"Z", "z", "+00:00"} {
				s := d + "T" + c + z
				want, werr := time.Parse(time.RFC3339, s)
				got, ok := parseUTC([]byte(s))
				if ok && (werr != nil || got != want) {
					t.Errorf("parseUTC(%q) = %v, time.Parse gives %v, %v", s, got, want, werr)
				}
				if !ok && werr == nil && z == "Z" {
					t.Errorf("parseUTC(%q) gave up; time.Parse gives %v", s, want)
				}
			}
		}
	}
}

func FuzzHandDecoder(f *testing.F) {
	for _, b := range gridBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Count(body, "[")+strings.Count(body, "{") > 200 {
			return // deep nesting is encoding/json's, and slow to compare
		}
		checkHand[Grid](t, body)
		checkHand[GridList](t, body)
	})
}

func TestUnescapedFindsEveryByte(t *testing.T) {
	t.Parallel()
	for n := 0; n <= 17; n++ {
		for at := 0; at < n; at++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[at] = byte(c)
				ascii, ok := unescaped(b)
				wantOK := c >= 0x20 && c != '\\'
				if ok != wantOK || ok && ascii != (c < 0x80) {
					t.Fatalf("unescaped(%q) = %v, %v", b, ascii, ok)
				}
			}
		}
	}
}
