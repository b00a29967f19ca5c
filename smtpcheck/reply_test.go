package smtpcheck

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		code    int
		enh     string
		text    string
		nlines  int
		wantErr error // nil: success
	}{
		{"single", "250 OK\r\n", 250, "", "OK", 1, nil},
		{"bare LF", "220 mx ready\n", 220, "", "mx ready", 1, nil},
		{"multi with enhanced repeated (Gmail)",
			"550-5.7.1 [192.0.2.1] The IP you're using to send mail is not\r\n550-5.7.1 authorized to send email directly to our servers.\r\n550 5.7.1 Please use the SMTP relay. - gsmtp\r\n",
			550, "5.7.1", "[192.0.2.1] The IP you're using to send mail is not\nauthorized to send email directly to our servers.\nPlease use the SMTP relay. - gsmtp", 3, nil},
		{"multi without enhanced (GMX)", "554-IP address is block listed.\r\n554 For explanation visit http://postmaster.gmx.net\r\n",
			554, "", "IP address is block listed.\nFor explanation visit http://postmaster.gmx.net", 2, nil},
		{"EHLO", "250-mx.test Hello [127.0.0.1]\r\n250-PIPELINING\r\n250 STARTTLS\r\n", 250, "", "mx.test Hello [127.0.0.1]\nPIPELINING\nSTARTTLS", 3, nil},
		{"bare code", "250\r\n", 250, "", "", 1, nil},
		{"missing SP", "250ok\r\n", 250, "", "ok", 1, nil},
		{"multi then bare code", "250-a\r\n250\r\n", 250, "", "a\n", 2, nil},
		{"enhanced class mismatch not stripped", "550 4.7.1 odd\r\n", 550, "", "4.7.1 odd", 1, nil},
		{"enhanced only", "250 2.0.0\r\n", 250, "2.0.0", "", 1, nil},
		{"version-like text is not enhanced", "250 2.0.0.1 x\r\n", 250, "", "2.0.0.1 x", 1, nil},
		{"control chars cleaned", "554 bad\x1b[2Jtext\r\n", 554, "", "bad[2Jtext", 1, nil},
		{"mixed codes", "250-a\r\n550 b\r\n", 0, "", "", 2, ErrReplySyntax},
		{"garbage", "hello world\r\n", 0, "", "", 1, ErrReplySyntax},
		{"code 600", "600 x\r\n", 0, "", "", 1, ErrReplySyntax},
		{"empty line", "\r\n", 0, "", "", 1, ErrReplySyntax},
		{"EOF", "", 0, "", "", 0, io.EOF},
		{"EOF mid reply", "250-a\r\n", 0, "", "", 1, io.ErrUnexpectedEOF},
		{"EOF mid line", "250 no newline", 0, "", "", 1, io.ErrUnexpectedEOF},
		{"overlong line", "220 " + strings.Repeat("x", MaxLineLen) + "\r\n", 0, "", "", 0, ErrReplySyntax},
		{"line at cap", "220 " + strings.Repeat("x", MaxLineLen-6) + "\r\n", 220, "", strings.Repeat("x", MaxLineLen-6), 1, nil},
		{"too many lines", strings.Repeat("250-x\r\n", MaxReplyLines+5) + "250 x\r\n", 0, "", "", MaxReplyLines, ErrReplySyntax},
		{"exactly max lines", strings.Repeat("250-x\r\n", MaxReplyLines-1) + "250 x\r\n", 250, "", strings.TrimSuffix(strings.Repeat("x\n", MaxReplyLines), "\n"), MaxReplyLines, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, lines, err := ReadReply(bufio.NewReader(strings.NewReader(tc.in)))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(lines) != tc.nlines {
				t.Errorf("got %d raw lines, want %d", len(lines), tc.nlines)
			}
			if tc.wantErr != nil {
				return
			}
			if rep.Code != tc.code || rep.Enhanced != tc.enh || rep.Text != tc.text {
				t.Errorf("got %d %q %q, want %d %q %q", rep.Code, rep.Enhanced, rep.Text, tc.code, tc.enh, tc.text)
			}
		})
	}
}

// An endless line is cut after MaxLineLen without reading the rest.
func TestReadReplyEndlessLineBounded(t *testing.T) {
	cr := &countingReader{}
	_, _, err := ReadReply(bufio.NewReader(cr))
	if !errors.Is(err, ErrReplySyntax) {
		t.Fatalf("err = %v", err)
	}
	if cr.n > 2*MaxLineLen {
		t.Errorf("read %d bytes for a line capped at %d", cr.n, MaxLineLen)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	if c.n == 0 {
		copy(p, "220 ")
	}
	c.n += len(p)
	return len(p), nil
}

// Two replies in a row are read one at a time.
func TestReadReplySequence(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("220 hi\r\n250-a\r\n250 b\r\n"))
	for _, want := range []int{220, 250} {
		rep, _, err := ReadReply(r)
		if err != nil || rep.Code != want {
			t.Fatalf("got %d, %v; want %d", rep.Code, err, want)
		}
	}
	if _, _, err := ReadReply(r); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 OK\r\n", "250-a\r\n250 b\r\n", "550-5.7.1 x\r\n550 5.7.1 y\r\n", "250\r\n", "250ok\n", "\x00\xff", "250-a\r\n550 b\r\n", "421 4.7.0 bye\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, lines, err := ReadReply(bufio.NewReader(strings.NewReader(string(in))))
		if len(lines) > MaxReplyLines {
			t.Fatalf("%d lines", len(lines))
		}
		if err != nil {
			return
		}
		if rep.Code < 200 || rep.Code > 559 {
			t.Fatalf("code %d accepted", rep.Code)
		}
		if rep.Enhanced != "" && int(rep.Enhanced[0]-'0') != rep.Code/100 {
			t.Fatalf("enhanced %q with code %d", rep.Enhanced, rep.Code)
		}
		if strings.ContainsAny(rep.Text, "\r\x00\x1b") {
			t.Fatalf("control characters left in %q", rep.Text)
		}
		Classify(StageRcpt, rep)
	})
}
