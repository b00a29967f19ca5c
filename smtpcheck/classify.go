package smtpcheck

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Classify turns a reply received at stage into a status, a class and the
// blocklist or reputation service the text names ("" when none is named).
//
// 2xx is accepted; 4xx is tempfail and 5xx rejected, with the class of the
// reply's cause (see ClassifyCause); anything else (1xx, 3xx where no such
// reply is expected) is a protocol error.
func Classify(stage Stage, rep Reply) (Status, Class, string) {
	v := ClassifyCause(stage, rep, true)
	return v.Status, v.Class, v.CitedList
}

// Verdict is what one reply means.
type Verdict struct {
	Status    Status
	Class     Class  // Cause.Class()
	Cause     Cause  // the finest reason read from the reply
	CitedList string // the blocklist or reputation service the text names ("" when none)
	Why       string // the rule that decided, with its source, for the verbose report
}

// ClassifyCause reads the cause of a reply received at stage. ehloEnhanced
// says whether the server advertised ENHANCEDSTATUSCODES (RFC 2034); the
// enhanced code is read either way, but only at the start of the text and
// only when its class digit is the reply code's, and Why notes when it was
// not advertised.
//
// The rules (rules/replies.yaml) are tried in precedence order: a named list,
// the enhanced code's meaning, provider markers, MTA phrasing, then the reply
// code. At MAIL FROM a recipient-type cause is about the sender address and
// becomes sender_rejected. It is a pure function of its arguments.
func ClassifyCause(stage Stage, rep Reply, ehloEnhanced bool) Verdict {
	var v Verdict
	switch rep.Code / 100 {
	case 2:
		v.Status, v.Cause, v.Why = StatusAccepted, CauseAccepted, "a 2xx reply: accepted (RFC 5321 §4.2.1)"
	case 4:
		v.Status = StatusTempfail
	case 5:
		v.Status = StatusRejected
	default:
		v.Status, v.Cause = StatusError, CauseProtocolError
		v.Why = "reply code " + strconv.Itoa(rep.Code) + " is not a final reply here (RFC 5321 §4.2.1)"
	}
	if v.Cause == "" {
		e := trustedEnhanced(rep)
		lower := maskLocalParts(foldText(rep.Text))
		prose := "" // lower without links, for the phrase and fallback tiers
		v.Cause, v.Why = CauseUnknown, "no rule matched"
		rules := compiledRules()
		for i := range rules {
			r := &rules[i]
			text := lower
			if r.tier >= tierPhrase {
				if prose == "" {
					prose = stripLinks(lower)
				}
				text = prose
			}
			list, ok := r.match(stage, rep.Code, e, text)
			if !ok {
				continue
			}
			v.Cause, v.CitedList = r.cause, list
			v.Why = r.why
			if strings.Contains(v.Why, "{code}") {
				v.Why = strings.ReplaceAll(v.Why, "{code}", e.text)
			}
			if r.codes != nil && !ehloEnhanced {
				v.Why += " (the server did not advertise ENHANCEDSTATUSCODES)"
			}
			break
		}
		if stage == StageMail && (v.Cause == CauseRecipientUnknown || v.Cause == CauseMailboxUnavailable) {
			v.Cause = CauseSenderRejected
			v.Why += "; in reply to MAIL FROM the address is the sender's"
		}
	}
	v.Class = v.Cause.Class()
	return v
}

// setVerdict records the verdict on reply rep at the probe's current stage
// and returns its status.
func (s *session) setVerdict(rep Reply) Status {
	v := ClassifyCause(s.p.Stage, rep, hasExt(s.p.Extensions, "ENHANCEDSTATUSCODES"))
	s.p.Status, s.p.Class, s.p.CitedList, s.p.Cause, s.p.CauseWhy = v.Status, v.Class, v.CitedList, v.Cause, v.Why
	return v.Status
}

// trustedEnhanced returns the RFC 3463 code of rep if it stands at the start
// of the text (ReadReply puts it in rep.Enhanced; a Reply built otherwise may
// still carry it in Text, after the reply code of a raw line) and its class
// digit is the reply code's.
func trustedEnhanced(rep Reply) enhanced {
	s := rep.Enhanced
	if s == "" {
		text := rep.Text
		// A Reply built from a raw line may still start with its reply code.
		if c := strconv.Itoa(rep.Code); len(text) > len(c) && strings.HasPrefix(text, c) && (text[len(c)] == ' ' || text[len(c)] == '-') {
			text = text[len(c)+1:]
		}
		enh, _, ok := splitEnhanced(text, rep.Code)
		if !ok {
			return enhanced{}
		}
		s = enh
	}
	var e enhanced
	parts := [3]int{}
	n, val, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || n > 2 {
				return enhanced{}
			}
			parts[n] = val
			n, val, digits = n+1, 0, 0
			continue
		}
		if s[i] < '0' || s[i] > '9' || digits == 3 {
			return enhanced{}
		}
		val, digits = val*10+int(s[i]-'0'), digits+1
	}
	if n != 3 || parts[0] != rep.Code/100 {
		return enhanced{}
	}
	e.ok, e.class, e.subject, e.detail, e.text = true, parts[0], parts[1], parts[2], s
	return e
}

// Where servers put the client address: "[IP]", "[IPv6:IP]", "ip=IP",
// "from IP", "host IP" (Gmail, Microsoft, Sendmail and Exim EHLO replies; Postfix
// "Client host [IP]" rejections).
var (
	bracketRE = regexp.MustCompile(`\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]`)
	ipEqRE    = regexp.MustCompile(`(?i)\bip=\[?(?:IPv6:)?([0-9A-Fa-f:.]{2,45})`)
	fromIPRE  = regexp.MustCompile(`(?i)\b(?:from|host|client)\s+\[?(?:IPv6:)?([0-9A-Fa-f:.]{2,45})`)
)

// EchoedClientIP returns the client IP address a server echoed in text (an
// EHLO reply such as Gmail's "at your service, [IP]", Microsoft's
// "Hello [IP]", Sendmail/Exim's "Hello name [IP]", or a rejection naming
// "[IP]", "ip=IP", "from IP"), in canonical form, or "" if there is none.
func EchoedClientIP(text string) string {
	for _, re := range []*regexp.Regexp{bracketRE, ipEqRE, fromIPRE} {
		for _, m := range re.FindAllStringSubmatch(text, 8) {
			s := strings.TrimRight(m[1], ".:")
			if a, err := netip.ParseAddr(s); err == nil {
				return a.Unmap().String()
			}
		}
	}
	return ""
}
