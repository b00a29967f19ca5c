package smtptest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// recTB records Errorf calls instead of failing the test.
type recTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, format)
	r.mu.Unlock()
}
func (r *recTB) Helper() {}

func talk(t *testing.T, addr string, lines ...string) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	var got []string
	read := func() {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			got = append(got, strings.TrimRight(l, "\r\n"))
			if len(l) < 4 || l[3] == ' ' {
				return
			}
		}
	}
	read()
	for _, l := range lines {
		c.Write([]byte(l + "\r\n"))
		read()
	}
	return got
}

// The server flags DATA and anything but RCPT/RSET/QUIT/NOOP after RCPT.
func TestForbiddenCommandsFail(t *testing.T) {
	tests := []struct {
		name  string
		cmds  []string
		nerrs int
	}{
		{"clean", []string{"EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "RCPT TO:<e@f>", "NOOP", "RSET", "QUIT"}, 0},
		{"DATA", []string{"EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", "QUIT"}, 1},
		{"MAIL after RCPT", []string{"EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "MAIL FROM:<a@b>", "QUIT"}, 1},
		{"VRFY after RCPT", []string{"EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "VRFY x", "QUIT"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := &recTB{TB: t}
			s := Start(rt, Config{})
			talk(t, s.Addr, tc.cmds...)
			s.Close()
			if len(rt.errs) != tc.nerrs {
				t.Errorf("%d errors %q, want %d", len(rt.errs), rt.errs, tc.nerrs)
			}
			if got := len(s.Conns()[0].Commands); got != len(tc.cmds) {
				t.Errorf("recorded %d commands", got)
			}
		})
	}
}

func TestPipeliningAndEarlyTalkerFail(t *testing.T) {
	rt := &recTB{TB: t}
	s := Start(rt, Config{BannerDelay: 50 * time.Millisecond})
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("EHLO x\r\nMAIL FROM:<a@b>\r\n")) // before the banner, pipelined
	time.Sleep(150 * time.Millisecond)
	c.Close()
	s.Close()
	if len(rt.errs) != 2 {
		t.Errorf("errors %q, want early talker and pipelining", rt.errs)
	}
}

func TestScriptedReplies(t *testing.T) {
	s := Start(t, Config{Banner: "220-first\n220 second", Rcpt: "450 4.2.0 Greylisted", Replies: map[string]string{"MAIL": "250 custom"}})
	got := talk(t, s.Addr, "EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "QUIT")
	want := "220-first|220 second|250-mx.test Hello [127.0.0.1]|250-PIPELINING|250-SIZE 10240000|250 8BITMIME|250 custom|450 4.2.0 Greylisted|221 2.0.0 Bye"
	if strings.Join(got, "|") != want {
		t.Errorf("got %q", strings.Join(got, "|"))
	}
	if s.CertPool() == nil {
		t.Error("no cert pool")
	}
}

// ResetAfter sends the reply to its verb, then a TCP RST: the client reads
// the reply, and its next read fails with "connection reset by peer" (a
// graceful close would read as EOF).
func TestResetAfter(t *testing.T) {
	for _, verb := range []string{"RCPT", "MAIL"} {
		t.Run(verb, func(t *testing.T) {
			s := Start(t, Config{ResetAfter: verb, Rcpt: "554 5.7.1 blocked", Mail: "250 2.1.0 Ok"})
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			r := bufio.NewReader(c)
			readReply := func() (string, error) {
				var last string
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return last, err
					}
					last = strings.TrimRight(l, "\r\n")
					if len(l) < 4 || l[3] == ' ' {
						return last, nil
					}
				}
			}
			if _, err := readReply(); err != nil {
				t.Fatal(err)
			}
			var last string
			for _, cmd := range []string{"EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>"} {
				c.Write([]byte(cmd + "\r\n"))
				if last, err = readReply(); err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				if strings.HasPrefix(cmd, verb) {
					break
				}
			}
			if want := map[string]string{"RCPT": "554 5.7.1 blocked", "MAIL": "250 2.1.0 Ok"}[verb]; last != want {
				t.Errorf("reply %q, want %q", last, want)
			}
			_, err = readReply()
			if err == nil || !strings.Contains(err.Error(), "reset") {
				t.Errorf("after the reset: %v, want connection reset", err)
			}
		})
	}
}
