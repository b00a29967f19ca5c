package report

import (
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/egress"
	"github.com/blprobe/blprobe/rdns"
	"github.com/blprobe/blprobe/smtpcheck"
)

// SchemaV1 is the value of the "schema" field of every v1 report.
const SchemaV1 = "blprobe.report/v1"

// Verdict is the overall outcome of a run.
type Verdict string

// Verdicts, from best to worst for the scripts that read them.
const (
	VerdictClean        Verdict = "clean"        // everything checked, nothing listed or rejected
	VerdictListed       Verdict = "listed"       // listed on a block list
	VerdictRejected     Verdict = "rejected"     // an MX rejected for blocklist or policy reasons
	VerdictInconclusive Verdict = "inconclusive" // nothing bad found, but some checks could not complete
)

// Exit codes, documented in README.md and --help.
const (
	ExitClean        = 0
	ExitProblem      = 1 // listed or rejected
	ExitUsage        = 2 // usage or input error
	ExitInconclusive = 3 // some checks could not complete (or the run was interrupted)
	ExitWriteFailed  = 4 // the run finished but the report could not be written
)

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Report is the v1 report. Sections a command did not run are null.
type Report struct {
	Schema       string            `json:"schema"`
	Tool         Tool              `json:"tool"`
	Command      []string          `json:"command"` // argv, secrets redacted
	Started      time.Time         `json:"started"`
	Finished     time.Time         `json:"finished"`
	Resolvers    []string          `json:"resolvers"`
	Interrupted  bool              `json:"interrupted"` // stopped by SIGINT/SIGTERM: unfinished items are "not_done"
	Verdict      Verdict           `json:"verdict"`
	ExitCode     int               `json:"exit_code"`
	Summary      string            `json:"summary,omitempty"`
	NextSteps    []string          `json:"next_steps"`
	Warnings     []string          `json:"warnings"`
	Egress       *egress.Result    `json:"egress"`
	DNSBL        *DNSBL            `json:"dnsbl"`
	RDNS         []rdns.Result     `json:"rdns"`
	SMTP         *smtpcheck.Result `json:"smtp"`
	Correlations []Correlation     `json:"correlations"`

	summaryFacts string   // see SetSummaryFacts
	hasSummary   bool     // SetSummaryFacts was called
	secrets      []string // redacted from every rendering; set by New and AddSecrets
}

// DNSBL is the dnsbl section: the health of every zone used and one result
// per (address, zone) pair asked for.
type DNSBL struct {
	Zones []dnsbl.ZoneHealth `json:"zones"`
	// Results are the results (those Only selects, in JSON). When All is
	// set, Results holds only the results that are not clean (what the
	// verdict reads) and every rendering takes the results from All.
	Results []dnsbl.Result `json:"results"`
	// Omitted counts, per zone and status, the results left out of
	// "results" by Only (--only).
	Omitted map[string]map[dnsbl.Status]int `json:"omitted,omitempty"`
	// Only lists the statuses written to "results" (--only); empty: all.
	Only []dnsbl.Status `json:"only,omitempty"`
	// All, when set, is the complete result set of a large run, iterated
	// without materialising it (e.g. *dnsbl.ResultSet).
	All ResultSource `json:"-"`
	// Coverage is how many zones applied per address family; set by
	// [Report.Finalize].
	Coverage *Coverage `json:"coverage,omitempty"`
}

// The egress and rDNS sections are the checkers' own result types; these
// aliases keep the names report.Egress, report.RDNS… for library users.
type (
	Egress       = egress.Result
	EgressAnswer = egress.Answer
	EgressFamily = egress.Family
	RDNS         = rdns.Result
	HELOCheck    = rdns.HELOCheck
)

// ResultSource iterates results in order; the *Result may be reused
// between calls (*dnsbl.ResultSet is one).
type ResultSource interface {
	Each(fn func(*dnsbl.Result) bool)
}

// Correlation ties pieces of evidence together in plain language.
type Correlation struct {
	Kind     string            `json:"kind"`     // e.g. "rejection_matches_listing"
	Severity string            `json:"severity"` // "problem", "warning" or "info"
	Evidence map[string]string `json:"evidence"` // e.g. zone, mx, ip, reply
	Message  string            `json:"message"`
}
