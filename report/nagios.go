package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Nagios plugin return codes (Nagios Plugin Development Guidelines, "Plugin
// Return Codes": https://nagios-plugins.org/doc/guidelines.html#AEN78).
const (
	NagiosOK       = 0
	NagiosWarning  = 1
	NagiosCritical = 2
	NagiosUnknown  = 3
)

var nagiosStatus = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// NagiosStatus is the status word of a Nagios return code.
func NagiosStatus(code int) string {
	if code < 0 || code >= len(nagiosStatus) {
		return "UNKNOWN"
	}
	return nagiosStatus[code]
}

// NagiosRange is a threshold range in the plugin guidelines' format
// ("Threshold and ranges": https://nagios-plugins.org/doc/guidelines.html#THRESHOLDFORMAT):
// [@]start:end, start defaulting to 0 and "~" meaning negative infinity, an
// empty end positive infinity. A value outside the range alerts; with "@",
// a value inside it does. "10" alerts above 10 or below 0.
type NagiosRange struct {
	Start, End float64
	Inside     bool // "@": alert when start <= value <= end
	raw        string
}

// ParseNagiosRange parses a threshold range such as "1", "5:", "~:3",
// "10:20" or "@10:20".
func ParseNagiosRange(s string) (NagiosRange, error) {
	r := NagiosRange{raw: s}
	bad := func(why string) (NagiosRange, error) {
		return NagiosRange{}, fmt.Errorf("invalid threshold %q: %s (want N, N:, ~:N, N:M or @N:M as in the Nagios plugin guidelines)", s, why)
	}
	t := s
	if strings.HasPrefix(t, "@") {
		r.Inside = true
		t = t[1:]
	}
	if t == "" {
		return bad("empty")
	}
	start, end, hasColon := strings.Cut(t, ":")
	if !hasColon {
		start, end = "0", t
	}
	num := func(x string) (float64, error) {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, errors.New("not a number")
		}
		return v, nil
	}
	var err error
	switch start {
	case "~":
		r.Start = math.Inf(-1)
	case "":
		if hasColon {
			return bad("no start before the colon (use ~ for negative infinity)")
		}
	default:
		if r.Start, err = num(start); err != nil {
			return bad("start is not a number")
		}
	}
	if end == "" {
		if !hasColon {
			return bad("empty")
		}
		r.End = math.Inf(1)
	} else if r.End, err = num(end); err != nil {
		return bad("end is not a number")
	}
	if r.Start > r.End {
		return bad("start is greater than end")
	}
	return r, nil
}

// Alert reports whether v is outside the range (inside it, for "@").
func (r NagiosRange) Alert(v float64) bool {
	in := v >= r.Start && v <= r.End
	return in == r.Inside
}

// String is the range as given.
func (r NagiosRange) String() string { return r.raw }

// NagiosOptions are the thresholds on the number of listings.
type NagiosOptions struct {
	Warning, Critical *NagiosRange // nil: no threshold
}

// nagiosCounts are the numbers the status line and perfdata are made of.
type nagiosCounts struct {
	listed, clean, errors   int
	addrs                   []string // distinct addresses looked up
	listedZones, blockZones []string // zones with a listing; block zones asked
	listedAddrs             []string
	rejected, accepted      int      // SMTP probes
	smtpErrors              int      // error, tempfail, not_done, a refusal not tied to the sender
	rejectedAt              []string // distinct MX addresses that refused
	sources                 int      // distinct source addresses probed from
}

func countNagios(r *Report) nagiosCounts {
	var c nagiosCounts
	if d := r.DNSBL; d != nil {
		types := zoneTypes(d)
		seenAddr, seenZone, seenListedAddr, seenBlock := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		// Every result, also the clean ones a large run keeps only in All.
		d.each(func(res *dnsbl.Result) bool {
			if t, ok := types[res.Zone]; ok && t != dnsbl.TypeBlock {
				return true // allow and info lists never count
			}
			if res.Status == dnsbl.StatusError && res.ErrorKind == dnsbl.ErrNotApplicable {
				return true
			}
			if !seenAddr[res.IP] {
				seenAddr[res.IP] = true
				c.addrs = append(c.addrs, res.IP)
			}
			if !seenBlock[res.Zone] {
				seenBlock[res.Zone] = true
				c.blockZones = append(c.blockZones, res.Zone)
			}
			switch res.Status {
			case dnsbl.StatusListed:
				c.listed++
				if !seenZone[res.Zone] {
					seenZone[res.Zone] = true
					c.listedZones = append(c.listedZones, res.Zone)
				}
				if !seenListedAddr[res.IP] {
					seenListedAddr[res.IP] = true
					c.listedAddrs = append(c.listedAddrs, res.IP)
				}
			case dnsbl.StatusClean:
				c.clean++
			default:
				c.errors++
			}
			return true
		})
	}
	if s := r.SMTP; s != nil {
		sources, seenRej := map[string]bool{}, map[string]bool{}
		for _, d := range s.Domains {
			for _, mx := range d.MX {
				for _, p := range mx.Addresses {
					sources[p.SourceIP] = true
					switch {
					case p.Status == smtpcheck.StatusAccepted:
						c.accepted++
					case isSenderRejection(p):
						// The verdict's rule (banner 554, X.7.x, sender refused…),
						// not only the blocklisted and policy classes.
						c.rejected++
						// A range probes each MX address from every source: name it once.
						if at := fmt.Sprintf("%s %s", d.Domain, probeName(mx.Host, p)); !seenRej[at] {
							seenRej[at] = true
							c.rejectedAt = append(c.rejectedAt, at)
						}
					default: // a refusal not tied to the sender gives no verdict either
						c.smtpErrors++
					}
				}
			}
		}
		c.sources = len(sources)
	}
	return c
}

func isSenderRejection(p smtpcheck.Probe) bool {
	_, ok := SenderCause(p)
	return ok
}

// NagiosCode decides the plugin status: CRITICAL when an MX rejects for
// blocklist or policy reasons (mail is being refused, whatever the
// thresholds), else CRITICAL or WARNING when the number of listings is
// outside the --critical or --warning range; UNKNOWN when, with nothing over
// a threshold, the run was interrupted or some check could not be completed
// (a tolerated listing does not make an incomplete run OK); else OK.
func NagiosCode(r *Report, o NagiosOptions) int {
	c := countNagios(r)
	n := float64(c.listed)
	switch {
	case c.rejected > 0, o.Critical != nil && o.Critical.Alert(n):
		return NagiosCritical
	case o.Warning != nil && o.Warning.Alert(n):
		return NagiosWarning
	case r.Interrupted || incomplete(r):
		return NagiosUnknown
	}
	return NagiosOK
}

// incomplete reports whether some check could not be completed, even when a
// worse finding decided the verdict.
func incomplete(r *Report) bool {
	for _, p := range r.Problems() {
		if p.Verdict == VerdictInconclusive {
			return true
		}
	}
	return false
}

// nagiosText makes remote or user text fit the status line: no control
// characters and no "|", which separates the performance data.
func nagiosText(s string) string {
	return strings.ReplaceAll(textsafe.Clean(s), "|", "/")
}

// firstN joins the first n items, adding how many more there are.
func firstN(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// perfLabel quotes a perfdata label when it holds anything but letters,
// digits and _ (the guidelines require quotes around spaces, = and ').
func perfLabel(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return "'" + strings.ReplaceAll(s, "'", "''") + "'"
		}
	}
	return s
}

func rangeText(r *NagiosRange) string {
	if r == nil {
		return ""
	}
	return r.String()
}

// WriteNagios writes r in the Nagios plugin output format
// (https://nagios-plugins.org/doc/guidelines.html#AEN33): one status line
// "BLPROBE STATUS - text | perfdata", then the long output (the problems and
// warnings of the report, one a line). It returns the plugin return code.
func WriteNagios(w io.Writer, r *Report, o NagiosOptions) (int, error) {
	if r == nil {
		return NagiosUnknown, errors.New("writing Nagios output: nil report")
	}
	code := NagiosCode(r, o)
	c := countNagios(r)
	var parts []string
	if r.DNSBL != nil {
		switch {
		case len(c.addrs) == 1 && c.listed > 0:
			parts = append(parts, fmt.Sprintf("%s listed on %d of %d lists (%s)", c.addrs[0], c.listed, len(c.blockZones), firstN(c.listedZones, 5)))
		case len(c.addrs) == 1 && c.clean == 0:
			// Nothing answered: "not listed on 0 lists" would read as good news.
			parts = append(parts, fmt.Sprintf("%s could not be checked on any list", c.addrs[0]))
		case len(c.addrs) == 1:
			parts = append(parts, fmt.Sprintf("%s not listed on %s", c.addrs[0], plural(c.clean, "list")))
		case c.listed > 0:
			parts = append(parts, fmt.Sprintf("%d of %d addresses listed (%s) on %d of %d lists (%s)", len(c.listedAddrs), len(c.addrs),
				firstN(c.listedAddrs, 3), len(c.listedZones), len(c.blockZones), firstN(c.listedZones, 5)))
		case len(c.addrs) > 1:
			parts = append(parts, fmt.Sprintf("%d addresses not listed on %s", len(c.addrs), plural(len(c.blockZones), "list")))
		}
		if c.errors > 0 {
			parts = append(parts, plural(c.errors, "lookup")+" could not be checked")
		}
		var unhealthy []string
		for _, z := range r.DNSBL.Zones {
			if z.Health != dnsbl.HealthHealthy {
				unhealthy = append(unhealthy, z.Zone+" "+string(z.Health))
			}
		}
		if len(unhealthy) > 0 {
			parts = append(parts, "zones not healthy: "+firstN(unhealthy, 3))
		}
	}
	if r.SMTP != nil {
		total := c.accepted + c.rejected + c.smtpErrors
		// One source: each probe is one MX address. A range probes every
		// MX address from each of its sources: count probes, not addresses.
		what, reject, accept := "MX addresses", "reject", "accept"
		if c.sources > 1 {
			what, reject, accept = fmt.Sprintf("MX probes (from %d source addresses)", c.sources), "were rejected", "were accepted"
		}
		switch {
		case c.rejected > 0:
			parts = append(parts, fmt.Sprintf("%d of %d %s %s (%s)", c.rejected, total, what, reject, firstN(c.rejectedAt, 2)))
		case total > 0 && c.accepted == total:
			parts = append(parts, fmt.Sprintf("all %d %s %s", total, what, accept))
		case total > 0:
			parts = append(parts, fmt.Sprintf("%d of %d %s %s", c.accepted, total, what, accept))
		}
		if c.smtpErrors > 0 {
			parts = append(parts, plural(c.smtpErrors, "MX probe")+" gave no verdict")
		}
		if r.SMTP.Port25Blocked {
			parts = append(parts, "outbound port 25 looks blocked")
		}
	}
	if r.Interrupted {
		parts = append(parts, "interrupted")
	}
	if len(parts) == 0 {
		parts = append(parts, orDefault(r.Summary, string(r.Verdict)))
	}
	var perf []string
	if r.DNSBL != nil {
		perf = append(perf,
			fmt.Sprintf("%s=%d;%s;%s;0", perfLabel("listed"), c.listed, rangeText(o.Warning), rangeText(o.Critical)),
			fmt.Sprintf("clean=%d", c.clean), fmt.Sprintf("errors=%d", c.errors))
	}
	if r.SMTP != nil {
		perf = append(perf, fmt.Sprintf("rejected=%d;;;0", c.rejected), fmt.Sprintf("accepted=%d", c.accepted), fmt.Sprintf("smtp_errors=%d", c.smtpErrors))
	}
	if !r.Started.IsZero() && !r.Finished.IsZero() && !r.Finished.Before(r.Started) {
		perf = append(perf, fmt.Sprintf("time=%.2fs", r.Finished.Sub(r.Started).Seconds()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "BLPROBE %s - %s", NagiosStatus(code), nagiosText(Redact(strings.Join(parts, "; "), r.secrets...)))
	if len(perf) > 0 {
		b.WriteString(" | " + strings.Join(perf, " "))
	}
	b.WriteByte('\n')
	for _, p := range r.Problems() {
		b.WriteString(nagiosText(Redact(p.Message, r.secrets...)) + "\n")
	}
	for _, wn := range r.Warnings {
		b.WriteString("warning: " + nagiosText(Redact(wn, r.secrets...)) + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return code, fmt.Errorf("writing Nagios output: %w", err)
	}
	return code, nil
}

// NagiosUsage is the status line for a run that could not start (bad
// input): UNKNOWN, as the guidelines ask for invalid arguments.
func NagiosUsage(w io.Writer, msg string) int {
	fmt.Fprintf(w, "BLPROBE UNKNOWN - %s\n", nagiosText(msg))
	return NagiosUnknown
}
