package smtpcheck

import "time"

// Status is the outcome of one probe (one MX address).
type Status string

// Probe statuses.
const (
	StatusAccepted Status = "accepted" // RCPT TO got 2xx
	StatusRejected Status = "rejected" // a 5xx ended the conversation
	StatusTempfail Status = "tempfail" // a 4xx ended the conversation
	StatusError    Status = "error"    // no verdict: connect, TLS or protocol failure
	StatusNotDone  Status = "not_done" // the run was interrupted before this probe finished
)

// Class says why a probe ended as it did.
type Class string

// Probe classes.
const (
	ClassAccepted         Class = "accepted"
	ClassBlocklisted      Class = "blocklisted"       // the reply cites a blocklist / IP reputation
	ClassPolicy           Class = "policy"            // other 5.7.x / policy rejection
	ClassUnknownRecipient Class = "unknown_recipient" // 5.1.x
	ClassGreylisted       Class = "greylisted"        // 4xx with greylist wording
	ClassTempfail         Class = "tempfail"          // other 4xx, 421
	ClassRejected         Class = "rejected"          // other 5xx (syntax, relaying…)
	ClassConnectRefused   Class = "connect_refused"
	ClassConnectTimeout   Class = "connect_timeout"
	ClassUnreachable      Class = "unreachable"
	ClassTLSFailed        Class = "tls_failed"
	ClassProtocolError    Class = "protocol_error" // garbage, overlong lines, EOF, reply timeout
	ClassNotDone          Class = "not_done"
)

// Stage is the step of the conversation where a probe ended.
type Stage string

// Conversation stages, in order.
const (
	StageConnect  Stage = "connect"
	StageBanner   Stage = "banner"
	StageEHLO     Stage = "ehlo"
	StageSTARTTLS Stage = "starttls"
	StageMail     Stage = "mail"
	StageRcpt     Stage = "rcpt"
)

// Reply is one (possibly multi-line) SMTP reply (RFC 5321 §4.2).
type Reply struct {
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"` // RFC 3463 code, e.g. "5.7.1"
	Text     string `json:"text"`               // all lines' text, joined by "\n", without codes
}

// TLSInfo describes the TLS session of a probe that used STARTTLS.
type TLSInfo struct {
	Version     string    `json:"version"` // e.g. "TLS 1.3"
	Cipher      string    `json:"cipher"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"not_after"`
	Names       []string  `json:"names"`    // DNS SANs of the leaf certificate
	Verified    bool      `json:"verified"` // chain and name verify for the MX host name
	VerifyError string    `json:"verify_error,omitempty"`
}

// Line is one line of the transcript.
type Line struct {
	Dir  string  `json:"dir"`  // "S" (server) or "C" (client)
	TMs  float64 `json:"t_ms"` // milliseconds since the connection attempt began
	Line string  `json:"line"` // raw line without CRLF (capped)
}

// RcptResult is the reply to one RCPT TO.
type RcptResult struct {
	Rcpt  string `json:"rcpt"`
	Reply Reply  `json:"reply"`
	Class Class  `json:"class"`
}

// Probe is the conversation with one address of one MX. Its JSON field names
// are part of the report contract (blprobe.report/v1).
type Probe struct {
	IP             string             `json:"ip"`
	Port           int                `json:"port"`
	SourceIP       string             `json:"source_ip"` // local address used ("" if the connection failed before binding)
	Status         Status             `json:"status"`
	Class          Class              `json:"class"`
	Stage          Stage              `json:"stage"`              // where the conversation ended
	Reply          *Reply             `json:"reply"`              // the decisive reply (nil if none)
	CitedList      string             `json:"cited_list"`         // the blocklist the reply names, e.g. "zen.spamhaus.org"
	Error          string             `json:"error,omitempty"`    // connect/TLS/protocol error in words
	TLS            *TLSInfo           `json:"tls"`                // nil when TLS was not used
	StartTLS       string             `json:"starttls,omitempty"` // "used", or why not: "refused (454): continued in plain text"
	Extensions     []string           `json:"extensions"`         // EHLO keywords (after STARTTLS if used)
	EchoedClientIP string             `json:"echoed_client_ip"`   // client IP the server echoed back, if any
	Rcpts          []RcptResult       `json:"rcpts"`              // one per RCPT TO sent ([] when none)
	TimingsMs      map[string]float64 `json:"timings_ms"`         // stage → milliseconds
	Transcript     []Line             `json:"transcript"`
	// TranscriptTruncated is set when the transcript hit its cap.
	TranscriptTruncated bool `json:"transcript_truncated,omitempty"`
	// ClosedByServer is set when the server closed, reset or stopped
	// answering the connection after the reply that decided the probe (the
	// RSET or QUIT that follows has no answer in the transcript). The
	// decided Status, Class and Reply are kept.
	ClosedByServer bool `json:"closed_by_server,omitempty"`
	// Cause is the finer reason of the decisive reply (see Cause); CauseWhy
	// names the classification rule that decided it, with its source.
	Cause    Cause  `json:"cause,omitempty"`
	CauseWhy string `json:"cause_why,omitempty"`
}

// MX is one mail exchanger of a domain with a probe per address.
type MX struct {
	Host       string  `json:"host"`
	Preference uint16  `json:"preference"`
	Implicit   bool    `json:"implicit"`        // no MX records: the domain itself (RFC 5321 §5.1)
	Error      string  `json:"error,omitempty"` // e.g. the host has no address
	Addresses  []Probe `json:"addresses"`
}

// DomainStatus is the outcome of resolving a domain's mail hosts.
type DomainStatus string

// Domain statuses.
const (
	DomainOK         DomainStatus = "ok"
	DomainNullMX     DomainStatus = "null_mx"      // RFC 7505 "MX 0 ." : accepts no mail
	DomainNoMailHost DomainStatus = "no_mail_host" // no MX and no address
	DomainError      DomainStatus = "error"        // NXDOMAIN, SERVFAIL, timeout…
)

// Domain is the result for one target domain.
type Domain struct {
	Domain string       `json:"domain"`
	Status DomainStatus `json:"status"`
	Error  string       `json:"error,omitempty"`
	// Rcpts are the RCPT TO addresses for this domain's MXs: the --rcpt
	// addresses of this domain, or postmaster@DOMAIN (see RcptsFor).
	Rcpts []string `json:"rcpts"`
	MX    []MX     `json:"mx"`
}

// Result is the smtp section of the report.
type Result struct {
	HELO          string   `json:"helo"`  // the EHLO argument(s) sent, comma-separated when several
	From          string   `json:"from"`  // the MAIL FROM reverse-path sent ("<>" for the null one)
	Rcpts         []string `json:"rcpts"` // asked for; each only for its own domain; a domain with none gets postmaster@DOMAIN (Domain.Rcpts: what each got)
	Port          int      `json:"port"`
	TLSMode       string   `json:"tls_mode"`
	Domains       []Domain `json:"domains"`
	Port25Blocked bool     `json:"port25_blocked"` // every probe timed out at connect: outbound 25 blocked, as many clouds do (https://cloud.google.com/compute/docs/tutorials/sending-mail)
	Notes         []string `json:"notes"`          // e.g. "no DATA is sent: rejections after DATA are invisible"
}
