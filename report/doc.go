// Package report is blprobe's report: one versioned JSON document that holds
// every section a command produced, the verdict and exit code decided from
// them, and text and Markdown renderings of it.
//
// # Format
//
// The JSON document has "schema": "blprobe.report/v1" and is described by the
// JSON Schema (draft 2020-12) in schema/report.v1.json, embedded in the
// binary (see [Schema] and [Validate]). Sections a command did not run
// (egress, dnsbl, rdns, smtp) are null. Every other array and map in the
// document is marshalled as [] or {} when empty, never null, so scripts can
// iterate without null checks: [Report.MarshalJSON] normalises nil slices of
// the document and of its sections, and the schema requires the lists as
// arrays. Scalar fields tagged omitempty (e.g. "summary", "error") are absent
// when empty.
//
// # Verdict
//
// [Report.Finalize] is the only place that decides the verdict; it runs last,
// after correlation, and reads all of the evidence: rejected (an MX refused
// with a 5xx caused by the sending IP, its reputation, its PTR/HELO or policy
// about the sender) > listed (a hit on a block-type zone) > inconclusive
// (something did not end in a verdict: no RCPT answer, a 5xx not tied to the
// sender, a domain that accepts no mail, an rDNS error, a problem
// correlation such as an echoed-IP mismatch, DNS errors, or an interrupted
// run) > clean. Its doc comment has the full rules. Exit codes: clean 0,
// listed/rejected 1, inconclusive 3, and 3 whenever the run was interrupted;
// 2 is reserved for usage errors, which produce no report, and 4 for a run
// whose report could not be written.
//
// # Versioning
//
// Field names are a contract that users' scripts rely on. Additive changes
// (new optional fields, new enum values documented as such) keep
// "blprobe.report/v1"; renaming or removing a field, or changing its type or
// meaning, bumps the schema to "blprobe.report/v2" with a new schema file next
// to the old one.
//
// # Rendering
//
// [WriteJSON], [WriteText] and [WriteMarkdown] are pure: they read only the
// report (times included) and write only to the writer. All remote text
// (SMTP replies, transcripts, TXT reasons, PTR names, egress answers, error
// strings) passes through textsafe.Clean in text and Markdown, and secrets
// given to [New] are redacted from every output.
//
// The text report fits [TextOptions.Width] terminal columns, measured with
// go-runewidth: prose wraps at word boundaries, tables cut their reply
// column with "…" or, when even that does not fit, show one record a row
// (the full text stays in -v transcripts and in JSON), and the verdict is
// repeated as the last line. Sets of addresses are named as ranges
// ([AddrRanges]) so that a CIDR's report stays as short as a single IP's.
package report
