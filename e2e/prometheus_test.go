package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// promSample is one series of an instant-vector query result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) value() string { v, _ := s.Value[1].(string); return v }

// promQuery runs an instant query through Prometheus's HTTP API
// (https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries).
func promQuery(t *testing.T, base, q string) []promSample {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" || body.Data.ResultType != "vector" {
		t.Fatalf("query %s: status %q %q, %v", q, body.Status, body.Error, err)
	}
	return body.Data.Result
}

// describe renders samples as "job/instance=value" for messages and checks.
func describe(ss []promSample, keys ...string) string {
	var out []string
	for _, s := range ss {
		var parts []string
		for _, k := range keys {
			parts = append(parts, s.Metric[k])
		}
		out = append(out, strings.Join(parts, "/")+"="+s.value())
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestPrometheusScrapesServe: Prometheus, scraping blprobe serve's /metrics
// and /probe (relabelling), holds listed=1 for the address rbldnsd lists and
// 0 for the clean one, from both jobs, and the shipped BlprobeListed alert
// fires for the listed address only. Run by scripts/e2e-prometheus.sh.
func TestPrometheusScrapesServe(t *testing.T) {
	if os.Getenv("BLPROBE_E2E_PROM") != "1" {
		t.Skip("end-to-end test with a real Prometheus: run scripts/e2e-prometheus.sh (it sets BLPROBE_E2E_PROM=1)")
	}
	prom, bl := os.Getenv("E2E_PROM_URL"), os.Getenv("E2E_BLPROBE_URL")
	zone, listed, clean := os.Getenv("E2E_ZONE"), os.Getenv("E2E_LISTED"), os.Getenv("E2E_CLEAN")

	want := map[string]string{
		// query → the expected result, rendered by describe(job, instance)
		fmt.Sprintf(`blprobe_dnsbl_listed{address=%q,zone=%q}`, listed, zone):                   fmt.Sprintf("blprobe/%s=1 blprobe_probe/%s=1", bl[len("http://"):], listed),
		fmt.Sprintf(`blprobe_dnsbl_listed{address=%q,zone=%q}`, clean, zone):                    fmt.Sprintf("blprobe/%s=0 blprobe_probe/%s=0", bl[len("http://"):], clean),
		fmt.Sprintf(`blprobe_dnsbl_zone_healthy{zone=%q,job="blprobe"}`, zone):                  fmt.Sprintf("blprobe/%s=1", bl[len("http://"):]),
		`probe_success{job="blprobe_probe"}`:                                                    fmt.Sprintf("blprobe_probe/%s=1 blprobe_probe/%s=1", clean, listed),
		`up{job=~"blprobe.*"}`:                                                                  fmt.Sprintf("blprobe/%s=1 blprobe_probe/%s=1 blprobe_probe/%s=1", bl[len("http://"):], clean, listed),
		fmt.Sprintf(`blprobe_target_verdict{verdict="listed",target=%q,job="blprobe"}`, listed): fmt.Sprintf("blprobe/%s=1", bl[len("http://"):]),
	}
	alerts := `ALERTS{alertname="BlprobeListed",alertstate="firing"}`
	wantAlert := fmt.Sprintf("%s/%s/%s=1", listed, zone, listed)

	deadline := time.Now().Add(90 * time.Second)
	for {
		var missing []string
		for q, w := range want {
			if got := describe(promQuery(t, prom, q), "job", "instance"); got != w {
				missing = append(missing, fmt.Sprintf("%s: got %q, want %q", q, got, w))
			}
		}
		if got := describe(promQuery(t, prom, alerts), "address", "zone", "target"); got != wantAlert {
			missing = append(missing, fmt.Sprintf("%s: got %q, want %q", alerts, got, wantAlert))
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not reach the expected state in 90 s:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(time.Second)
	}
	if got := promQuery(t, prom, `ALERTS{alertname="BlprobeZoneUnhealthy"}`); len(got) != 0 {
		t.Errorf("zone unhealthy alert: %v", got)
	}

	// The exporter is no open proxy: an address outside the allow-list is refused.
	resp, err := http.Get(bl + "/probe?target=203.0.113.9&zones=" + zone)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "not within probe.allow_targets") {
		t.Errorf("/probe outside the allow-list: %d %s", resp.StatusCode, b)
	}
	// The latest full report of the listed address.
	resp, err = http.Get(bl + "/report?target=" + listed)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Schema  string `json:"schema"`
		Verdict string `json:"verdict"`
		DNSBL   struct {
			Results []struct {
				Status, Reason string
			} `json:"results"`
		} `json:"dnsbl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if err != nil || rep.Schema != "blprobe.report/v1" || rep.Verdict != "listed" || len(rep.DNSBL.Results) != 1 ||
		!strings.Contains(rep.DNSBL.Results[0].Reason, "Listed in "+zone) {
		t.Errorf("/report: %v %+v", err, rep)
	}
}
