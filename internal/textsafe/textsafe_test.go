package textsafe

import "testing"

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"550 5.7.1 blocked", "550 5.7.1 blocked"},
		{"550 \x1b[2J\x1b[31mred", "550 [2J[31mred"},
		{"a\tb", "a b"},
		{"line\r\n", "line"},
		{"\u009b31m c1", "31m c1"},
		{"\x9braw", "?raw"},
		{"bidi\u202eevil", "bidievil"},
		{"caf\xe9", "caf?"},
		{"ümlaut", "ümlaut"},
	} {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzClean(f *testing.F) {
	f.Add("\x1b]0;title\x07text")
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		for _, r := range out {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x1b {
				t.Fatalf("control %U left in %q", r, out)
			}
		}
	})
}
