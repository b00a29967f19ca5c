package smtpcheck

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// The reply-classification rules: an embedded, commented YAML table (YAML
// rather than JSON so that every rule can carry its source as a comment).
//
//go:embed rules/replies.yaml
var rulesYAML []byte

// Rule tiers, in precedence order.
const (
	tierList = iota
	tierCode
	tierMarker
	tierPhrase
	tierFallback
)

var tierNames = map[string]int{"list": tierList, "code": tierCode, "marker": tierMarker, "phrase": tierPhrase, "fallback": tierFallback}

type ruleSpec struct {
	Tier   string   `yaml:"tier"`
	Cause  string   `yaml:"cause"`
	Text   string   `yaml:"text"`
	Unless string   `yaml:"unless"`
	Code   []string `yaml:"code"`
	Reply  []string `yaml:"reply"`
	Stages []string `yaml:"stages"`
	List   string   `yaml:"list"`
	Why    string   `yaml:"why"`
}

// codeSpec matches an enhanced code class.subject.detail; class 0 is 4 or 5,
// lo < 0 is any detail.
type codeSpec struct {
	class, subject, lo, hi int
}

// replySpec matches a reply code; -1 is any digit.
type replySpec [3]int

type rule struct {
	tier    int
	cause   Cause
	text    *regexp.Regexp
	need    []string // the text cannot match unless it contains one of these (nil: no filter)
	unless  *regexp.Regexp
	codes   []codeSpec
	replies []replySpec
	stages  []Stage
	list    string
	why     string
}

// compiledRules compiles the rules once, on first use rather than at
// program start (a DNSBL-only run never classifies a reply, and compiling
// the expressions costs about 10 ms); a broken embedded file is a build bug
// and TestRulesCompile fails on it.
var compiledRules = sync.OnceValue(func() []rule { return mustCompileRules(rulesYAML) })

func mustCompileRules(b []byte) []rule {
	rs, err := compileRules(b)
	if err != nil {
		panic("smtpcheck: embedded rules/replies.yaml: " + err.Error())
	}
	return rs
}

func compileRules(b []byte) ([]rule, error) {
	var doc struct {
		Rules []ruleSpec `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt field would silently drop a condition
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if len(doc.Rules) == 0 {
		return nil, fmt.Errorf("no rules")
	}
	out := make([]rule, 0, len(doc.Rules))
	last := tierList
	for i, s := range doc.Rules {
		r, err := compileRule(s)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%s %s): %w", i+1, s.Tier, s.Cause, err)
		}
		if r.tier < last {
			return nil, fmt.Errorf("rule %d (%s %s): tier out of precedence order", i+1, s.Tier, s.Cause)
		}
		last = r.tier
		out = append(out, r)
	}
	return out, nil
}

func compileRule(s ruleSpec) (rule, error) {
	var r rule
	t, ok := tierNames[s.Tier]
	if !ok {
		return r, fmt.Errorf("unknown tier %q", s.Tier)
	}
	r.tier = t
	r.cause = Cause(s.Cause)
	if _, ok := causeTable[r.cause]; !ok || r.cause == CauseAccepted || r.cause == CauseProtocolError {
		return r, fmt.Errorf("unknown or reserved cause %q", s.Cause)
	}
	if s.Why == "" {
		return r, fmt.Errorf("no why")
	}
	r.why, r.list = s.Why, s.List
	var err error
	if s.Text != "" {
		if r.text, err = regexp.Compile(s.Text); err != nil {
			return r, err
		}
		r.need = requiredLiterals(s.Text)
	}
	if s.Unless != "" {
		if r.unless, err = regexp.Compile(s.Unless); err != nil {
			return r, err
		}
	}
	for _, c := range s.Code {
		cs, err := parseCodeSpec(c)
		if err != nil {
			return r, err
		}
		r.codes = append(r.codes, cs)
	}
	for _, c := range s.Reply {
		rs, err := parseReplySpec(c)
		if err != nil {
			return r, err
		}
		r.replies = append(r.replies, rs)
	}
	for _, st := range s.Stages {
		switch Stage(st) {
		case StageBanner, StageEHLO, StageSTARTTLS, StageMail, StageRcpt:
			r.stages = append(r.stages, Stage(st))
		default:
			return r, fmt.Errorf("unknown stage %q", st)
		}
	}
	if r.text == nil && r.codes == nil && r.replies == nil {
		return r, fmt.Errorf("matches everything: give text, code or reply")
	}
	if strings.Contains(r.list, "{1}") && (r.text == nil || r.text.NumSubexp() == 0) {
		return r, fmt.Errorf("list %q uses {1} but text has no submatch", r.list)
	}
	return r, nil
}

// parseCodeSpec reads "5.7.25", "X.7.25", "X.7.606-649" or "X.1.*".
func parseCodeSpec(s string) (codeSpec, error) {
	bad := fmt.Errorf("bad enhanced code %q", s)
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return codeSpec{}, bad
	}
	var c codeSpec
	switch parts[0] {
	case "X", "x":
	case "4", "5":
		c.class = int(parts[0][0] - '0')
	default:
		return c, bad
	}
	var err error
	if c.subject, err = strconv.Atoi(parts[1]); err != nil || c.subject < 0 || c.subject > 999 {
		return c, bad
	}
	switch d := parts[2]; {
	case d == "*":
		c.lo, c.hi = -1, -1
	case strings.Contains(d, "-"):
		lo, hi, _ := strings.Cut(d, "-")
		if c.lo, err = strconv.Atoi(lo); err != nil {
			return c, bad
		}
		if c.hi, err = strconv.Atoi(hi); err != nil || c.hi < c.lo {
			return c, bad
		}
	default:
		if c.lo, err = strconv.Atoi(d); err != nil || c.lo < 0 {
			return c, bad
		}
		c.hi = c.lo
	}
	return c, nil
}

// parseReplySpec reads "421", "4xx" or "55x".
func parseReplySpec(s string) (replySpec, error) {
	var r replySpec
	if len(s) != 3 || s[0] < '2' || s[0] > '5' {
		return r, fmt.Errorf("bad reply code %q", s)
	}
	for i := 0; i < 3; i++ {
		switch c := s[i]; {
		case c == 'x' || c == 'X':
			r[i] = -1
		case c >= '0' && c <= '9':
			r[i] = int(c - '0')
		default:
			return r, fmt.Errorf("bad reply code %q", s)
		}
	}
	return r, nil
}

func (c codeSpec) match(e enhanced) bool {
	return e.ok && (c.class == 0 || c.class == e.class) && c.subject == e.subject &&
		(c.lo < 0 || (e.detail >= c.lo && e.detail <= c.hi))
}

func (r replySpec) match(code int) bool {
	d := [3]int{code / 100, code / 10 % 10, code % 10}
	for i := range d {
		if r[i] >= 0 && r[i] != d[i] {
			return false
		}
	}
	return true
}

// enhanced is a parsed, trusted RFC 3463 code.
type enhanced struct {
	ok                     bool
	class, subject, detail int
	text                   string
}

// match reports whether the rule applies, and the list it cites. lower is
// the lower-cased reply text.
func (r *rule) match(stage Stage, code int, e enhanced, lower string) (string, bool) {
	if r.stages != nil && !hasStage(r.stages, stage) {
		return "", false
	}
	if r.replies != nil && !anyReply(r.replies, code) {
		return "", false
	}
	if r.codes != nil && !anyCode(r.codes, e) {
		return "", false
	}
	var sub string
	if r.need != nil && !containsAny(lower, r.need) {
		return "", false
	}
	if r.text != nil {
		if strings.Contains(r.list, "{1}") {
			m := r.text.FindStringSubmatchIndex(lower)
			if m == nil {
				return "", false
			}
			for i := 2; i+1 < len(m); i += 2 {
				if m[i] >= 0 && m[i+1] > m[i] {
					sub = lower[m[i]:m[i+1]]
					break
				}
			}
		} else if !r.text.MatchString(lower) {
			return "", false
		}
	}
	if r.unless != nil && r.unless.MatchString(lower) {
		return "", false
	}
	list := r.list
	if list != "" && strings.ContainsRune(list, '{') {
		sub = strings.TrimRight(sub, ".")
		if strings.HasPrefix(list, "{1}") { // a zone
			if strings.HasPrefix(sub, "www.") {
				return "", false // a web site ("listed at www.example.org"), not a DNS zone
			}
			sub = canonicalZone(sub)
		} else { // a provider code inside a name reads upper-case: "Yahoo BL21"
			sub = strings.ToUpper(sub)
		}
		list = expand(list, sub, e.text)
	}
	return list, true
}

func hasStage(ss []Stage, s Stage) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func anyReply(rs []replySpec, code int) bool {
	for _, r := range rs {
		if r.match(code) {
			return true
		}
	}
	return false
}

func anyCode(cs []codeSpec, e enhanced) bool {
	for _, c := range cs {
		if c.match(e) {
			return true
		}
	}
	return false
}

// Key-carrying query zones: "<KEY>.combined.mail.abusix.zone" and Spamhaus
// DQS "<KEY>.zen.dq.spamhaus.net". The key is a secret; the cited list is the
// zone without it.
var keyedZones = []string{".combined.mail.abusix.zone", ".dq.spamhaus.net"}

// canonicalZone drops a DQS-style key label from a zone a reply names.
func canonicalZone(z string) string {
	for _, suf := range keyedZones {
		if !strings.HasSuffix(z, suf) {
			continue
		}
		head := z[:len(z)-len(suf)] // "<KEY>" or "<KEY>.zen"
		if suf == keyedZones[0] {
			return suf[1:]
		}
		if i := strings.LastIndexByte(head, '.'); i >= 0 {
			return head[i+1:] + suf
		}
	}
	return z
}

// Texts longer than maxFold are read at their first and last maxFold/2
// bytes: real replies are a few hundred bytes (RFC 5321 §4.5.3.1.5 limits a
// reply line to 512 octets), and the cap bounds the work a hostile server
// can cause (ReadReply lets through up to 100 lines of 4 KiB).
const maxFold = 16 << 10

// foldText returns text lower-cased (ASCII) with line breaks and tabs turned
// into spaces, so that rules match phrases a server wrapped over lines. A
// text longer than maxFold keeps its head and tail, joined by a space. It
// allocates once.
func foldText(text string) string {
	head, tail := text, ""
	if len(text) > maxFold {
		head, tail = text[:maxFold/2], text[len(text)-maxFold/2:]
	}
	var b strings.Builder
	b.Grow(len(head) + 1 + len(tail))
	foldInto(&b, head)
	if tail != "" {
		b.WriteByte(' ')
		foldInto(&b, tail)
	}
	return b.String()
}

func foldInto(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '\n' || c == '\r' || c == '\t':
			c = ' '
		}
		b.WriteByte(c)
	}
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// requiredLiterals returns strings one of which every match of the
// expression contains, or nil when it cannot tell. A rule skips its regular
// expression when the text contains none of them, which keeps long replies
// cheap.
func requiredLiterals(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return need(re.Simplify())
}

func need(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil
		}
		return []string{string(re.Rune)}
	case syntax.OpCapture, syntax.OpPlus:
		return need(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return need(re.Sub[0])
		}
	case syntax.OpAlternate:
		var all []string
		for _, s := range re.Sub {
			n := need(s)
			if n == nil {
				return nil
			}
			all = append(all, n...)
		}
		return all
	case syntax.OpConcat:
		// The best child: the one whose shortest required literal is longest.
		var best []string
		bestLen := 0
		for _, s := range re.Sub {
			n := need(s)
			if n == nil {
				continue
			}
			m := len(n[0])
			for _, x := range n[1:] {
				m = min(m, len(x))
			}
			if m > bestLen {
				best, bestLen = n, m
			}
		}
		return best
	}
	return nil
}

// expand fills "{1}" and "{code}" in a list template.
func expand(tmpl, sub, code string) string {
	var b strings.Builder
	b.Grow(len(tmpl) + len(sub) + len(code))
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		switch rest := tmpl[i:]; {
		case strings.HasPrefix(rest, "{1}"):
			b.WriteString(sub)
			tmpl = rest[3:]
		case strings.HasPrefix(rest, "{code}"):
			b.WriteString(code)
			tmpl = rest[6:]
		default:
			b.WriteByte('{')
			tmpl = rest[1:]
		}
	}
}

// maskLocalParts removes the local part of every mail address in lower (the
// folded reply text): "<spamhaus@example.com>" becomes "<@example.com>".
// Servers echo the recipient or sender the probe sent (Postfix "<rcpt>:
// Recipient address rejected", Exchange "Recipient rcpt not found"), and a
// mailbox name is chosen by whoever runs the probe: a word in it must not
// name a list or a cause. The domain is kept (a provider's contact address
// such as T-Online's tosa@rx.t-online.de identifies it). The local part's
// characters are RFC 5322 §3.2.3 atext and ".".
func maskLocalParts(lower string) string {
	if !strings.Contains(lower, "@") {
		return lower
	}
	b := []byte(lower)
	out := b[:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '@' && i+1 < len(b) && isDomainByte(b[i+1]) {
			j := len(out)
			for j > 0 && isLocalByte(out[j-1]) {
				j--
			}
			out = out[:j]
		}
		out = append(out, c)
	}
	return string(out)
}

func isDomainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '['
}

func isLocalByte(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
}

// stripLinks replaces every link in lower (a word starting "http://",
// "https://" or "www.") with a space. The phrase and fallback rules read
// the server's wording, and a help page's name ("…/blacklist-faq.html",
// "…/spf-dmarc") is not wording; the list and marker rules still see links,
// where a list's lookup URL or a provider's case link is evidence.
func stripLinks(lower string) string {
	if !strings.Contains(lower, "http") && !strings.Contains(lower, "www.") {
		return lower
	}
	words := strings.Split(lower, " ")
	for i, w := range words {
		w = strings.TrimLeft(w, "(<[\"'")
		if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") || strings.HasPrefix(w, "www.") {
			words[i] = ""
		}
	}
	return strings.Join(words, " ")
}
