// Package textsafe makes remote text (SMTP replies, TXT records) safe to print
// on a terminal: control characters that could move the cursor, change
// colours or rewrite the screen are removed.
package textsafe

import (
	"strings"
	"unicode"
)

// Clean removes C0 and C1 control characters (including ESC, so ANSI escape
// sequences lose their power) and Unicode bidi overrides, keeping tabs as a
// space. Newlines are removed too: callers print one line at a time.
func Clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r == unicode.ReplacementChar:
			b.WriteRune('?')
		case unicode.IsControl(r), isBidi(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func isBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f
}
