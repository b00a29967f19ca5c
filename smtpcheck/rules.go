package smtpcheck

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
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
	unless  *regexp.Regexp
	codes   []codeSpec
	replies []replySpec
	stages  []Stage
	list    string
	why     string
}

// rules is compiled once, at init; a broken embedded file is a build bug and
// TestRulesCompile fails on it.
var rules = mustCompileRules(rulesYAML)

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
	if err := yaml.Unmarshal(b, &doc); err != nil {
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
			sub = canonicalZone(sub)
		} else { // a provider code inside a name reads upper-case: "Yahoo BL21"
			sub = strings.ToUpper(sub)
		}
		list = strings.NewReplacer("{1}", sub, "{code}", e.text).Replace(list)
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

// foldText returns text lower-cased (ASCII) with line breaks and tabs turned
// into spaces, so that rules match phrases a server wrapped over lines. It
// allocates once.
func foldText(text string) string {
	b := make([]byte, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '\n' || c == '\r' || c == '\t':
			c = ' '
		}
		b[i] = c
	}
	return string(b)
}
