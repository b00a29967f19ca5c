package report

import (
	"strings"

	"github.com/mattn/go-runewidth"
)

// Terminal layout: cells are measured in terminal columns with
// go-runewidth (East Asian wide characters take two, combining marks none),
// so tables line up and lines fit whatever the script of remote text.

// cellWidth is the number of terminal columns s takes.
func cellWidth(s string) int { return runewidth.StringWidth(s) }

// fit truncates s to w columns, ending in "…" when it was cut.
func fit(s string, w int) string {
	if w <= 0 || cellWidth(s) <= w {
		return s
	}
	if w == 1 {
		return "…"
	}
	return runewidth.Truncate(s, w, "…")
}

// wrap breaks s into lines of at most width columns at spaces: the first
// line starts with first, the others with rest (a hanging indent). A word
// longer than a line (a URL) is cut into pieces. width <= 0 means no limit.
func wrap(s string, width int, first, rest string) []string {
	words := strings.Fields(s)
	if width <= 0 || len(words) == 0 {
		return []string{first + strings.Join(words, " ")}
	}
	var lines []string
	line, lw := first, cellWidth(first)
	empty := true
	for _, w := range words {
		ww := cellWidth(w)
		if !empty && lw+1+ww > width {
			lines = append(lines, line)
			line, lw, empty = rest, cellWidth(rest), true
		}
		if !empty {
			line += " "
			lw++
		}
		for lw+ww > width && width-lw > 8 { // a word longer than the line: cut it
			head := runewidth.Truncate(w, width-lw, "")
			lines = append(lines, line+head)
			w = w[len(head):]
			ww = cellWidth(w)
			line, lw = rest, cellWidth(rest)
		}
		line += w
		lw += ww
		empty = false
	}
	return append(lines, line)
}

// minFlex is the narrowest a flexible column (a reply) may get in a table
// before the rows are better shown as records.
const minFlex = 30

// fitsAsTable reports whether rows fit in width as a table without cutting
// any column but flex, and leave flex at least minFlex columns (or all it
// needs).
func fitsAsTable(indent string, header []string, rows [][]string, width, flex int) bool {
	if width <= 0 {
		return true
	}
	n := len(header)
	w := make([]int, n)
	for _, r := range append([][]string{header}, rows...) {
		for i := 0; i < n && i < len(r); i++ {
			w[i] = max(w[i], cellWidth(r[i]))
		}
	}
	fixed := cellWidth(indent) + 2*(n-1)
	for i, x := range w {
		if i != flex {
			fixed += x
		}
	}
	if flex < 0 || flex >= n {
		return fixed <= width
	}
	return width-fixed >= min(minFlex, w[flex])
}

// table lays out rows under header as aligned columns separated by two
// spaces, indented by indent. When width > 0 and the table is wider, the
// column flex (e.g. a reply text) shrinks first, down to a quarter of the
// width, then the widest other columns, down to their header; cut cells
// end in "…". Cells must already be safe; the last column is not padded.
func table(indent string, header []string, rows [][]string, width, flex int) []string {
	n := len(header)
	w := make([]int, n)
	all := append([][]string{header}, rows...)
	for _, r := range all {
		for i := 0; i < n && i < len(r); i++ {
			w[i] = max(w[i], cellWidth(r[i]))
		}
	}
	total := func() int {
		t := cellWidth(indent) + 2*(n-1)
		for _, x := range w {
			t += x
		}
		return t
	}
	if width > 0 && total() > width {
		if flex >= 0 && flex < n {
			floor := max(cellWidth(header[flex]), width/4)
			w[flex] = max(floor, w[flex]-(total()-width))
		}
		for total() > width {
			widest := -1
			for i := range w {
				if i != flex && w[i] > max(cellWidth(header[i]), 3) && (widest < 0 || w[i] > w[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				if flex >= 0 && flex < n && w[flex] > cellWidth(header[flex]) {
					w[flex] = max(cellWidth(header[flex]), w[flex]-(total()-width))
					continue
				}
				break // cannot get narrower
			}
			w[widest]--
		}
	}
	out := make([]string, 0, len(all))
	for _, r := range all {
		var b strings.Builder
		b.WriteString(indent)
		for i := 0; i < n; i++ {
			c := ""
			if i < len(r) {
				c = fit(r[i], w[i])
			}
			b.WriteString(c)
			if i < n-1 {
				b.WriteString(strings.Repeat(" ", w[i]-cellWidth(c)+2))
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}
