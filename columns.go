package bitscale

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Column returns the grid's column whose ID is key, or else whose name is
// key, ignoring case and surrounding spaces. It reports false when there is
// none.
func (g *Grid) Column(key string) (*Column, bool) {
	for i := range g.Columns {
		if g.Columns[i].ID == key {
			return &g.Columns[i], true
		}
	}
	key = strings.TrimSpace(key)
	for i := range g.Columns {
		if strings.EqualFold(strings.TrimSpace(g.Columns[i].Name), key) {
			return &g.Columns[i], true
		}
	}
	return nil, false
}

// InputError lists every problem found in a row's inputs, so that a caller
// can fix them all at once. It is returned before any request is sent.
type InputError struct {
	Problems []InputProblem
}

// InputProblem is one problem with one column of a row.
type InputProblem struct {
	Column string // the column's name, or the key given when no column has it
	Reason string
}

// Error lists the problems.
func (e *InputError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = fmt.Sprintf("%q %s", p.Column, p.Reason)
	}
	return "bitscale: invalid inputs: " + strings.Join(parts, "; ")
}

// Inputs returns a run's inputs keyed by column ID, from values keyed by
// column name or ID. It checks them against the grid first: every key must
// name an input column, every required input must be given, and every value
// must fit its column's type (a time.Time is accepted for a date column).
// A nil value is left out. It returns an *InputError listing every problem.
func (g *Grid) Inputs(values map[string]any) (map[string]any, error) {
	inputs := make(map[string]any, len(values))
	var problems []InputProblem
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // problems in a stable order
	for _, k := range keys {
		col, ok := g.Column(k)
		switch {
		case !ok:
			problems = append(problems, InputProblem{k, "is not a column of grid " + g.ID})
			continue
		case !col.IsInput:
			problems = append(problems, InputProblem{col.Name, "is not an input column"})
			continue
		case values[k] == nil:
			continue
		}
		if _, dup := inputs[col.ID]; dup {
			problems = append(problems, InputProblem{col.Name, "is given twice, by name and by ID"})
			continue
		}
		v, err := fit(col.Type, values[k])
		if err != nil {
			problems = append(problems, InputProblem{col.Name, err.Error()})
			continue
		}
		inputs[col.ID] = v
	}
	for _, col := range g.Columns {
		// A required column with a bad value is reported once, for its value.
		if col.IsInput && col.Required && blank(inputs[col.ID]) && !containsProblem(problems, col.Name) {
			problems = append(problems, InputProblem{col.Name, "is required"})
		}
	}
	if len(problems) > 0 {
		return nil, &InputError{Problems: problems}
	}
	return inputs, nil
}

func containsProblem(ps []InputProblem, column string) bool {
	for _, p := range ps {
		if p.Column == column {
			return true
		}
	}
	return false
}

// blank reports whether a required input is missing: absent, or text of
// spaces only.
func blank(v any) bool {
	s, ok := v.(string)
	return v == nil || ok && strings.TrimSpace(s) == ""
}

// fit checks that v suits a column of type t and returns it as it will be
// sent.
func fit(t ColumnType, v any) (any, error) {
	switch t {
	case ColumnNumber:
		if !isNumber(v) {
			return nil, fmt.Errorf("needs a number, got %T", v)
		}
	case ColumnBoolean:
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("needs true or false, got %T", v)
		}
	case ColumnDate:
		if tm, ok := v.(time.Time); ok {
			return tm.Format(time.RFC3339), nil
		}
		s, ok := v.(string)
		if !ok || !isDate(s) {
			return nil, fmt.Errorf("needs an ISO 8601 date such as 2024-04-15, got %s", describe(v))
		}
	case ColumnURL:
		s, ok := v.(string)
		u, err := url.Parse(s)
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("needs an absolute http(s) URL, got %s", describe(v))
		}
	case ColumnEmail:
		s, ok := v.(string)
		a, err := mail.ParseAddress(s)
		if !ok || err != nil || a.Address != strings.TrimSpace(s) {
			return nil, fmt.Errorf("needs an email address, got %s", describe(v))
		}
	case ColumnText:
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("needs text, got %T", v)
		}
	}
	// Other types (formula, AI enrichment, and types newer than this SDK)
	// are the server's to check.
	return v, nil
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%T", v)
}

func isNumber(v any) bool {
	switch n := v.(type) {
	case json.Number:
		_, err := n.Float64()
		return err == nil
	case float64:
		return !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32:
		return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0)
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func isDate(s string) bool {
	for _, layout := range []string{time.DateOnly, time.RFC3339, time.RFC3339Nano} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// OutputColumnIDs returns the IDs of the output columns named by keys,
// names or IDs, for RunRequest.OutputColumns. It returns an *InputError
// listing the keys that name no column.
func (g *Grid) OutputColumnIDs(keys ...string) ([]string, error) {
	ids := make([]string, 0, len(keys))
	var problems []InputProblem
	for _, k := range keys {
		col, ok := g.Column(k)
		if !ok {
			problems = append(problems, InputProblem{k, "is not a column of grid " + g.ID})
			continue
		}
		ids = append(ids, col.ID)
	}
	if len(problems) > 0 {
		return nil, &InputError{Problems: problems}
	}
	return ids, nil
}

// RunRequest returns a request to run the grid on one row given by column
// names or IDs, as Inputs checks it, limited to the output columns named
// by outputs, if any. It returns an *InputError listing every problem.
func (g *Grid) RunRequest(values map[string]any, outputs ...string) (*RunRequest, error) {
	inputs, err := g.Inputs(values)
	outIDs, outErr := g.OutputColumnIDs(outputs...)
	if err != nil || outErr != nil {
		var all []InputProblem
		for _, e := range []error{err, outErr} {
			if ie, ok := e.(*InputError); ok {
				all = append(all, ie.Problems...)
			}
		}
		return nil, &InputError{Problems: all}
	}
	req := &RunRequest{Inputs: inputs}
	if len(outIDs) > 0 {
		req.OutputColumns = outIDs
	}
	return req, nil
}

// OutputsByName returns a run's outputs keyed by column name. Outputs of a
// column the grid does not have keep their ID as the key.
func (g *Grid) OutputsByName(run *Run) map[string]any {
	out := make(map[string]any, len(run.Outputs))
	for id, v := range run.Outputs {
		if col, ok := g.Column(id); ok && col.ID == id {
			out[col.Name] = v
			continue
		}
		out[id] = v
	}
	return out
}
