package serve

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestExamples: the shipped config is valid, and every blprobe metric the
// shipped alert rules and scrape config use is one the collector exports,
// with labels it has.
func TestExamples(t *testing.T) {
	if _, err := LoadConfig("../examples/serve.yaml"); err != nil {
		t.Errorf("examples/serve.yaml: %v", err)
	}
	ch := make(chan *prometheus.Desc, 64)
	NewCollector(nil).Describe(ch)
	close(ch)
	labels := map[string]map[string]bool{}
	descRE := regexp.MustCompile(`fqName: "([a-z0-9_]+)".*variableLabels: \{([^}]*)\}`)
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read %s", d)
		}
		labels[m[1]] = map[string]bool{}
		for _, l := range strings.Split(m[2], ",") {
			labels[m[1]][strings.TrimSpace(l)] = true
		}
	}
	use := regexp.MustCompile(`(blprobe_[a-z0-9_]+)(\{[^}]*\})?`)
	labelRE := regexp.MustCompile(`([a-z_]+)\s*=~?`)
	for _, f := range []string{"../examples/blprobe-alerts.yml", "../examples/prometheus.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			name := m[1]
			if strings.HasPrefix(name, "blprobe_probe") { // job names
				continue
			}
			ls, ok := labels[name]
			if !ok {
				t.Errorf("%s uses %s, which blprobe does not export", f, name)
				continue
			}
			for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
				if !ls[l[1]] {
					t.Errorf("%s: %s has no label %s", f, name, l[1])
				}
			}
		}
	}
}
