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
// 2xx is accepted; 4xx is tempfail (class greylisted, blocklisted or
// tempfail); 5xx is rejected (class blocklisted, unknown_recipient at the
// RCPT stage, policy for other X.7.x, else rejected). Anything else (1xx,
// 3xx where no such reply is expected) is a protocol error.
func Classify(stage Stage, rep Reply) (Status, Class, string) {
	switch rep.Code / 100 {
	case 2:
		return StatusAccepted, ClassAccepted, ""
	case 4:
		if isGreylist(rep.Text) {
			return StatusTempfail, ClassGreylisted, ""
		}
		if cited, ok := citedList(rep); ok {
			return StatusTempfail, ClassBlocklisted, cited
		}
		if blockWords(rep.Text) {
			return StatusTempfail, ClassBlocklisted, ""
		}
		return StatusTempfail, ClassTempfail, ""
	case 5:
		if cited, ok := citedList(rep); ok {
			return StatusRejected, ClassBlocklisted, cited
		}
		if stage == StageRcpt && isUnknownRecipient(rep) {
			return StatusRejected, ClassUnknownRecipient, ""
		}
		if blockWords(rep.Text) {
			return StatusRejected, ClassBlocklisted, ""
		}
		if strings.HasPrefix(rep.Enhanced, "5.7.") {
			return StatusRejected, ClassPolicy, ""
		}
		return StatusRejected, ClassRejected, ""
	}
	return StatusError, ClassProtocolError, ""
}

// Greylisting wording (FACTS §4: postgrey, milter-greylist, "not yet
// authorized to deliver mail from").
var greyRE = regexp.MustCompile(`(?i)grey[ -]?list|gray[ -]?list|not yet authori[sz]ed to deliver|try again later, you are greylisted|come back later`)

func isGreylist(text string) bool { return greyRE.MatchString(text) }

// Unknown-recipient wording. Microsoft 365 directory-based edge blocking says
// "5.4.1 Recipient address rejected: Access denied", which is about the
// recipient, not the client IP.
var unknownRE = regexp.MustCompile(`(?i)user unknown|unknown user|no such user|no such recipient|mailbox unavailable|mailbox not found|does not exist|unknown recipient|recipient unknown|invalid recipient|recipient address rejected: access denied|address rejected: user|undeliverable address`)

func isUnknownRecipient(rep Reply) bool {
	return strings.HasPrefix(rep.Enhanced, "5.1.") || unknownRE.MatchString(rep.Text)
}

// Block keywords from FACTS §4. Short tokens (rbl, dnsbl) must be whole words.
var blockRE = regexp.MustCompile(`(?i)black ?list|block ?list|blocked|\bspam|abusix|relaying denied|access denied|administratively denied|banned|connection rejected|poor reputation|low reputation|bad reputation|junkmail|refused by proofpoint|\bdnsbl\b|\brbl\b|sbrs score too low|spamhaus`)

// Postfix "Relay access denied" means the server does not handle the
// recipient's domain: a configuration matter, not a block of the client.
var relayAccessRE = regexp.MustCompile(`(?i)relay access denied`)

func blockWords(text string) bool {
	return blockRE.MatchString(relayAccessRE.ReplaceAllString(text, ""))
}

// Rules naming a list or provider, most specific first.
var (
	spamhausZoneRE = regexp.MustCompile(`(?i)\b((?:[a-z0-9-]+\.)*spamhaus\.(?:org|net))\b`)
	abusixZoneRE   = regexp.MustCompile(`(?i)\b((?:[a-z0-9-]+\.)*mail\.abusix\.zone)\b`)
	barracudaRE    = regexp.MustCompile(`(?i)\bb\.barracudacentral\.org\b`)
	msSCodeRE      = regexp.MustCompile(`\((S3140|S3150)\)|\b(S3140|S3150)\b`)
	yahooBLRE      = regexp.MustCompile(`\[(BL2[0-9])\]`)
	comcastRE      = regexp.MustCompile(`\bBL0000[0-9]{2}\b`)
	// "blocked using ZONE", "listed at/in/on/by ZONE": Postfix reject_rbl_client
	// and most DNSBL-driven rejections name the zone this way.
	usingZoneRE = regexp.MustCompile(`(?i)\b(?:blocked using|listed (?:at|in|on|by)|found (?:at|in|on))\s+([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+)`)
)

// citedList names the blocklist or reputation service a reply cites.
func citedList(rep Reply) (string, bool) {
	t := rep.Text
	lt := strings.ToLower(t)
	// Microsoft 365 "banned sending IP" codes 5.7.606–5.7.649 (FACTS §4).
	if e := rep.Enhanced; strings.HasPrefix(e, "5.7.") || strings.HasPrefix(e, "4.7.") {
		if n, err := strconv.Atoi(e[4:]); err == nil && n >= 606 && n <= 649 {
			return "Microsoft banned sending IP (" + e + ")", true
		}
	}
	if m := msSCodeRE.FindStringSubmatch(t); m != nil {
		code := m[1]
		if code == "" {
			code = m[2]
		}
		return "Microsoft block list (" + code + ")", true
	}
	if m := yahooBLRE.FindStringSubmatch(t); m != nil {
		if strings.Contains(lt, "spamhaus") {
			return "Yahoo " + m[1] + " (Spamhaus)", true
		}
		return "Yahoo " + m[1], true
	}
	if m := comcastRE.FindString(t); m != "" {
		return "Comcast " + m + " (DNSBL)", true
	}
	for _, m := range spamhausZoneRE.FindAllStringSubmatch(t, 8) {
		if z := strings.ToLower(m[1]); !strings.HasPrefix(z, "www.") && z != "spamhaus.org" {
			return z, true
		}
	}
	if m := abusixZoneRE.FindStringSubmatch(t); m != nil {
		// Strip a DQS-style key label: "<KEY>.combined.mail.abusix.zone".
		z := strings.ToLower(m[1])
		if i := strings.Index(z, "combined.mail.abusix.zone"); i > 0 {
			z = z[i:]
		}
		return z, true
	}
	switch {
	case barracudaRE.MatchString(t):
		return "b.barracudacentral.org", true
	case strings.Contains(lt, "barracuda"):
		return "Barracuda Reputation", true
	case strings.Contains(lt, "ipcheck.proofpoint.com") || strings.Contains(lt, "refused by proofpoint"):
		return "Proofpoint", true
	case strings.Contains(lt, "spamcop"):
		return "bl.spamcop.net", true
	case strings.Contains(lt, "mimecast") && strings.Contains(lt, "reputation"):
		return "Mimecast Poor Reputation", true
	}
	if m := usingZoneRE.FindStringSubmatch(t); m != nil {
		return strings.ToLower(strings.TrimRight(m[1], ".")), true
	}
	if strings.Contains(lt, "spamhaus") {
		return "Spamhaus", true
	}
	if strings.Contains(lt, "abusix") {
		return "Abusix", true
	}
	return "", false
}

// Where servers put the client address: "[IP]", "[IPv6:IP]", "ip=IP",
// "from IP", "host IP" (FACTS §4).
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
