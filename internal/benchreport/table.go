package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// A row is one figure of the report. met is "" when the figure has no
// target and is shown for information.
type row struct {
	figure, sdk, base, ratio, target, met string
}

type table struct{ rows []row }

func (t *table) add(r row) { t.rows = append(t.rows, r) }

// missed returns the number of targets not met.
func (t *table) missed() int {
	n := 0
	for _, r := range t.rows {
		if r.met == "no" {
			n++
		}
	}
	return n
}

// write prints the table as Markdown.
func (t *table) write(w io.Writer) {
	head := row{"Figure", "SDK", "Baseline", "Ratio", "Target", "Met"}
	cells := make([][]string, len(t.rows))
	for i, r := range t.rows {
		cells[i] = r.cells()
	}
	writeMarkdown(w, head.cells(), cells)
}

// writeMarkdown prints a Markdown table, its columns padded so that it
// also reads as plain text.
func writeMarkdown(w io.Writer, head []string, rows [][]string) {
	width := make([]int, len(head))
	for _, r := range append([][]string{head}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(head)
	rule := make([]string, len(head))
	for i := range rule {
		rule[i] = strings.Repeat("-", width[i])
	}
	line(rule)
	for _, r := range rows {
		line(r)
	}
}

func (r row) cells() []string {
	met := r.met
	if met == "" {
		met = "–"
	}
	return []string{r.figure, orDash(r.sdk), orDash(r.base), orDash(r.ratio), orDash(r.target), met}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// duration formats d with three significant digits: 183µs, 71.2ms, 4.03s.
func duration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return sig3(float64(d)/1e3) + "µs"
	case d < time.Second:
		return sig3(float64(d)/1e6) + "ms"
	}
	return sig3(float64(d)/1e9) + "s"
}

// bytes formats n bytes in binary units: 9.6KiB, 8.31MiB.
func bytes(n float64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%.0fB", n)
	case n < 1<<20:
		return sig3(n/(1<<10)) + "KiB"
	}
	return sig3(n/(1<<20)) + "MiB"
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func ratio(sdk, base float64) string {
	if base == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", sdk/base)
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }
