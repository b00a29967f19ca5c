package smtpcheck

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestCauseTable(t *testing.T) {
	all := AllCauses()
	if len(all) != len(causeTable) {
		t.Fatalf("AllCauses has %d causes, causeTable %d", len(all), len(causeTable))
	}
	for _, c := range all {
		if c.Class() == "" {
			t.Errorf("cause %s has no class", c)
		}
		next := c.NextStep("203.0.113.7", "zen.spamhaus.org")
		if (next == "") != (c == CauseAccepted) {
			t.Errorf("cause %s: next step %q", c, next)
		}
		if strings.Contains(next, "{") {
			t.Errorf("cause %s: unfilled template in %q", c, next)
		}
	}
	if got := CausePTRMissing.NextStep("203.0.113.7", ""); got != "ask your ISP to set a PTR for 203.0.113.7 that resolves back to it" {
		t.Errorf("ptr_missing next step = %q", got)
	}
	if got := CauseDNSBLListing.NextStep("", "bl.spamcop.net"); !strings.Contains(got, "your IP is listed on bl.spamcop.net") {
		t.Errorf("dnsbl_listing next step = %q", got)
	}
	if got := Cause("nonsense").NextStep("1.2.3.4", ""); got != "" {
		t.Errorf("unknown cause next step = %q", got)
	}
}

// The schema's cause enum is the Go vocabulary.
func TestCauseSchemaEnum(t *testing.T) {
	b, err := os.ReadFile("../report/schema/report.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs struct {
			Probe struct {
				Properties struct {
					Cause struct {
						Enum []string `json:"enum"`
					} `json:"cause"`
				} `json:"properties"`
			} `json:"probe"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range AllCauses() {
		want = append(want, string(c))
	}
	got := s.Defs.Probe.Properties.Cause.Enum
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("schema cause enum %v, want %v", got, want)
	}
}

// Every cause the rules can give is documented in README.md's cause table.
func TestCauseREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range AllCauses() {
		row := "| `" + string(c) + "` | `" + string(c.Class()) + "` |"
		if !strings.Contains(string(b), row) {
			t.Errorf("README.md has no cause table row starting %q", row)
		}
	}
}

func TestRulesCompile(t *testing.T) {
	rs, err := compileRules(rulesYAML)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Cause]bool{}
	for _, r := range rs {
		seen[r.cause] = true
	}
	for _, c := range AllCauses() {
		if !seen[c] && c != CauseAccepted && c != CauseProtocolError {
			t.Errorf("no rule gives cause %s", c)
		}
	}
	bad := map[string]string{
		"tier":        "rules:\n- {tier: nope, cause: unknown, reply: [5xx], why: w}\n",
		"cause":       "rules:\n- {tier: phrase, cause: nope, text: x, why: w}\n",
		"reserved":    "rules:\n- {tier: phrase, cause: accepted, text: x, why: w}\n",
		"no why":      "rules:\n- {tier: phrase, cause: unknown, text: x}\n",
		"regexp":      "rules:\n- {tier: phrase, cause: unknown, text: '(', why: w}\n",
		"unless":      "rules:\n- {tier: phrase, cause: unknown, text: x, unless: '[', why: w}\n",
		"code":        "rules:\n- {tier: code, cause: unknown, code: [5.7], why: w}\n",
		"code class":  "rules:\n- {tier: code, cause: unknown, code: [3.7.1], why: w}\n",
		"code range":  "rules:\n- {tier: code, cause: unknown, code: [X.7.9-1], why: w}\n",
		"reply":       "rules:\n- {tier: fallback, cause: unknown, reply: [6xx], why: w}\n",
		"stage":       "rules:\n- {tier: phrase, cause: unknown, text: x, stages: [data], why: w}\n",
		"everything":  "rules:\n- {tier: phrase, cause: unknown, why: w}\n",
		"submatch":    "rules:\n- {tier: list, cause: dnsbl_listing, text: x, list: '{1}', why: w}\n",
		"order":       "rules:\n- {tier: phrase, cause: unknown, text: x, why: w}\n- {tier: list, cause: unknown, text: y, why: w}\n",
		"empty":       "rules: []\n",
		"not yaml":    "rules: [",
		"unknown key": "rules:\n- {tier: phrase, cause: unknown, text: x, why: w, colour: red}\n",
	}
	for name, doc := range bad {
		if _, err := compileRules([]byte(doc)); err == nil {
			t.Errorf("%s: compileRules accepted %q", name, doc)
		}
	}
}

// The literal prefilter never hides a match: over every corpus text, a rule
// whose expression matches also finds one of its required literals.
func TestRequiredLiteralsSound(t *testing.T) {
	rows := append(loadCorpus(t, "testdata/corpus.tsv"), loadCorpus(t, "testdata/corpus_mta.tsv")...)
	for _, row := range rows {
		lower := foldText(row.text)
		for i, r := range compiledRules() {
			if r.text != nil && r.need != nil && r.text.MatchString(lower) && !containsAny(lower, r.need) {
				t.Errorf("rule %d (%s): prefilter %q hides a match in line %d", i+1, r.cause, r.need, row.line)
			}
		}
	}
	for expr, want := range map[string][]string{
		`blocked using ([a-z]+)`: {"blocked using "},
		`a|bc`:                   {"a", "bc"},
		`a|b*`:                   nil,
		`x?`:                     nil,
		`(?:foo)+bar`:            {"foo"},
		`\bptr\b`:                {"ptr"},
	} {
		if got := requiredLiterals(expr); !slices.Equal(got, want) {
			t.Errorf("requiredLiterals(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestClassifyCauseDetails(t *testing.T) {
	rd := func(raw string) Reply {
		rep, _, err := ReadReply(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// The enhanced code counts only at the start of the text.
	v := ClassifyCause(StageRcpt, Reply{Code: 550, Text: "rejected: 5.1.1 see docs"}, true)
	if v.Cause != CauseUnknown {
		t.Errorf("mid-text code trusted: %+v", v)
	}
	// A Reply built without Enhanced still has its code read from the text.
	v = ClassifyCause(StageRcpt, Reply{Code: 550, Text: "5.7.25 go away"}, true)
	if v.Cause != CausePTRMissing {
		t.Errorf("leading code in Text not read: %+v", v)
	}
	v = ClassifyCause(StageRcpt, Reply{Code: 550, Text: "550-5.1.8 <a@b>: Domain not found"}, true)
	if v.Cause != CauseSenderRejected {
		t.Errorf("leading code after a raw reply code not read: %+v", v)
	}
	// A code whose class is not the reply's is not trusted.
	v = ClassifyCause(StageRcpt, Reply{Code: 550, Enhanced: "4.7.25", Text: "go away"}, true)
	if v.Cause != CauseUnknown {
		t.Errorf("4.x.x code on a 550 trusted: %+v", v)
	}
	// ENHANCEDSTATUSCODES not advertised: noted in why.
	v = ClassifyCause(StageRcpt, rd("550 5.1.8 Domain not found\r\n"), false)
	if v.Cause != CauseSenderRejected || !strings.Contains(v.Why, "did not advertise ENHANCEDSTATUSCODES") || !strings.Contains(v.Why, "5.1.8") {
		t.Errorf("not-advertised note: %+v", v)
	}
	v = ClassifyCause(StageRcpt, rd("550 5.1.8 Domain not found\r\n"), true)
	if strings.Contains(v.Why, "ENHANCEDSTATUSCODES") {
		t.Errorf("advertised but noted: %+v", v)
	}
	// At MAIL FROM, recipient wording is about the sender.
	v = ClassifyCause(StageMail, rd("550 5.1.1 <postmaster@probe.example>... User unknown\r\n"), true)
	if v.Cause != CauseSenderRejected || v.Class != ClassRejected || !strings.Contains(v.Why, "MAIL FROM") {
		t.Errorf("user unknown at MAIL: %+v", v)
	}
	// A list's short name counts only as a word: "absorbs" is no SORBS,
	// "10spam" no 0spam.
	for _, text := range []string{"Message absorbs too many resources", "over 10spam points"} {
		if v := ClassifyCause(StageRcpt, Reply{Code: 550, Text: text}, true); v.Cause == CauseDNSBLListing {
			t.Errorf("%q read as a listing: %+v", text, v)
		}
	}
	if v := ClassifyCause(StageRcpt, Reply{Code: 550, Text: "Listed by SORBS, see http://www.sorbs.net/"}, true); v.CitedList != "dnsbl.sorbs.net" {
		t.Errorf("SORBS not named: %+v", v)
	}
	// DQS keys never reach the cited list.
	v = ClassifyCause(StageRcpt, rd("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using s3cr3tk3y.zen.dq.spamhaus.net\r\n"), true)
	if v.CitedList != "zen.dq.spamhaus.net" || strings.Contains(v.Why+v.CitedList, "s3cr3t") {
		t.Errorf("DQS key leaked: %+v", v)
	}
	// A web site is not a zone; "not found in DOMAIN" is not a listing.
	v = ClassifyCause(StageRcpt, Reply{Code: 550, Text: "5.7.1 Your IP is listed at www.barracudacentral.org"}, true)
	if v.CitedList != "b.barracudacentral.org" {
		t.Errorf("listed at www.: %+v", v)
	}
	v = ClassifyCause(StageRcpt, Reply{Code: 550, Text: "5.1.1 Recipient not found in example.com"}, true)
	if v.Cause != CauseRecipientUnknown {
		t.Errorf("not found in DOMAIN: %+v", v)
	}
	// The e2e's non-catalogue zone is named.
	v = ClassifyCause(StageRcpt, rd("554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.test\r\n"), true)
	if v.Cause != CauseDNSBLListing || v.CitedList != "zen.test" || v.Class != ClassBlocklisted {
		t.Errorf("zen.test: %+v", v)
	}
	// Protocol errors and acceptances.
	if v := ClassifyCause(StageRcpt, Reply{Code: 354, Text: "go ahead"}, true); v.Cause != CauseProtocolError || v.Status != StatusError {
		t.Errorf("354: %+v", v)
	}
	if v := ClassifyCause(StageRcpt, Reply{Code: 250, Text: "blacklisted? no, ok"}, true); v.Cause != CauseAccepted || v.Status != StatusAccepted {
		t.Errorf("250: %+v", v)
	}
	// Relaying denied is not a block; "Access denied" at MAIL is the sender.
	if v := ClassifyCause(StageRcpt, rd("550 5.7.1 <a@b.example>... Relaying denied\r\n"), true); v.Class == ClassBlocklisted {
		t.Errorf("relaying denied as a block: %+v", v)
	}
	if v := ClassifyCause(StageMail, rd("550 Access denied\r\n"), true); v.Cause != CauseSenderRejected {
		t.Errorf("access denied at MAIL: %+v", v)
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"{1}", "zen.test"},
		{"Yahoo {1} (Spamhaus)", "Yahoo zen.test (Spamhaus)"},
		{"Microsoft banned sending IP ({code})", "Microsoft banned sending IP (5.7.606)"},
		{"{x} {", "{x} {"},
	} {
		if got := expand(tc.tmpl, "zen.test", "5.7.606"); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}
