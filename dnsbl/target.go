package dnsbl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// Target is one thing to check, as the user gave it. Exactly one of Addr,
// Prefix and Host is set.
type Target struct {
	Input  string       // the token as given
	Addr   netip.Addr   // a single address
	Prefix netip.Prefix // a CIDR, normalised with Masked()
	Host   string       // a hostname, lower-case, without trailing dot
}

// TargetError is an invalid target or target file; the CLI maps it to a
// usage error (exit 2).
type TargetError struct {
	File   string // file name for @FILE or "-" (stdin), else ""
	Line   int    // line number in File, or 0
	Token  string // the offending token
	Reason string // what is wrong and what is accepted

	whole bool // about the target list as a whole, not one token
}

func (e *TargetError) Error() string {
	var b strings.Builder
	if e.File != "" {
		if e.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
		} else {
			fmt.Fprintf(&b, "%s: ", e.File)
		}
	}
	if !e.whole && (e.Token != "" || e.File == "") {
		fmt.Fprintf(&b, "invalid target %q: ", e.Token)
	}
	b.WriteString(e.Reason)
	return b.String()
}

const wantTarget = "want an IPv4 or IPv6 address, a CIDR such as 192.0.2.0/24, or a hostname"

// ParseTarget parses an IPv4 or IPv6 address, a CIDR (v4 or v6) or a hostname.
func ParseTarget(s string) (Target, error) {
	bad := func(reason string) (Target, error) {
		return Target{}, &TargetError{Token: s, Reason: reason}
	}
	if s == "" {
		return bad(wantTarget)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return bad(wantTarget)
		}
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			addr, bits, _ := strings.Cut(s, "/")
			if a, aerr := netip.ParseAddr(addr); aerr == nil && a.Zone() == "" {
				max := 32
				if a.Is6() {
					max = 128
				}
				return bad(fmt.Sprintf("bad prefix length %q (want 0-%d for an %s CIDR)", bits, max, family(a)))
			}
			return bad(wantTarget)
		}
		return Target{Input: s, Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return bad("IPv6 zone suffixes (%…) are not allowed; " + wantTarget)
		}
		return Target{Input: s, Addr: a}, nil
	}
	h := strings.TrimSuffix(strings.ToLower(s), ".")
	if !isHostname(h) {
		return bad(wantTarget)
	}
	return Target{Input: s, Host: h}, nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// isHostname accepts LDH names of at least two labels whose last label is
// not all digits, which rejects malformed addresses such as 127.1, 1.2.3 or
// 300.1.1.1 (RFC 1123 §2.1, RFC 3696 §2).
func isHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 || strings.Contains(h, ":") {
		return false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// maxLine bounds one line of a target file.
const maxLine = 4096

// ReadTargets parses command-line target tokens: "-" reads stdin and "@FILE"
// reads a file, one target a line, with '#' comments and blank lines
// ignored. Errors are *TargetError naming the token (and file:line).
func ReadTargets(args []string, stdin io.Reader) ([]Target, error) {
	var out []Target
	for _, a := range args {
		switch {
		case a == "-":
			if stdin == nil {
				return nil, &TargetError{File: "-", Reason: "no standard input", whole: true}
			}
			ts, err := readTargetLines(stdin, "-")
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
		case strings.HasPrefix(a, "@"):
			name := a[1:]
			if name == "" {
				return nil, &TargetError{Token: a, Reason: "want @FILE with a file of targets, one a line"}
			}
			f, err := os.Open(name)
			if err != nil {
				return nil, &TargetError{File: name, Reason: fmt.Sprintf("cannot read target file: %v", unwrapPath(err)), whole: true}
			}
			ts, err := readTargetLines(f, name)
			f.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
		default:
			t, err := ParseTarget(a)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readTargetLines(r io.Reader, name string) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		t, err := ParseTarget(line)
		if err != nil {
			var te *TargetError
			if errors.As(err, &te) {
				te.File, te.Line = name, n
			}
			return nil, err
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		reason := fmt.Sprintf("cannot read targets: %v", err)
		if errors.Is(err, bufio.ErrTooLong) {
			reason = fmt.Sprintf("line longer than %d bytes (want one target a line)", maxLine)
		}
		return nil, &TargetError{File: name, Line: n + 1, Reason: reason, whole: true}
	}
	return out, nil
}
