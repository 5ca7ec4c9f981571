package bitscale

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
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
	// Through unmarshal, which falls back: the same value and error, but
	// for numbers too large for a float64, which it keeps (numbers_test.go).
	var through T
	err := unmarshal([]byte(body), P(&through))
	if !tooBigNumber(wantErr) {
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("%T: %q: unmarshal error %v, encoding/json %v", got, body, err, wantErr)
		}
		if !reflect.DeepEqual(through, want) {
			t.Errorf("%T: %q: unmarshal gives\n%+v\nencoding/json\n%+v", got, body, through, want)
		}
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
	for _, body := range runBodies {
		checkHand[Run](t, body)
	}
}

func TestHandDecoderTakesRuns(t *testing.T) {
	t.Parallel()
	// The plain answers must not fall back, or nothing is gained.
	for _, body := range runBodies[:5] {
		var r Run
		if !decodeHand([]byte(body), &r) {
			t.Errorf("hand decoder gave up on %q", body)
		}
	}
	// Nor strings with escapes, spaces and other printable characters.
	var q Run
	if !decodeHand([]byte(`{"run_id":"r","outputs":{"q":"Jane \"JD\" Doe, ~Acme\u00e9 \t! \u09af\u0AF9"}}`), &q) {
		t.Errorf("hand decoder gave up on an escaped string with spaces")
	} else if got := q.Outputs["q"]; got != "Jane \"JD\" Doe, ~Acme\u00e9 \t! \u09af\u0AF9" {
		t.Errorf("got %q", got)
	}
	var r Run
	if !decodeHand([]byte(runBodies[0]), &r) {
		t.Fatal("gave up")
	}
	want := map[string]any{"a": "Jane", "b": 12.0, "c": -500.0, "d": true, "e": nil,
		"f": []any{1.0, "x", map[string]any{"g": []any{}}}, "h": map[string]any{}, "i": []any{}}
	if !reflect.DeepEqual(r.Outputs, want) || r.Credits == nil || *r.Credits != (Credits{12, 65788}) {
		t.Errorf("got %+v, credits %+v", r, r.Credits)
	}
}

// Outputs nest up to maxDepth levels, counting the output's own, before
// the hand decoder gives up (and encoding/json, deeper still, decodes
// them); a body cut short where a value should be is given up, not
// indexed past its end.
func TestHandDecoderDepthAndTruncatedValues(t *testing.T) {
	t.Parallel()
	for name, nest := range map[string]func(k int) string{
		"arrays":  func(k int) string { return strings.Repeat("[", k) + strings.Repeat("]", k) },
		"objects": func(k int) string { return strings.Repeat(`{"a":`, k) + "1" + strings.Repeat("}", k) },
	} {
		for k, want := range map[int]bool{maxDepth - 1: true, maxDepth: false} {
			body := []byte(`{"run_id":"r","outputs":{"a":` + nest(k) + `}}`)
			var r Run
			if got := decodeHand(body, &r); got != want {
				t.Errorf("%s nested %d deep: hand decoder took it: %v, want %v", name, k, got, want)
			}
			// The same in a field this SDK does not know, which is skipped.
			unknown := []byte(`{"run_id":"r","x":` + nest(k) + `}`)
			if got := decodeHand(unknown, &r); got != want {
				t.Errorf("%s nested %d deep in an unknown field: hand decoder took it: %v, want %v", name, k, got, want)
			}
			var u Run
			if err := unmarshal(body, &u); err != nil || u.Outputs["a"] == nil {
				t.Errorf("%s nested %d deep: %v, outputs %v", name, k, err, u.Outputs)
			}
		}
	}
	for _, body := range []string{`{"run_id":"r","outputs":{"a":`, `{"run_id":"r","outputs":{"a": `, `{"run_id":"r","outputs":{"a":[1,`,
		`{"run_id":"r","credits":{"consumed":12`, `{"run_id":"r","outputs":{"a":-`,
		`{"run_id":"r\`, `{"run_id":"r\u00e`, `{"run_id":"r","status":"runn`, `{"run_id":"r","credits":{"consumed":`,
		`{"run_id":"r","started_at":"2024-04-15T11:30:00Z"`, `{"run_id":"r","x":`,
		`{"run_id":"r","outputs":{"a":12`, `{"run_id":"r","outputs":{"a":1e`, `{"run_id":"r","outputs":{"a":1E+`} {
		b := []byte(body)
		b = b[:len(b):len(b)] // nothing to read past the end, even by mistake
		var r Run
		if decodeHand(b, &r) {
			t.Errorf("hand decoder took %q", body)
		}
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
	// Nor a null answer, which encoding/json takes as nothing to decode,
	// though the literal ends the body.
	for _, body := range []string{"null", " null"} {
		var g Grid
		if !decodeHand([]byte(body), &g) || g.ID != "" {
			t.Errorf("hand decoder gave up on %q, or decoded %+v", body, g)
		}
	}
	// Nor integers of up to 18 digits, which always fit an int64.
	if strconv.IntSize == 64 {
		var big Grid
		if !decodeHand([]byte(`{"id":"g","row_count":-123456789012345678}`), &big) || big.RowCount != -123456789012345678 {
			t.Errorf("hand decoder gave up on an 18-digit integer, or decoded %d", big.RowCount)
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

// runBodies are runs as the API answers them, and crafted to reach each
// way the hand decoder gives up.
var runBodies = []string{
	`{"run_id":"run_01","grid_id":"grid_001","mode":"sync","status":"completed",
	  "outputs":{"a":"Jane","b":12,"c":-0.5e3,"d":true,"e":null,"f":[1,"x",{"g":[]}],"h":{},"i":[]},
	  "credits":{"consumed":12,"remaining":65788},"started_at":"2024-04-15T11:30:00Z","completed_at":"2024-04-15T11:30:02.5+02:00"}`,
	`{"run_id":"run_02","mode":"async","status":"queued","poll_url":"https://api.bitscale.ai/api/v1/runs/run_02"}`,
	`{"run_id":"run_03","status":"failed","error":"model timed out"}`,
	`{"run_id":"run_04","status":"failed","error":{"code":429,"detail":"slow down"}}`,
	`{"run_id":"run_05","status":"paused","mode":"batch","outputs":{"caf\u00e9":"\u00e9t\u00e9","k":1,"k":2}}`,
	`{"success":true,"data":{"run_id":"run_06","status":"running","outputs":null,"credits":null,"error":null}}`,
	`{"run_id":"run_07","outputs":{"n":1e400}}`,
	`{"run_id":"run_08","outputs":{"n":123456789012345678901234567890}}`,
	`{"run_id":"run_09","outputs":{"a":1},"outputs":{"b":2}}`,
	`{"run_id":"run_10","credits":{"consumed":1},"credits":{"remaining":2}}`,
	`{"run_id":"run_11","stAtus":"failed"}`,                  // encoding/json takes a name whatever its case
	"{\"run_id\":\"run_13\",\"outputs\":{\"q\":\"ab\x80\"}}", // a byte that is not UTF-8, which encoding/json replaces
	`{"run_id":"run_14","status":"runningab","mode":"x"}`,    // statuses newer than this SDK, one a known one and more
	`{"run_id":"run_11","credits":{"consumed":1.5}}`,
	`{"run_id":"run_12","credits":{"Consumed":1}}`,
	`{"run_id":"run_13","error":5}`,
	`{"run_id":"run_14","error":{"message":"a"},"error":"b"}`,
	`{"run_id":"run_15","started_at":null,"started_at":"2024-04-15T11:30:00Z"}`,
	`{"run_id":"run_16","started_at":"yesterday"}`,
	`{"run_id":"run_17","outputs":{"a":[1,2,]}}`,
	`{"run_id":"run_18","outputs":{"a":tru}}`,
	`{"run_id":"run_19","outputs":["a"]}`,
	`{"Run_ID":"run_20"}`,
	`{"run_id":"run_21","outputs":{"\ud800":"lone surrogate","k\u0000":"\xff"}}`,
	"{\"run_id\":\"run_22\",\"outputs\":{\"bad\xffname\":\"v\"}}",
	`{"run_id":"run_23","outputs":{"a":-}}`,
	`{"run_id":"run_24","outputs":{"a":01}}`,
	`{"success":true,"data":null,"data":{"run_id":"run_25","status":"completed"}}`,
}

// errorBodies are error answers, as the API and gateways send them and
// crafted to reach each way the hand decoder gives up.
var errorBodies = []string{
	`{"error":{"code":"GRID_NOT_FOUND","message":"No grid found for the given ID"}}`,
	`{"success":false,"error":{"code":"VALIDATION_ERROR","message":"bad","details":{"field":"inputs","n":[1,2.5e3,null]}}}`,
	`{"error":{"code":"X","message":"m","details":"just text"}}`,
	`{"error":{"code":"X","details":null}}`,
	`{"error":{"code":"X","details":{"a":1},"details":[true]}}`,
	`{"error":{"message":"caf\u00e9 \"quoted\""}}`,
	`{"error":{"code":"","message":""}}`,
	`{"error":{}}`,
	`{"error":null}`,
	`null`,
	`{}`,
	`{"error":"Bad Gateway"}`,
	`{"error":""}`,
	`{"error":5}`,
	`{"error":["a"]}`,
	`{"error":{"code":5}}`,
	`{"error":{"Code":"X","message":"m"}}`,
	`{"ERROR":{"code":"X"}}`,
	`{"error":{"code":"A"},"error":{"message":"B"}}`,
	`{"error":"a","error":{"code":"B"}}`,
	`{"error":{"code":"X","message":"m"}} trailing`,
	`{"error":{"code":"X","message":"m"}`,
	`{"error":`,
	` {"error" : { "code" : "X" , "message" : "m\u0000" } } `,
	"{\"error\":{\"code\":\"X\",\"message\":\"\xff\xfe\"}}",
	`<html><body>502 Bad Gateway</body></html>`,
	``,
}

// checkErrorEnvelope checks that the hand decoder, when it decides,
// decides as encoding/json does.
func checkErrorEnvelope(t *testing.T, body string) {
	t.Helper()
	got, gotOK, sure := scanErrorEnvelope([]byte(body))
	if !sure {
		return
	}
	want, wantOK := unmarshalErrorEnvelope([]byte(body))
	if gotOK != wantOK {
		t.Fatalf("%q: hand decoder says %v, encoding/json %v", body, gotOK, wantOK)
	}
	if !gotOK {
		return
	}
	if got.Code != want.Code || got.Message != want.Message || !reflect.DeepEqual(got.details(), want.details()) {
		t.Errorf("%q: decoded by hand as %+v (details %v), encoding/json gives %+v (details %v)",
			body, got, got.details(), want, want.details())
	}
}

func TestScanErrorEnvelopeAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, body := range errorBodies {
		checkErrorEnvelope(t, body)
	}
	// The API's own bodies, and a gateway's string, are decoded by hand.
	for _, body := range errorBodies[:3] {
		if _, ok, sure := scanErrorEnvelope([]byte(body)); !ok || !sure {
			t.Errorf("hand decoder gave up on %q", body)
		}
	}
	if e, ok, sure := scanErrorEnvelope([]byte(errorBodies[11])); !sure || !ok || e.Message != "Bad Gateway" {
		t.Errorf("string error: %+v, %v, %v", e, ok, sure)
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
	for _, b := range slices.Concat(gridBodies, runBodies, errorBodies) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Count(body, "[")+strings.Count(body, "{") > 200 {
			return // deep nesting is encoding/json's, and slow to compare
		}
		checkHand[Grid](t, body)
		checkHand[GridList](t, body)
		checkHand[Run](t, body)
		checkErrorEnvelope(t, body)
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
