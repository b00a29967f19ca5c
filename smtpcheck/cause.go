package smtpcheck

import "strings"

// Cause is the finest reason blprobe reads from an SMTP reply. Each cause
// belongs to exactly one Class (see Class) and has a next step (see
// NextStep). The rules that pick a cause live in rules/replies.yaml.
type Cause string

// Causes.
const (
	CauseAccepted           Cause = "accepted"            // 2xx
	CauseDNSBLListing       Cause = "dnsbl_listing"       // the reply names a DNSBL (zone or lookup URL)
	CauseIPReputation       Cause = "ip_reputation"       // provider's own reputation/block list, no public list named
	CauseRateLimited        Cause = "rate_limited"        // connection, message or recipient rate/volume limits
	CausePTRMissing         Cause = "ptr_missing"         // no PTR, or it does not resolve back (FCrDNS)
	CausePTRGeneric         Cause = "ptr_generic"         // the PTR name looks generic/dynamic
	CauseHELOInvalid        Cause = "helo_invalid"        // the HELO/EHLO name was refused
	CauseSenderRejected     Cause = "sender_rejected"     // the MAIL FROM address or its domain was refused
	CauseAuthFailed         Cause = "auth_failed"         // SPF, DKIM or DMARC
	CauseRelayDenied        Cause = "relay_denied"        // the host does not take mail for the recipient's domain
	CauseRecipientUnknown   Cause = "recipient_unknown"   // the recipient address does not exist
	CauseMailboxUnavailable Cause = "mailbox_unavailable" // the recipient's mailbox is full, disabled, suspended
	CauseGreylisted         Cause = "greylisted"          // greylisting: retry later
	CausePolicyOther        Cause = "policy_other"        // another local access or policy rule
	CauseTempfail           Cause = "tempfail"            // another 4xx (busy, local error)
	CauseUnknown            Cause = "unknown"             // another 5xx
	CauseProtocolError      Cause = "protocol_error"      // a reply code that makes no sense here (1xx, 3xx)
)

type causeInfo struct {
	class Class
	// next is the next step; "{ip}" and "{list}" are filled in by NextStep.
	next string
}

// causeTable maps every cause to its class and next step. It is the single
// source of the mapping that README.md documents.
var causeTable = map[Cause]causeInfo{
	CauseAccepted:           {ClassAccepted, ""},
	CauseDNSBLListing:       {ClassBlocklisted, "{ip} is listed on {list}: find out why at the list's lookup page, fix the cause, then request removal (blprobe dnsbl {ip} shows every listing)"},
	CauseIPReputation:       {ClassBlocklisted, "the receiver distrusts {ip}'s reputation ({list}): use the provider's sender-support / delisting page (e.g. https://sender.office.com/, https://support.google.com/mail/contact/msgdelivery, https://senders.yahooinc.com/contact), and check complaints, volume and compromised accounts"},
	CauseRateLimited:        {ClassTempfail, "slow down: fewer connections and messages per minute from {ip}, and retry later"},
	CausePTRMissing:         {ClassPolicy, "ask your ISP to set a PTR for {ip} that resolves back to it"},
	CausePTRGeneric:         {ClassPolicy, "ask your ISP for a PTR for {ip} that names your mail host (not a generic or dynamic-looking name) and resolves back to {ip}"},
	CauseHELOInvalid:        {ClassPolicy, "send a fully-qualified HELO name that resolves, ideally to {ip} (--helo)"},
	CauseSenderRejected:     {ClassRejected, "use a MAIL FROM address whose domain exists and accepts mail (--from)"},
	CauseAuthFailed:         {ClassPolicy, "publish or extend SPF to include {ip}, and check DKIM and DMARC of the sender domain"},
	CauseRelayDenied:        {ClassRejected, "this host does not take mail for the recipient's domain: check the domain's MX records and --rcpt"},
	CauseRecipientUnknown:   {ClassUnknownRecipient, "the recipient does not exist: probe postmaster@DOMAIN or another --rcpt"},
	CauseMailboxUnavailable: {ClassUnknownRecipient, "the recipient's mailbox is full, disabled or suspended: probe another --rcpt"},
	CauseGreylisted:         {ClassGreylisted, "greylisting: a real MTA retrying after a few minutes gets through; run the probe again later"},
	CausePolicyOther:        {ClassPolicy, "a local policy refused {ip}: read the reply and ask the receiving postmaster"},
	CauseTempfail:           {ClassTempfail, "a temporary failure at the receiver: retry later"},
	CauseUnknown:            {ClassRejected, "read the reply text; ask the receiving postmaster what it means"},
	CauseProtocolError:      {ClassProtocolError, "the server did not answer as SMTP requires (RFC 5321 §4.2)"},
}

// AllCauses lists every cause, in documentation order.
func AllCauses() []Cause {
	return []Cause{CauseAccepted, CauseDNSBLListing, CauseIPReputation, CauseRateLimited, CausePTRMissing,
		CausePTRGeneric, CauseHELOInvalid, CauseSenderRejected, CauseAuthFailed, CauseRelayDenied,
		CauseRecipientUnknown, CauseMailboxUnavailable, CauseGreylisted, CausePolicyOther, CauseTempfail,
		CauseUnknown, CauseProtocolError}
}

// Class is the report class the cause belongs to ("" for an unknown cause).
func (c Cause) Class() Class { return causeTable[c].class }

// NextStep is what the operator of ip should do next, with list the cited
// list ("" when none). It is "" for accepted and unknown causes.
func (c Cause) NextStep(ip, list string) string {
	s := causeTable[c].next
	if s == "" {
		return ""
	}
	if ip == "" {
		ip = "your IP"
	}
	if list == "" {
		list = "no list named"
	}
	return strings.NewReplacer("{ip}", ip, "{list}", list).Replace(s)
}
