// Package archtest guards blprobe's layering: cmd/blprobe → check →
// checkers (dnsbl, smtpcheck, egress, rdns, mailauth) → internal/dnsclient,
// with report depending only on result types. A checker that imported
// report, check or cmd would tie the libraries to one program and one
// report; this test fails when one does, directly or through another
// package, and when the README's layout table and the code drift apart.
package archtest

import (
	"bufio"
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/blprobe/blprobe"

// rule forbids the packages matching from (module-relative, a trailing
// "/..." matches the subtree) to import any package matching one of deny.
type rule struct {
	from string
	deny []string
	why  string
}

var rules = []rule{
	{"dnsbl", []string{"report", "check", "cmd/..."}, "a checker owns its result types"},
	{"smtpcheck", []string{"report", "check", "cmd/..."}, "a checker owns its result types"},
	{"egress", []string{"report", "check", "cmd/..."}, "a checker owns its result types"},
	{"rdns", []string{"report", "check", "cmd/..."}, "a checker owns its result types"},
	{"mailauth/...", []string{"report", "check", "cmd/..."}, "a checker owns its result types"},
	{"internal/dnsclient", []string{"report", "check", "cmd/...", "dnsbl", "smtpcheck", "egress", "rdns"}, "the lookup layer is below every checker"},
	{"report/...", []string{"check", "cmd/..."}, "report composes result types and renders"},
	{"check", []string{"cmd/..."}, "check is a library"},
}

func match(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// graph maps each module package (module-relative path) to its direct
// imports inside the module (non-test files).
type graph map[string][]string

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func loadGraph(t *testing.T, root string) graph {
	t.Helper()
	g := graph{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files (or only tests)
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		var deps []string
		for _, imp := range pkg.Imports {
			if r, ok := strings.CutPrefix(imp, module+"/"); ok {
				deps = append(deps, r)
			}
		}
		g[rel] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// violations returns "from → … → dep" for every forbidden import, direct
// or transitive.
func violations(g graph, rs []rule) []string {
	var out []string
	for pkg := range g {
		for _, r := range rs {
			if !match(r.from, pkg) {
				continue
			}
			// Breadth-first, remembering the path to each reached package.
			path := map[string]string{pkg: pkg}
			queue := []string{pkg}
			for len(queue) > 0 {
				p := queue[0]
				queue = queue[1:]
				for _, d := range g[p] {
					if _, seen := path[d]; seen {
						continue
					}
					path[d] = path[p] + " → " + d
					denied := false
					for _, deny := range r.deny {
						denied = denied || match(deny, d)
					}
					if denied {
						out = append(out, path[d]+" ("+r.why+")")
						continue // one finding per path is enough
					}
					queue = append(queue, d)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestLayering(t *testing.T) {
	g := loadGraph(t, moduleRoot(t))
	for _, must := range []string{"check", "dnsbl", "smtpcheck", "egress", "rdns", "report", "internal/dnsclient", "cmd/blprobe"} {
		if _, ok := g[must]; !ok {
			t.Errorf("package %s not found: update the rules with the layout", must)
		}
	}
	for _, v := range violations(g, rules) {
		t.Errorf("forbidden import: %s", v)
	}
}

// The guard itself must catch a direct and a transitive violation.
func TestViolationsDetected(t *testing.T) {
	g := graph{
		"egress":             {"internal/dnsclient", "report"},
		"rdns":               {"internal/util"},
		"internal/util":      {"check"},
		"internal/dnsclient": nil,
		"report":             {"egress", "rdns"},
		"check":              {"report", "egress", "rdns"},
		"mailauth/spf":       {"cmd/blprobe"},
		"cmd/blprobe":        {"check"},
	}
	got := violations(g, rules)
	want := []string{
		"egress → report (a checker owns its result types)",
		"mailauth/spf → cmd/blprobe (a checker owns its result types)",
		"rdns → internal/util → check (a checker owns its result types)",
		"report → rdns → internal/util → check (report composes result types and renders)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Every row of the README's layout table names existing directories, and
// every package of the module is covered by a row (itself or a parent).
func TestReadmeLayoutMatchesCode(t *testing.T) {
	root := moduleRoot(t)
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var paths []string
	in := false
	cell := regexp.MustCompile("`([^`]+)`")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Layout"
		case in && strings.HasPrefix(line, "| `"):
			first := strings.SplitN(strings.TrimPrefix(line, "|"), "|", 2)[0]
			for _, m := range cell.FindAllStringSubmatch(first, -1) {
				paths = append(paths, strings.TrimSuffix(m[1], "/"))
			}
		}
	}
	if len(paths) == 0 {
		t.Fatal("README.md has no layout table under \"## Layout\"")
	}
	for _, p := range paths {
		if st, err := os.Stat(filepath.Join(root, p)); err != nil || !st.IsDir() {
			t.Errorf("README layout names %s, which is not a directory", p)
		}
	}
	for pkg := range loadGraph(t, root) {
		if pkg == "." {
			continue
		}
		covered := false
		for _, p := range paths {
			covered = covered || match(p+"/...", pkg)
		}
		if !covered {
			t.Errorf("package %s is not in the README layout table", pkg)
		}
	}
}
