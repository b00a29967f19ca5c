package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
)

// sliceSource is a ResultSource over a slice (what *dnsbl.ResultSet is to a
// real run).
type sliceSource []dnsbl.Result

func (s sliceSource) Each(fn func(*dnsbl.Result) bool) {
	var r dnsbl.Result
	for i := range s {
		r = s[i] // reused, as ResultSet does
		if !fn(&r) {
			return
		}
	}
}

// TestStreamEqualsInMemory: the streamed JSON is byte for byte the
// in-memory JSON, with results in memory or from a ResultSource (whose
// report keeps only the results that are not clean in Results), with and
// without --only, and it validates against the schema.
func TestStreamEqualsInMemory(t *testing.T) {
	emptyDNSBL := fullReport()
	emptyDNSBL.DNSBL.Results = nil
	onlyListed := fullReport()
	onlyListed.DNSBL.Only = []dnsbl.Status{dnsbl.StatusListed}
	noDNSBL := fullReport()
	noDNSBL.DNSBL = nil
	for name, r := range map[string]*Report{"full": fullReport(), "enums": enumReport(), "empty": emptyDNSBL, "only-listed": onlyListed, "no-dnsbl": noDNSBL} {
		t.Run(name, func(t *testing.T) {
			var mem, stream bytes.Buffer
			if err := WriteJSON(&mem, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSONStream(&stream, r); err != nil {
				t.Fatal(err)
			}
			if mem.String() != stream.String() {
				t.Fatalf("streamed JSON differs:\n--- in memory\n%s\n--- streamed\n%s", mem.String(), stream.String())
			}
			if err := Validate(stream.Bytes()); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(stream.String(), testKey) {
				t.Fatal("the DQS key leaked")
			}
			if r.DNSBL == nil {
				return
			}
			// The same run as a ResultSource.
			src := *r
			d := *r.DNSBL
			d.All = sliceSource(r.DNSBL.Results)
			d.Results = nil
			for _, res := range r.DNSBL.Results {
				if res.Status != dnsbl.StatusClean {
					d.Results = append(d.Results, res)
				}
			}
			src.DNSBL = &d
			var mem2, stream2 bytes.Buffer
			if err := WriteJSON(&mem2, &src); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSONStream(&stream2, &src); err != nil {
				t.Fatal(err)
			}
			if mem2.String() != mem.String() || stream2.String() != mem.String() {
				t.Fatalf("a ResultSource gives another document:\n%s", stream2.String())
			}
		})
	}
}

func TestOnlyOmittedCounts(t *testing.T) {
	r := fullReport()
	r.DNSBL.Only = []dnsbl.Status{dnsbl.StatusListed}
	var b bytes.Buffer
	if err := WriteJSONStream(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		DNSBL struct {
			Results []dnsbl.Result
			Omitted map[string]map[dnsbl.Status]int
			Only    []dnsbl.Status
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[dnsbl.Status]int{}
	listed := 0
	for _, res := range fullReport().DNSBL.Results {
		if res.Status == dnsbl.StatusListed {
			listed++
			continue
		}
		if want[res.Zone] == nil {
			want[res.Zone] = map[dnsbl.Status]int{}
		}
		want[res.Zone][res.Status]++
	}
	if len(doc.DNSBL.Results) != listed || listed == 0 || len(want) == 0 {
		t.Fatalf("%d results written, want the %d listed", len(doc.DNSBL.Results), listed)
	}
	gb, _ := json.Marshal(doc.DNSBL.Omitted)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("omitted %s, want %s", gb, wb)
	}
	// Text and Markdown list only what --only selects and say what was left out.
	var text, md bytes.Buffer
	if err := WriteText(&text, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if !strings.Contains(out, "not shown (--only listed)") {
			t.Errorf("%s: no omitted line:\n%s", name, out)
		}
		if strings.Contains(out, "Could not check") {
			t.Errorf("%s lists errors that --only left out", name)
		}
	}
}

func TestJSONL(t *testing.T) {
	r := fullReport()
	var b bytes.Buffer
	j, err := NewJSONL(&b, r, []dnsbl.Status{dnsbl.StatusListed, dnsbl.StatusError})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), `{"type":"run"`) || strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("the run line is not written at once: %q", b.String())
	}
	for i := range r.DNSBL.Results {
		j.Result(&r.DNSBL.Results[i])
	}
	r.Finalize()
	if err := j.Finish(r); err != nil {
		t.Fatal(err)
	}
	if err := ValidateJSONL(b.Bytes()); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	shown := 0
	for _, res := range r.DNSBL.Results {
		if res.Status == dnsbl.StatusListed || res.Status == dnsbl.StatusError {
			shown++
		}
	}
	if len(lines) != shown+2 {
		t.Errorf("%d lines, want %d results + 2", len(lines), shown)
	}
	var sum struct {
		Verdict Verdict
		Counts  map[dnsbl.Status]int
		Omitted map[string]map[dnsbl.Status]int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range sum.Counts {
		total += n
	}
	if sum.Verdict != r.Verdict || total != len(r.DNSBL.Results) || (shown < total && len(sum.Omitted) == 0) {
		t.Errorf("summary %+v", sum)
	}
	if strings.Contains(b.String(), testKey) {
		t.Error("the DQS key leaked")
	}
	// A result line is the same object as an item of dnsbl.results.
	for _, res := range r.DNSBL.Results {
		if res.Status == dnsbl.StatusListed {
			item, _ := json.Marshal(res)
			if !strings.Contains(b.String(), "\n"+string(redactJSON(item, r.secrets))+"\n") {
				t.Errorf("no line for %+v", res)
			}
		}
	}
}

// syncBuf records what has been written so far.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJSONLFlushesWhileRunning: a result line is written out soon even
// when no other result follows.
func TestJSONLFlushesWhileRunning(t *testing.T) {
	r := fullReport()
	var out syncBuf
	j, err := NewJSONL(&out, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Result(&r.DNSBL.Results[0])
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Fatalf("%d lines written while the run goes, want the run line and the result", n)
	}
	r.Finalize()
	if err := j.Finish(r); err != nil {
		t.Fatal(err)
	}
}
