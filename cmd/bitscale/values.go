package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/bitscale/bitscale-go"
)

// value converts text given for a column of type t to what the API wants:
// a JSON number for a number column, a boolean for a boolean one. Text
// that does not convert is left as it is, for the SDK to refuse with its
// reason before anything is sent.
func value(t bitscale.ColumnType, s string) any {
	switch t {
	case bitscale.ColumnNumber:
		// ParseFloat refuses what is not one number, json.Valid what JSON
		// cannot carry (NaN, hex floats).
		if _, err := strconv.ParseFloat(s, 64); err == nil && json.Valid([]byte(s)) {
			return json.Number(s)
		}
	case bitscale.ColumnBoolean:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

// text formats a value for a table or a CSV cell: text as it is, objects
// and lists as JSON, anything else as fmt prints it.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]any, []any:
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}
