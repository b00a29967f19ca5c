// Package zonefile loads rbldnsd data files (the format in which Spamhaus,
// Abusix and others ship their lists by rsync) into in-memory lookup tables,
// so that blprobe can check addresses and domains against licensed list data
// without any DNS.
//
// The formats are those of rbldnsd(8), section "DATASET TYPES AND FORMATS"
// (https://manpages.debian.org/rbldnsd/rbldnsd.8.en.html): ip4set, ip4tset,
// ip4trie, ip6trie, ip6tset and dnset, with ":A:TXT" default and per-entry
// values, "$" and "$n" substitution in TXT templates, the "$=" base
// template, and "!" exclusions. $SOA, $NS, $TTL, $TIMESTAMP and $MAXRANGE4
// lines are accepted and ignored (they shape a served DNS zone, not the
// listing).
package zonefile

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Format is an rbldnsd dataset type.
type Format string

// Dataset types of rbldnsd(8).
const (
	IP4Set  Format = "ip4set"
	IP4TSet Format = "ip4tset"
	IP4Trie Format = "ip4trie"
	IP6Trie Format = "ip6trie"
	IP6TSet Format = "ip6tset"
	DNSet   Format = "dnset"
)

// ParseFormat accepts the dataset type names of rbldnsd(8).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case IP4Set, IP4TSet, IP4Trie, IP6Trie, IP6TSet, DNSet:
		return f, nil
	}
	return "", fmt.Errorf("dataset type %q: want ip4set, ip4tset, ip4trie, ip6trie, ip6tset or dnset", s)
}

// defaultA is what rbldnsd answers when no A value is given (rbldnsd(8),
// "Resulting A values and TXT templates").
var defaultA = netip.AddrFrom4([4]byte{127, 0, 0, 2})

// maxLineBytes bounds one line of a data file.
const maxLineBytes = 64 << 10

// Answer is what the data says about a listed address or name.
type Answer struct {
	A      netip.Addr // the A record value, e.g. 127.0.0.2
	TXT    string     // the expanded TXT template
	HasTXT bool       // false: rbldnsd answers no TXT record
}

// value is an entry's A value and TXT text as written; tmpl is the
// compiled TXT template (after the whole file is read: "$n" variables and
// the "$=" base template apply to the dataset as a whole).
type value struct {
	a       netip.Addr
	text    string
	tmpl    []segment
	hasTXT  bool
	exclude bool
}

// segment is a literal piece of a TXT template, or (subject) the listed
// address or name in question ("$").
type segment struct {
	lit     string
	subject bool
}

// Data is a loaded dataset. It is read-only after Parse and safe for
// concurrent use.
type Data struct {
	format  Format
	v4      [33]map[uint32]int32 // prefix length → masked address → value index
	lens4   []int                // lengths in use, longest first
	v6      [129]map[[16]byte]int32
	lens6   []int
	exact   map[string]int32 // dnset: the name itself
	wild    map[string]int32 // dnset: subdomains of the name
	values  []value
	entries int
}

// Format returns the dataset type.
func (d *Data) Format() Format { return d.format }

// Entries returns the number of entries loaded (exclusions included).
func (d *Data) Entries() int { return d.entries }

// ParseError names the line of a data file that could not be read.
type ParseError struct {
	Line int
	Text string
	Err  error
}

func (e *ParseError) Error() string {
	t := e.Text
	if len(t) > 60 {
		t = t[:60] + "…"
	}
	return fmt.Sprintf("line %d %q: %v", e.Line, t, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Load reads the data file at path, plain or gzip-compressed (as rbldnsd
// does). An empty format is guessed from the
// first entry (an IPv4 entry: ip4set; IPv6: ip6trie; a name: dnset).
func Load(path string, f Format) (*Data, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rbldnsd data file: %w", err)
	}
	defer fh.Close()
	// rbldnsd reads gzip-compressed data files transparently; so do we.
	br := bufio.NewReader(fh)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("rbldnsd data file %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	d, err := Parse(r, f)
	if err != nil {
		return nil, fmt.Errorf("rbldnsd data file %s: %w", path, err)
	}
	return d, nil
}

// parser is the state of one file: the default value and the substitution
// variables in scope.
type parser struct {
	d       *Data
	def     value
	defIdx  int32 // index of def in d.values, -1 until an entry uses it
	exclIdx int32 // index of the exclusion value, -1 until used
	vars    [10]string
	base    string // "$=" base template; "" when none
	hasB    bool
	// maxRange4 is $MAXRANGE4: IPv4 entries covering more addresses are
	// ignored, as rbldnsd ignores them (0: no limit).
	maxRange4 uint64
}

// Parse reads a data file of format f (empty: guessed from the first entry).
func Parse(r io.Reader, f Format) (*Data, error) {
	if f != "" {
		if _, err := ParseFormat(string(f)); err != nil {
			return nil, err
		}
	}
	d := &Data{format: f}
	p := &parser{d: d, def: value{a: defaultA}, defIdx: -1, exclIdx: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if err := p.line(line); err != nil {
			return nil, &ParseError{Line: n, Text: line, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", n+1, maxLineBytes)
		}
		return nil, err
	}
	if d.format == "" {
		d.format = IP4Set // an empty file lists nothing whatever its type
	}
	p.compile()
	d.finish()
	return d, nil
}

func (p *parser) line(line string) error {
	s := strings.TrimLeft(line, " \t")
	if s == "" {
		return nil
	}
	// Special entries: "$", "#$", ";$" or ":$" followed by a keyword.
	for _, pre := range []string{"$", "#$", ";$", ":$"} {
		if strings.HasPrefix(s, pre) {
			return p.special(s[len(pre):])
		}
	}
	switch s[0] {
	case '#', ';':
		return nil
	case ':':
		if p.ip6Entry(s) {
			break // "::1" in an IPv6 dataset is an address, not a default value
		}
		v, err := p.value(s, value{a: defaultA})
		if err != nil {
			return err
		}
		p.def, p.defIdx = v, -1
		return nil
	}
	exclude := s[0] == '!'
	if exclude {
		s = strings.TrimLeft(s[1:], " \t")
	}
	spec, rest := splitEntry(s)
	if spec == "" {
		return errors.New("empty entry")
	}
	if p.d.format == "" {
		p.d.format = guess(spec)
	}
	// Entries with the default value (most of a big list) or excluded
	// share one value: memory is a map entry per listing.
	var idx int32
	switch {
	case exclude:
		if p.exclIdx < 0 {
			p.exclIdx = p.intern(value{exclude: true})
		}
		idx = p.exclIdx
	case p.d.format == IP4TSet || p.d.format == IP6TSet || rest == "" || rest[0] == '#' || rest[0] == ';':
		if p.defIdx < 0 {
			p.defIdx = p.intern(p.def)
		}
		idx = p.defIdx
	default:
		v, err := p.value(rest, p.def)
		if err != nil {
			return err
		}
		idx = p.intern(v)
	}
	p.d.entries++
	switch p.d.format {
	case IP4Set, IP4TSet, IP4Trie:
		return p.add4(spec, idx, exclude)
	case IP6Trie, IP6TSet:
		return p.add6(spec, idx, exclude)
	default:
		return p.addName(spec, idx, exclude)
	}
}

// ip6Entry reports whether a line starting with ':' is an IPv6 entry.
func (p *parser) ip6Entry(s string) bool {
	if p.d.format != IP6Trie && p.d.format != IP6TSet || !strings.HasPrefix(s, "::") {
		return false
	}
	spec, _ := splitEntry(s)
	spec, _, _ = strings.Cut(spec, "/")
	_, err := netip.ParseAddr(spec)
	return err == nil
}

// splitEntry splits an entry line into the address or name and the value.
func splitEntry(s string) (spec, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

func guess(spec string) Format {
	switch {
	case strings.Contains(spec, ":"):
		return IP6Trie
	case strings.Trim(spec, "0123456789./-") == "":
		return IP4Set
	}
	return DNSet
}

func (p *parser) special(s string) error {
	if s == "" {
		return nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		p.vars[s[0]-'0'] = strings.TrimLeft(s[1:], " \t")
		return nil
	}
	if s[0] == '=' {
		p.base, p.hasB = strings.TrimLeft(s[1:], " \t"), true
		return nil
	}
	kw, arg, _ := strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
	switch strings.ToUpper(kw) {
	case "MAXRANGE4":
		return p.setMaxRange4(strings.TrimSpace(arg))
	case "SOA", "NS", "TTL", "TIMESTAMP", "DATASET":
		return nil
	}
	return fmt.Errorf("unknown special entry $%s (want $SOA, $NS, $TTL, $TIMESTAMP, $MAXRANGE4, $n or $=)", kw)
}

// setMaxRange4 reads "$MAXRANGE4 256" or "$MAXRANGE4 /24"; it can lower
// the limit, never raise it (rbldnsd(8), Special Entries).
func (p *parser) setMaxRange4(arg string) error {
	var n uint64
	if l, ok := strings.CutPrefix(arg, "/"); ok {
		bits, err := strconv.Atoi(l)
		if err != nil || bits < 0 || bits > 32 {
			return fmt.Errorf("$MAXRANGE4 %q: want a number of addresses or a prefix length such as /24", arg)
		}
		n = uint64(1) << (32 - bits)
	} else {
		v, err := strconv.ParseUint(arg, 10, 64)
		if err != nil || v == 0 {
			return fmt.Errorf("$MAXRANGE4 %q: want a number of addresses or a prefix length such as /24", arg)
		}
		n = v
	}
	if p.maxRange4 == 0 || n < p.maxRange4 {
		p.maxRange4 = n
	}
	return nil
}

// value parses the value part of an entry or a default line (rbldnsd(8),
// "Resulting A values and TXT templates"): ":A:TXT", ":A:" (no TXT), ":A"
// (default TXT), "TXT" (default A) or nothing (both defaults). A is a full
// IPv4 address or the last octet of 127.0.0.x.
func (p *parser) value(s string, def value) (value, error) {
	v := def
	v.exclude = false
	if s == "" || s[0] == '#' || s[0] == ';' {
		return v, nil
	}
	text := s
	if s[0] == ':' {
		a, t, two := strings.Cut(s[1:], ":")
		if a = strings.TrimSpace(a); a != "" {
			ip, err := parseAValue(a)
			if err != nil {
				return v, err
			}
			v.a = ip
		}
		if !two {
			return v, nil
		}
		text = t
		if text == "" {
			v.text, v.hasTXT = "", false
			return v, nil
		}
	}
	v.text, v.hasTXT = text, true
	return v, nil
}

func parseAValue(s string) (netip.Addr, error) {
	if !strings.Contains(s, ".") {
		s = "127.0.0." + s
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("the A value %q: want an IPv4 address such as 127.0.0.2 or its last octet", s)
	}
	return a, nil
}

// compile builds every value's TXT template: "$" is the subject, "$$" a
// dollar sign, "$n" substitution variable n. With a "$=" base template every
// listing has a TXT: the base, with "$=" replaced by the entry's text as
// written (or by the subject when the entry has none), unless the entry's
// text starts with "=" (its own template). This is what rbldnsd answers.
func (p *parser) compile() {
	for i := range p.d.values {
		v := &p.d.values[i]
		switch {
		case v.exclude:
		case p.hasB && v.hasTXT && strings.HasPrefix(v.text, "="):
			v.tmpl = merge(p.expand(v.text[1:]))
		case p.hasB:
			ins := segment{subject: true}
			if v.hasTXT {
				ins = segment{lit: v.text}
			}
			var out []segment
			base := p.base
			for {
				k := strings.Index(base, "$=")
				if k < 0 {
					break
				}
				out = append(append(out, p.expand(base[:k])...), ins)
				base = base[k+2:]
			}
			v.tmpl, v.hasTXT = merge(append(out, p.expand(base)...)), true
		case v.hasTXT:
			v.tmpl = merge(p.expand(v.text))
		}
	}
}

func (p *parser) expand(t string) []segment {
	var out []segment
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		switch {
		case i+1 < len(t) && t[i+1] == '$':
			b.WriteByte('$')
			i++
		case i+1 < len(t) && t[i+1] >= '0' && t[i+1] <= '9':
			b.WriteString(p.vars[t[i+1]-'0'])
			i++
		default:
			out = append(out, segment{lit: b.String()}, segment{subject: true})
			b.Reset()
		}
	}
	return append(out, segment{lit: b.String()})
}

func merge(in []segment) []segment {
	var out []segment
	for _, s := range in {
		if !s.subject && s.lit == "" {
			continue
		}
		if n := len(out); n > 0 && !s.subject && !out[n-1].subject {
			out[n-1].lit += s.lit
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) intern(v value) int32 {
	p.d.values = append(p.d.values, v)
	return int32(len(p.d.values) - 1)
}

// answer expands v's template for subject.
func (d *Data) answer(i int32, subject string) (Answer, bool) {
	v := &d.values[i]
	if v.exclude {
		return Answer{}, false
	}
	ans := Answer{A: v.a, HasTXT: v.hasTXT}
	if v.hasTXT {
		var b strings.Builder
		for _, s := range v.tmpl {
			if s.subject {
				b.WriteString(subject)
			} else {
				b.WriteString(s.lit)
			}
		}
		ans.TXT = b.String()
	}
	return ans, true
}

func (d *Data) finish() {
	for l := 32; l >= 0; l-- {
		if d.v4[l] != nil {
			d.lens4 = append(d.lens4, l)
		}
	}
	for l := 128; l >= 0; l-- {
		if d.v6[l] != nil {
			d.lens6 = append(d.lens6, l)
		}
	}
}

// Lookup answers for an address: the longest matching entry wins, and an
// exclusion there means "not listed" (rbldnsd(8), ip4trie and ip6trie).
func (d *Data) Lookup(a netip.Addr) (Answer, bool) {
	if a.Is4() {
		b := a.As4()
		u := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		for _, l := range d.lens4 {
			if i, ok := d.v4[l][u&mask4(l)]; ok {
				return d.answer(i, a.String())
			}
		}
		return Answer{}, false
	}
	if len(d.lens6) == 0 {
		return Answer{}, false
	}
	full := a.As16()
	for _, l := range d.lens6 {
		if i, ok := d.v6[l][mask6(full, l)]; ok {
			return d.answer(i, a.String())
		}
	}
	return Answer{}, false
}

// LookupName answers for a domain name (dnset): the name itself, then
// wildcards from the closest parent up; exclusions stop the search. In the
// TXT, "$" is the entry that matched, as rbldnsd answers.
func (d *Data) LookupName(name string) (Answer, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if i, ok := d.exact[name]; ok {
		return d.answer(i, name)
	}
	for s := name; ; {
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			return Answer{}, false
		}
		s = s[dot+1:]
		if i, ok := d.wild[s]; ok {
			return d.answer(i, s) // "$" is the listed entry (rbldnsd substitutes the wildcard's name)
		}
	}
}

func mask4(l int) uint32 {
	if l == 0 {
		return 0
	}
	return ^uint32(0) << (32 - l)
}

func mask6(a [16]byte, l int) [16]byte {
	for i := 0; i < 16; i++ {
		switch {
		case l >= 8*(i+1):
		case l <= 8*i:
			a[i] = 0
		default:
			a[i] &= ^byte(0) << (8 - (l - 8*i))
		}
	}
	return a
}
