package fakeserver

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"time"
	"unicode"
)

// EnrichRequest is what an Enricher computes a run's outputs from.
type EnrichRequest struct {
	WorkspaceID string
	Grid        Grid
	Inputs      map[string]any // keyed by column ID; JSON numbers are json.Number
}

// An Enricher computes a run's outputs, keyed by column ID; the fake then
// keeps only the run's output_columns, if it named any. An error fails the
// run: with the error's code if it is a *RunError, else ENRICHMENT_FAILED.
// The context ends when the server closes; the enricher should return then.
type Enricher func(ctx context.Context, req EnrichRequest) (map[string]any, error)

// DefaultEnricher is the enricher a Server uses unless told otherwise. It
// echoes the inputs and fills each output column with a value of the
// column's type that depends only on the column and the inputs. An email
// column is "first.last@company.com" and a LinkedIn column is
// "https://linkedin.com/in/firstlast", from the inputs whose columns are
// named like "Name" and "Company": for the reference's Jane Doe of Acme
// Corp, "jane.doe@acmecorp.com" and "https://linkedin.com/in/janedoe".
// Other columns get deterministic placeholders. It never fails.
func DefaultEnricher(_ context.Context, req EnrichRequest) (map[string]any, error) {
	out := maps.Clone(req.Inputs)
	if out == nil {
		out = make(map[string]any)
	}
	person, company := personAndCompany(req.Grid.Columns, req.Inputs)
	for _, col := range req.Grid.Columns {
		if !col.IsOutput {
			continue
		}
		if _, given := req.Inputs[col.ID]; given {
			continue
		}
		out[col.ID] = fill(col, person, company, digest(col.ID, req.Inputs))
	}
	return out, nil
}

// personAndCompany finds the person's and the company's names among the
// inputs by their columns' names.
func personAndCompany(cols []Column, inputs map[string]any) (person, company string) {
	for _, col := range cols {
		v, ok := inputs[col.ID].(string)
		if !ok || !col.IsInput || strings.TrimSpace(v) == "" {
			continue
		}
		name := strings.ToLower(col.Name)
		switch {
		case strings.Contains(name, "company") && company == "":
			company = v
		case strings.Contains(name, "name") && !strings.Contains(name, "company") && person == "":
			person = v
		}
	}
	return person, company
}

// fill returns an output value for one column.
func fill(col Column, person, company string, sum []byte) any {
	name := strings.ToLower(col.Name)
	tag := hex.EncodeToString(sum[:4])
	n := binary.BigEndian.Uint64(sum[8:16])
	switch {
	case person != "" && (col.Type == TypeEmail || strings.Contains(name, "email")):
		domain := "example.com"
		if c := compact(company); c != "" {
			domain = c + ".com"
		}
		return strings.Join(words(person), ".") + "@" + domain
	case person != "" && strings.Contains(name, "linkedin"):
		return "https://linkedin.com/in/" + compact(person)
	}
	switch col.Type {
	case TypeNumber:
		return int(n % 10000)
	case TypeBoolean:
		return n%2 == 1
	case TypeURL:
		return "https://example.com/" + slug(col.Name) + "/" + tag
	case TypeEmail:
		return slug(col.Name) + "-" + tag + "@example.com"
	case TypeDate:
		return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n%9000)).Format("2006-01-02")
	}
	return slug(col.Name) + "-" + tag
}

// digest hashes a column ID with the inputs. encoding/json sorts map keys,
// so equal inputs always give the same sum.
func digest(columnID string, inputs map[string]any) []byte {
	b, _ := json.Marshal(inputs)
	h := sha256.New()
	h.Write([]byte(columnID))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)
}

// words returns the lowercase letters and digits of s, word by word.
func words(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if w := compact(f); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// compact returns the lowercase letters and digits of s.
func compact(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// slug returns the words of s joined by hyphens.
func slug(s string) string {
	if w := words(s); len(w) > 0 {
		return strings.Join(w, "-")
	}
	return "value"
}
