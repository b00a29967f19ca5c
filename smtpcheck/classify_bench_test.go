package smtpcheck

import (
	"strings"
	"testing"
)

// longReply is a hostile-size reply: MaxReplyLines lines of nearly
// MaxLineLen bytes each, with the decisive phrase on the last line.
func longReply() Reply {
	line := strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit ", 4000/57)
	lines := make([]string, MaxReplyLines)
	for i := range lines {
		lines[i] = line
	}
	lines[len(lines)-1] = "Client host [203.0.113.7] blocked using zen.spamhaus.org"
	return Reply{Code: 554, Enhanced: "5.7.1", Text: strings.Join(lines, "\n")}
}

// BenchmarkClassifyLongReply classifies a 4 KiB x 100-line reply. The
// allocations per op must stay a small constant (one folded copy of the
// text plus the verdict's strings), whatever the text size.
func BenchmarkClassifyLongReply(b *testing.B) {
	rep := longReply()
	b.SetBytes(int64(len(rep.Text)))
	b.ReportAllocs()
	for b.Loop() {
		ClassifyCause(StageRcpt, rep, true)
	}
}

// BenchmarkClassifyLongReplyNoMatch is the worst case: no rule matches a
// 4 KiB x 100-line reply, so every rule scans all of it.
func BenchmarkClassifyLongReplyNoMatch(b *testing.B) {
	rep := longReply()
	rep.Text = rep.Text[:strings.LastIndexByte(rep.Text, '\n')]
	rep.Enhanced = "5.0.0"
	b.SetBytes(int64(len(rep.Text)))
	b.ReportAllocs()
	for b.Loop() {
		ClassifyCause(StageRcpt, rep, true)
	}
}

// BenchmarkClassifyHostileKeywords is the worst case for the rules' literal
// prefilter: a long reply that contains every literal some rule looks for,
// but in an order that no rule matches, so every regular expression runs.
func BenchmarkClassifyHostileKeywords(b *testing.B) {
	var words []string
	for _, r := range compiledRules() {
		words = append(words, r.need...)
	}
	var sb strings.Builder
	for sb.Len() < MaxReplyLines*MaxLineLen {
		for _, w := range words {
			sb.WriteString(w)
			sb.WriteString(" x\n")
		}
	}
	rep := Reply{Code: 550, Text: sb.String()}
	b.SetBytes(int64(len(rep.Text)))
	b.ReportAllocs()
	for b.Loop() {
		ClassifyCause(StageRcpt, rep, true)
	}
}

// BenchmarkClassifyShortReply is the common case, for comparison.
func BenchmarkClassifyShortReply(b *testing.B) {
	rep := Reply{Code: 550, Enhanced: "5.1.1", Text: "<nobody@example.com>: Recipient address rejected: User unknown in local recipient table"}
	b.ReportAllocs()
	for b.Loop() {
		ClassifyCause(StageRcpt, rep, true)
	}
}

// TestLongReplyAllocations bounds the allocations of one classification of
// the longest reply ReadReply lets through.
func TestLongReplyAllocations(t *testing.T) {
	rep := longReply()
	v := ClassifyCause(StageRcpt, rep, true)
	if v.Cause != CauseDNSBLListing || v.CitedList != "zen.spamhaus.org" {
		t.Fatalf("long reply: %+v", v)
	}
	if n := testing.AllocsPerRun(3, func() { ClassifyCause(StageRcpt, rep, true) }); n > 10 {
		t.Errorf("%v allocations per classification of a %d-byte reply, want at most 10", n, len(rep.Text))
	}
}
