package smtpcheck

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// corpusRow is one real reply of a corpus file (testdata/corpus.tsv,
// testdata/corpus_mta.tsv).
type corpusRow struct {
	line   int
	code   int
	stage  Stage
	cause  Cause
	list   string // "" when the reply cites none
	source string
	text   string // "\n" between lines, enhanced code included
}

func loadCorpus(t testing.TB, path string) []corpusRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sources := map[string]bool{}
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if rest, ok := strings.CutPrefix(l, "# source "); ok {
			key, url, _ := strings.Cut(rest, " ")
			if url == "" {
				t.Fatalf("line %d: source %q has no URL", n, key)
			}
			sources[key] = true
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p := strings.Split(l, "\t")
		if len(p) != 6 {
			t.Fatalf("line %d: %d columns, want 6", n, len(p))
		}
		code, err := strconv.Atoi(p[0])
		if err != nil {
			t.Fatalf("line %d: code %q", n, p[0])
		}
		r := corpusRow{line: n, code: code, stage: Stage(p[1]), cause: Cause(p[2]), source: p[4], text: strings.ReplaceAll(p[5], `\n`, "\n")}
		if p[3] != "-" {
			r.list = p[3]
		}
		if _, ok := causeTable[r.cause]; !ok {
			t.Fatalf("line %d: unknown cause %q", n, r.cause)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if !sources[r.source] {
			t.Fatalf("line %d: source %q is not declared in a '# source' line", r.line, r.source)
		}
	}
	return rows
}

// wire renders a corpus row as the server sends it.
func (r corpusRow) wire() string {
	lines := strings.Split(r.text, "\n")
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "%d%s%s\r\n", r.code, sep, l)
	}
	return b.String()
}

// TestCorpus runs every real reply of the corpus files through ReadReply
// and ClassifyCause, prints the agreement per cause, and fails below 97%.
// testdata/corpus.tsv (texts from the MTAs' sources and the providers'
// bounce documentation, the rules were written against it) must have at
// least 300 texts and 5 per cause; testdata/corpus_mta.tsv (replies recorded
// from real Exim, OpenSMTPD and Haraka and their shipped texts, held out
// when the rules were written) at least 80.
func TestCorpus(t *testing.T) {
	for _, c := range []struct {
		path            string
		minRows, minPer int
	}{
		{"testdata/corpus.tsv", 300, 5},
		{"testdata/corpus_mta.tsv", 80, 0},
	} {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(c.path, "testdata/"), ".tsv"), func(t *testing.T) {
			testCorpus(t, c.path, c.minRows, c.minPer)
		})
	}
}

func testCorpus(t *testing.T, path string, minRows, minPer int) {
	rows := loadCorpus(t, path)
	if len(rows) < minRows {
		t.Fatalf("%s has %d texts, want at least %d", path, len(rows), minRows)
	}
	type tally struct{ n, ok int }
	per := map[Cause]*tally{}
	for _, c := range AllCauses() {
		per[c] = &tally{}
	}
	agree := 0
	for _, r := range rows {
		rep, _, err := ReadReply(bufio.NewReader(strings.NewReader(r.wire())))
		if err != nil {
			t.Fatalf("line %d: %v", r.line, err)
		}
		v := ClassifyCause(r.stage, rep, true)
		st, cl, cited := Classify(r.stage, rep)
		if st != v.Status || cl != v.Class || cited != v.CitedList || cl != v.Cause.Class() {
			t.Errorf("line %d: Classify %s/%s/%q disagrees with ClassifyCause %+v", r.line, st, cl, cited, v)
		}
		per[r.cause].n++
		if v.Cause == r.cause && v.CitedList == r.list {
			per[r.cause].ok++
			agree++
			continue
		}
		t.Logf("line %d (%s): got %s %q, want %s %q (%s)\n\t%s", r.line, r.source, v.Cause, v.CitedList, r.cause, r.list, v.Why, strings.ReplaceAll(r.text, "\n", " | "))
	}
	causes := AllCauses()
	sort.Slice(causes, func(i, j int) bool { return causes[i] < causes[j] })
	for _, c := range causes {
		tl := per[c]
		t.Logf("%-20s %3d/%3d", c, tl.ok, tl.n)
		if tl.n < minPer {
			t.Errorf("cause %s has %d texts in %s, want at least %d", c, tl.n, path, minPer)
		}
	}
	pct := 100 * float64(agree) / float64(len(rows))
	t.Logf("%s agreement: %d/%d = %.1f%%", path, agree, len(rows), pct)
	if pct < 97 {
		t.Errorf("agreement %.1f%% is below 97%%", pct)
	}
}
