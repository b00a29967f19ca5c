// PTR problems vs reverse-DNS rejections.

package check

import (
	"fmt"
	"strings"

	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// ptrIssue describes what is wrong with an rDNS entry ("" when fine or unknown).
func ptrIssue(d report.RDNS) string {
	switch {
	case d.Error != "" && len(d.PTR) == 0:
		return ""
	case len(d.PTR) == 0:
		return "no PTR record"
	case !d.ForwardConfirmed && d.Error == "":
		return fmt.Sprintf("PTR %s is not forward-confirmed", strings.Join(d.PTR, ", "))
	case d.Generic:
		return fmt.Sprintf("PTR looks generic (%s)", d.GenericWhy)
	}
	return ""
}

// ptr relates PTR problems to reverse-DNS rejections (Gmail 550-5.7.25,
// https://support.google.com/a/answer/81126; Postfix "cannot find your
// reverse hostname", reject_unknown_client_hostname in
// https://www.postfix.org/postconf.5.html).
func (a *analysis) ptr() {
	var refs []probeRef
	for _, pr := range a.probes {
		if (pr.p.Status == smtpcheck.StatusRejected || pr.p.Status == smtpcheck.StatusTempfail) && rePTRRefusal(pr.p) {
			refs = append(refs, pr)
		}
	}
	issues := map[string]string{}    // evidence: "no PTR record"
	sentences := map[string]string{} // messages: "192.0.2.1 has no PTR record"
	heloBad := map[string][]string{} // step template → addresses
	var heloOrder []string
	for _, d := range a.r.RDNS {
		if is := ptrIssue(d); is != "" {
			issues[d.IP] = is
			sentences[d.IP] = ptrSentence(d)
		}
		var tmpl string
		if d.HELO != nil && d.HELO.Error == "" && d.HELO.FQDN && !d.HELO.ResolvesToIP {
			tmpl = "use a HELO name that resolves to %s (and matches its PTR), not " + d.HELO.Name
		} else if d.HELO != nil && !d.HELO.FQDN && !strings.HasPrefix(d.HELO.Name, "[") {
			tmpl = "use a fully qualified HELO name that resolves to %s, not " + d.HELO.Name
		}
		if tmpl != "" {
			if _, ok := heloBad[tmpl]; !ok {
				heloOrder = append(heloOrder, tmpl)
			}
			heloBad[tmpl] = append(heloBad[tmpl], d.IP)
		}
	}
	for _, tmpl := range heloOrder {
		if ips := heloBad[tmpl]; len(ips) > 1 {
			name := tmpl[strings.LastIndex(tmpl, " ")+1:]
			a.step(fmt.Sprintf("give each sending address (%s) a HELO name that resolves to that address and matches its PTR, not %s", report.AddrRanges(ips), name))
			continue
		}
		a.step(fmt.Sprintf(tmpl, heloBad[tmpl][0]))
	}
	for _, pr := range refs {
		p := pr.p
		target := a.target(p)
		ev := map[string]string{"domain": pr.domain, "mx": pr.mx, "ip": p.IP, "reply": replyText(p), "echoed_ip": p.EchoedClientIP, "checked_ip": target}
		who := fmt.Sprintf("%s %s %s for reverse DNS", mxLabel(pr), verb(p), stageWord(p.Stage))
		if is, ok := issues[target]; ok {
			ev["ptr_problem"] = is
			a.add(KindPTRRejection, SevProblem, fmt.Sprintf("%s, and the rDNS check agrees: %s", who, sentences[target]), ev)
			continue
		}
		checkedOK := false
		for _, d := range a.r.RDNS {
			checkedOK = checkedOK || (d.IP == target && d.Error == "")
		}
		if checkedOK {
			a.add(KindPTRRejection, SevProblem, fmt.Sprintf("%s, yet the rDNS check of %s found no problem: the MX may see another address, or a DNS change has not reached its cache", who, target), ev)
		} else {
			a.add(KindPTRRejection, SevProblem, fmt.Sprintf("%s; the rDNS of %s was not checked or could not be", who, target), ev)
		}
	}
	kinds, groups := a.ptrGroups()
	for _, k := range kinds {
		ips := groups[k]
		prio := prioRisk
		if len(refs) > 0 {
			prio = prioCause
		} else if len(ips) == 1 {
			a.add(KindPTRRejection, SevWarning,
				fmt.Sprintf("%s; no MX rejected for it in this run, but Gmail (5.7.25) and many others do", sentences[ips[0]]),
				map[string]string{"checked_ip": ips[0], "ptr_problem": issues[ips[0]]})
		} else {
			a.add(KindPTRRejection, SevWarning,
				fmt.Sprintf("%s; no MX rejected for it in this run, but Gmail (5.7.25) and many others do", ptrGroupSentence(k, ips)),
				map[string]string{"checked_ip": report.AddrRanges(ips), "ptr_problem": k})
		}
		a.stepAt(prio, a.ptrStep(k, ips))
	}
}

// exampleName proposes a PTR name: the HELO name if it is a real FQDN, else mail.example.com.
func (a *analysis) exampleName(ip string) string {
	for _, d := range a.r.RDNS {
		if d.IP == ip && d.HELO != nil && d.HELO.FQDN {
			return d.HELO.Name
		}
	}
	if a.r.SMTP != nil && strings.Count(a.r.SMTP.HELO, ".") >= 1 && !strings.HasPrefix(a.r.SMTP.HELO, "[") {
		return a.r.SMTP.HELO
	}
	return "mail.example.com"
}
