package smtpcheck

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/smtptest"
)

var lo = netip.MustParseAddr("127.0.0.1")

func testOpts(port int) Options {
	return Options{Port: port, ConnectTimeout: 2 * time.Second, CommandTimeout: 400 * time.Millisecond}
}

func verbs(cmds []string) string {
	var out []string
	for _, c := range cmds {
		v := c
		if i := strings.IndexAny(v, " :"); i > 0 {
			v = v[:i]
		}
		out = append(out, strings.ToUpper(v))
	}
	return strings.Join(out, ",")
}

func TestProbeScripted(t *testing.T) {
	const s3150 = "550 5.7.1 Unfortunately, messages from [127.0.0.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
	tests := []struct {
		name   string
		cfg    smtptest.Config
		mxHost string
		mod    func(*Options, *smtptest.Server)
		status Status
		class  Class
		stage  Stage
		cited  string
		verbs  string // commands the server saw
		conns  int    // connections the server saw; 0 means 1
		check  func(t *testing.T, p Probe, s *smtptest.Server)
	}{
		{name: "accepted", status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RSET,QUIT",
			check: func(t *testing.T, p Probe, s *smtptest.Server) {
				if p.EchoedClientIP != "127.0.0.1" || p.SourceIP != "127.0.0.1" {
					t.Errorf("echoed %q source %q", p.EchoedClientIP, p.SourceIP)
				}
				if !hasExt(p.Extensions, "PIPELINING") || !hasExt(p.Extensions, "SIZE") {
					t.Errorf("extensions %v", p.Extensions)
				}
				cmds := s.Conns()[0].Commands
				if cmds[0] != "EHLO [127.0.0.1]" || cmds[1] != "MAIL FROM:<>" || cmds[2] != "RCPT TO:<postmaster@example.test>" {
					t.Errorf("commands %q", cmds)
				}
				if p.Reply == nil || p.Reply.Code != 250 || len(p.Rcpts) != 1 {
					t.Errorf("reply %+v rcpts %+v", p.Reply, p.Rcpts)
				}
				for _, k := range []string{"connect", "banner", "ehlo", "mail", "rcpt", "total"} {
					if _, ok := p.TimingsMs[k]; !ok {
						t.Errorf("no timing %q in %v", k, p.TimingsMs)
					}
				}
				if len(p.Transcript) < 10 || p.Transcript[0].Dir != "S" || p.Transcript[1].Dir != "C" {
					t.Errorf("transcript %+v", p.Transcript)
				}
			}},
		{name: "554 banner (GMX)", cfg: smtptest.Config{Banner: "554-gmx.net (mxgmx117) Nemesis ESMTP Service not available\n554-No SMTP service\n554-IP address is block listed.\n554 For explanation visit http://postmaster.gmx.net/en/case?c=r0601&i=ip&v=127.0.0.1&r=1"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageBanner, verbs: "QUIT"},
		{name: "421 banner", cfg: smtptest.Config{Banner: "421 4.3.2 Service not available, closing transmission channel"},
			status: StatusTempfail, class: ClassTempfail, stage: StageBanner, verbs: ""},
		{name: "EHLO refused, HELO", cfg: smtptest.Config{Replies: map[string]string{"EHLO": "502 5.5.2 Error: command not recognized"}},
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,HELO,MAIL,RCPT,RSET,QUIT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if len(p.Extensions) != 0 {
					t.Errorf("extensions after HELO: %v", p.Extensions)
				}
			}},
		{name: "HELO refused too", cfg: smtptest.Config{Replies: map[string]string{"EHLO": "502 no", "HELO": "504 5.5.2 <[127.0.0.1]>: Helo command rejected: need fully-qualified hostname"}},
			status: StatusRejected, class: ClassPolicy, stage: StageEHLO, verbs: "EHLO,HELO,QUIT"},
		{name: "STARTTLS verified", cfg: smtptest.Config{StartTLS: true}, mxHost: "mx.test",
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,STARTTLS,EHLO,MAIL,RCPT,RSET,QUIT",
			check: func(t *testing.T, p Probe, s *smtptest.Server) {
				if p.TLS == nil || !p.TLS.Verified || p.TLS.Version == "" || p.TLS.Cipher == "" || p.StartTLS != "used" {
					t.Fatalf("TLS %+v starttls %q", p.TLS, p.StartTLS)
				}
				if !strings.Contains(p.TLS.Subject, "mx.test") || len(p.TLS.Names) != 2 || p.TLS.NotAfter.IsZero() {
					t.Errorf("cert details %+v", p.TLS)
				}
				if hasExt(p.Extensions, "STARTTLS") {
					t.Errorf("capabilities from before TLS kept: %v", p.Extensions)
				}
				if !s.Conns()[0].TLS {
					t.Errorf("server did not see TLS")
				}
			}},
		{name: "STARTTLS wrong name, opportunistic", cfg: smtptest.Config{StartTLS: true}, mxHost: "other.example",
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,STARTTLS,EHLO,MAIL,RCPT,RSET,QUIT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if p.TLS == nil || p.TLS.Verified || !strings.Contains(p.TLS.VerifyError, "other.example") {
					t.Errorf("TLS %+v", p.TLS)
				}
			}},
		{name: "STARTTLS untrusted, required", cfg: smtptest.Config{StartTLS: true}, mxHost: "mx.test",
			mod:    func(o *Options, _ *smtptest.Server) { o.TLS = TLSRequired; o.RootCAs = nil },
			status: StatusError, class: ClassTLSFailed, stage: StageSTARTTLS, verbs: "EHLO,STARTTLS,QUIT"},
		{name: "STARTTLS verified, required", cfg: smtptest.Config{StartTLS: true}, mxHost: "mx.test",
			mod:    func(o *Options, _ *smtptest.Server) { o.TLS = TLSRequired },
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,STARTTLS,EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "STARTTLS junk instead of a handshake, required", cfg: smtptest.Config{StartTLS: true, StartTLSJunk: true}, mxHost: "mx.test",
			mod:    func(o *Options, _ *smtptest.Server) { o.TLS = TLSRequired },
			status: StatusError, class: ClassTLSFailed, stage: StageSTARTTLS, verbs: "EHLO,STARTTLS",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if !strings.Contains(p.Error, "TLS handshake") || strings.ContainsAny(p.Error, "\x1b\x00") {
					t.Errorf("error %q", p.Error)
				}
			}},
		// Opportunistic: like a sending MTA, retry in plain text on a new
		// connection and keep the RCPT answer; the failure is in starttls.
		{name: "STARTTLS junk, opportunistic: plain-text retry", cfg: smtptest.Config{StartTLS: true, StartTLSJunk: true,
			Rcpt: "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"}, mxHost: "mx.test",
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, cited: "zen.spamhaus.org", verbs: "EHLO,STARTTLS", conns: 2,
			check: func(t *testing.T, p Probe, s *smtptest.Server) {
				if got := verbs(s.Conns()[1].Commands); got != "EHLO,MAIL,RCPT,RSET,QUIT" {
					t.Errorf("retry saw %q", got)
				}
				if !strings.HasPrefix(p.StartTLS, StartTLSHandshakeFailed) || !strings.Contains(p.StartTLS, "retried in plain text") ||
					strings.ContainsAny(p.StartTLS, "\x1b\x00") || p.TLS != nil || p.Error != "" {
					t.Errorf("starttls %q tls %+v error %q", p.StartTLS, p.TLS, p.Error)
				}
				if n := strings.Count(verbs(transcriptClient(p)), "EHLO"); n != 2 {
					t.Errorf("transcript has %d EHLO, want both connections", n)
				}
			}},
		{name: "STARTTLS 454, opportunistic", cfg: smtptest.Config{StartTLS: true, StartTLSReply: "454 4.7.0 TLS not available due to local problem"},
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,STARTTLS,MAIL,RCPT,RSET,QUIT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if p.TLS != nil || !strings.Contains(p.StartTLS, "454") {
					t.Errorf("TLS %+v starttls %q", p.TLS, p.StartTLS)
				}
			}},
		{name: "STARTTLS 454, required", cfg: smtptest.Config{StartTLS: true, StartTLSReply: "454 4.7.0 TLS not available"},
			mod:    func(o *Options, _ *smtptest.Server) { o.TLS = TLSRequired },
			status: StatusError, class: ClassTLSFailed, stage: StageSTARTTLS, verbs: "EHLO,STARTTLS,QUIT"},
		{name: "no STARTTLS, required", mod: func(o *Options, _ *smtptest.Server) { o.TLS = TLSRequired },
			status: StatusError, class: ClassTLSFailed, stage: StageSTARTTLS, verbs: "EHLO,QUIT"},
		{name: "TLS off", cfg: smtptest.Config{StartTLS: true}, mod: func(o *Options, _ *smtptest.Server) { o.TLS = TLSOff },
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "MAIL S3150", cfg: smtptest.Config{Mail: s3150},
			status: StatusRejected, class: ClassBlocklisted, stage: StageMail, cited: "Microsoft block list (S3150)", verbs: "EHLO,MAIL,QUIT"},
		{name: "RCPT Spamhaus", cfg: smtptest.Config{Rcpt: "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, cited: "zen.spamhaus.org", verbs: "EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "RCPT greylisted", cfg: smtptest.Config{Rcpt: "450 4.2.0 <postmaster@example.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html"},
			status: StatusTempfail, class: ClassGreylisted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "RCPT Microsoft 5.7.606", cfg: smtptest.Config{Rcpt: "550 5.7.606 Access denied, banned sending IP [127.0.0.1]. To request removal from this list please visit https://sender.office.com/"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, cited: "Microsoft banned sending IP (5.7.606)", verbs: "EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "421 at MAIL", cfg: smtptest.Config{Mail: "421 4.7.0 mx.test Error: too many errors"},
			status: StatusTempfail, class: ClassTempfail, stage: StageMail, verbs: "EHLO,MAIL"},
		{name: "421 at RCPT (Gmail)", cfg: smtptest.Config{Rcpt: "421-4.7.0 [127.0.0.1] Our system has detected that this message is\n421 4.7.0 suspicious due to the very low reputation of the sending IP address. - gsmtp"},
			status: StatusTempfail, class: ClassBlocklisted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if len(p.Rcpts) != 1 || p.Rcpts[0].Reply.Code != 421 {
					t.Errorf("rcpts %+v", p.Rcpts)
				}
			}},
		{name: "several RCPT: first rejection decides",
			cfg: smtptest.Config{RcptFunc: func(a string) string {
				if strings.HasPrefix(a, "nobody@") {
					return "550 5.1.1 <" + a + ">: Recipient address rejected: User unknown"
				}
				return "250 2.1.5 Ok"
			}},
			mod: func(o *Options, _ *smtptest.Server) {
				o.Rcpts = []string{"a@example.test", "nobody@example.test", "b@example.test"}
			},
			status: StatusRejected, class: ClassUnknownRecipient, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RCPT,RCPT,RSET,QUIT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if len(p.Rcpts) != 3 || p.Rcpts[0].Class != ClassAccepted || p.Rcpts[1].Class != ClassUnknownRecipient || p.Rcpts[2].Class != ClassAccepted {
					t.Errorf("rcpts %+v", p.Rcpts)
				}
				if p.Reply == nil || p.Reply.Enhanced != "5.1.1" {
					t.Errorf("decisive %+v", p.Reply)
				}
			}},
		{name: "several RCPT: a 421 after an acceptance decides",
			cfg: smtptest.Config{RcptFunc: func(a string) string {
				if strings.HasPrefix(a, "b@") {
					return "421 4.7.0 mx.test Error: too many recipients from [127.0.0.1], closing"
				}
				return "250 2.1.5 Ok"
			}},
			mod: func(o *Options, _ *smtptest.Server) {
				o.Rcpts = []string{"a@example.test", "b@example.test", "c@example.test"}
			},
			status: StatusTempfail, class: ClassTempfail, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RCPT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if len(p.Rcpts) != 2 || p.Rcpts[0].Class != ClassAccepted || p.Rcpts[1].Reply.Code != 421 {
					t.Errorf("rcpts %+v", p.Rcpts)
				}
				if p.Reply == nil || p.Reply.Code != 421 || p.ClosedByServer {
					t.Errorf("decisive %+v, closed by server %v", p.Reply, p.ClosedByServer)
				}
			}},
		{name: "several RCPT: reset after the first acceptance is no verdict",
			cfg: smtptest.Config{ResetAfter: "RCPT"},
			mod: func(o *Options, _ *smtptest.Server) {
				o.Rcpts = []string{"a@example.test", "b@example.test"}
			},
			status: StatusError, class: ClassProtocolError, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if len(p.Rcpts) != 1 || p.Rcpts[0].Class != ClassAccepted || !strings.Contains(strings.ToLower(p.Error), "rcpt") || p.Reply != nil {
					t.Errorf("rcpts %+v, error %q", p.Rcpts, p.Error)
				}
			}},
		{name: "several RCPT: reset after a rejection keeps it",
			cfg: smtptest.Config{ResetAfter: "RCPT", Rcpt: "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"},
			mod: func(o *Options, _ *smtptest.Server) {
				o.Rcpts = []string{"a@example.test", "b@example.test"}
			},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, cited: "zen.spamhaus.org", verbs: "EHLO,MAIL,RCPT",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if !p.ClosedByServer {
					t.Error("closed_by_server not set")
				}
			}},
		{name: "custom HELO and FROM", mod: func(o *Options, _ *smtptest.Server) { o.HELO = "mail.example.net"; o.From = "probe@example.net" },
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RSET,QUIT",
			check: func(t *testing.T, _ Probe, s *smtptest.Server) {
				cmds := s.Conns()[0].Commands
				if cmds[0] != "EHLO mail.example.net" || cmds[1] != "MAIL FROM:<probe@example.net>" {
					t.Errorf("commands %q", cmds)
				}
			}},
		{name: "banner delayed: no early talking", cfg: smtptest.Config{BannerDelay: 100 * time.Millisecond},
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "close on connect", cfg: smtptest.Config{Mode: smtptest.CloseOnConnect},
			status: StatusError, class: ClassProtocolError, stage: StageBanner, verbs: ""},
		{name: "silent", cfg: smtptest.Config{Mode: smtptest.Silent},
			status: StatusError, class: ClassProtocolError, stage: StageBanner, verbs: ""},
		{name: "endless line", cfg: smtptest.Config{Mode: smtptest.EndlessLine},
			status: StatusError, class: ClassProtocolError, stage: StageBanner, verbs: ""},
		{name: "endless reply", cfg: smtptest.Config{Mode: smtptest.EndlessReply},
			status: StatusError, class: ClassProtocolError, stage: StageBanner, verbs: ""},
		{name: "drip", cfg: smtptest.Config{Mode: smtptest.Drip, DripInterval: 20 * time.Millisecond},
			status: StatusError, class: ClassProtocolError, stage: StageBanner, verbs: "",
			check: func(t *testing.T, p Probe, _ *smtptest.Server) {
				if !strings.Contains(p.Error, "no complete reply within") {
					t.Errorf("error %q", p.Error)
				}
			}},
		{name: "garbage", cfg: smtptest.Config{Mode: smtptest.Garbage},
			status: StatusError, class: ClassProtocolError, stage: StageBanner, verbs: ""},
		{name: "slow replies within timeout", cfg: smtptest.Config{ReplyDelay: 100 * time.Millisecond},
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, verbs: "EHLO,MAIL,RCPT,RSET,QUIT"},
		{name: "reply slower than CommandTimeout", cfg: smtptest.Config{ReplyDelay: 600 * time.Millisecond},
			status: StatusError, class: ClassProtocolError, stage: StageEHLO, verbs: "EHLO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := smtptest.Start(t, tc.cfg)
			o := testOpts(s.Port)
			o.RootCAs = s.CertPool()
			if tc.mod != nil {
				tc.mod(&o, s)
			}
			host := tc.mxHost
			if host == "" {
				host = "mx.test"
			}
			start := time.Now()
			p := ProbeAddress(context.Background(), host, lo, "example.test", o)
			el := time.Since(start)
			// Worst case: connect + a few replies, each bounded by CommandTimeout.
			if el > 4*time.Second {
				t.Errorf("probe took %s", el)
			}
			if p.Status != tc.status || p.Class != tc.class || p.Stage != tc.stage || p.CitedList != tc.cited {
				t.Errorf("got %s/%s/%s cited %q, want %s/%s/%s cited %q (error %q)", p.Status, p.Class, p.Stage, p.CitedList,
					tc.status, tc.class, tc.stage, tc.cited, p.Error)
			}
			if p.Status == StatusError && p.Error == "" {
				t.Errorf("status error without an error text")
			}
			s.Close() // wait until the server has seen everything
			conns := s.Conns()
			if want := max(tc.conns, 1); len(conns) != want {
				t.Fatalf("%d connections, want %d", len(conns), want)
			}
			if got := verbs(conns[0].Commands); got != tc.verbs {
				t.Errorf("server saw %q, want %q", got, tc.verbs)
			}
			if tc.check != nil {
				tc.check(t, p, s)
			}
			if t.Failed() {
				for _, l := range p.Transcript {
					t.Logf("%s %7.1f %s", l.Dir, l.TMs, l.Line)
				}
			}
		})
	}
}

// transcriptClient returns the client lines of a transcript.
func transcriptClient(p Probe) []string {
	var out []string
	for _, l := range p.Transcript {
		if l.Dir == "C" {
			out = append(out, l.Line)
		}
	}
	return out
}

func TestProbeConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := ProbeAddress(context.Background(), "mx.test", lo, "example.test", testOpts(port))
	if p.Status != StatusError || p.Class != ClassConnectRefused || p.Stage != StageConnect {
		t.Fatalf("got %s/%s/%s %q", p.Status, p.Class, p.Stage, p.Error)
	}
}

// SourceIP binds the connection: the server sees 127.0.0.2, the default
// EHLO is its address literal and MAIL FROM the null reverse-path.
func TestProbeSourceIP(t *testing.T) {
	s := smtptest.Start(t, smtptest.Config{})
	o := testOpts(s.Port)
	o.SourceIP = netip.MustParseAddr("127.0.0.2")
	p := ProbeAddress(context.Background(), "mx.test", lo, "example.test", o)
	if p.Status != StatusAccepted || p.SourceIP != "127.0.0.2" || p.EchoedClientIP != "127.0.0.2" {
		t.Fatalf("got %s source %q echoed %q (%s)", p.Status, p.SourceIP, p.EchoedClientIP, p.Error)
	}
	s.Close()
	c := s.Conns()[0]
	if c.Peer.Addr() != o.SourceIP {
		t.Errorf("server saw peer %s", c.Peer)
	}
	if c.Commands[0] != "EHLO [127.0.0.2]" || c.Commands[1] != "MAIL FROM:<>" {
		t.Errorf("commands %q", c.Commands)
	}
}

func TestProbeIPv6Literal(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	ln.Close()
	s := smtptest.Start(t, smtptest.Config{IP: "::1"})
	p := ProbeAddress(context.Background(), "mx.test", netip.MustParseAddr("::1"), "example.test", testOpts(s.Port))
	if p.Status != StatusAccepted || p.EchoedClientIP != "::1" {
		t.Fatalf("got %s echoed %q (%s)", p.Status, p.EchoedClientIP, p.Error)
	}
	s.Close()
	if c := s.Conns()[0].Commands[0]; c != "EHLO [IPv6:::1]" {
		t.Errorf("EHLO %q", c)
	}
}

// Cancelling the context ends a probe stuck on a silent server at once, as
// not_done.
func TestProbeCancel(t *testing.T) {
	s := smtptest.Start(t, smtptest.Config{Mode: smtptest.Silent})
	o := testOpts(s.Port)
	o.CommandTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	p := ProbeAddress(ctx, "mx.test", lo, "example.test", o)
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancel took %s", el)
	}
	if p.Status != StatusNotDone || p.Class != ClassNotDone {
		t.Errorf("got %s/%s", p.Status, p.Class)
	}
	// Already cancelled: nothing is attempted.
	p = ProbeAddress(ctx, "mx.test", lo, "example.test", o)
	if p.Status != StatusNotDone || len(s.Conns()) != 1 {
		t.Errorf("got %s after cancel, %d connections", p.Status, len(s.Conns()))
	}
}

func TestProbeRefusesInjection(t *testing.T) {
	s := smtptest.Start(t, smtptest.Config{})
	o := testOpts(s.Port)
	o.Rcpts = []string{"a@example.test>\r\nDATA"}
	p := ProbeAddress(context.Background(), "mx.test", lo, "example.test", o)
	if p.Status != StatusError || len(s.Conns()) != 0 {
		t.Fatalf("got %s, %d connections", p.Status, len(s.Conns()))
	}
}

// countConn counts the bytes read from the server.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Against servers that send without end, a probe reads only a few KiB off
// the wire (one capped line or MaxReplyLines short lines, plus the 1 KiB
// read buffer) and gives up well before the command timeout.
func TestProbeEndlessBoundedRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode smtptest.Mode
	}{{"endless line", smtptest.EndlessLine}, {"endless reply", smtptest.EndlessReply}, {"garbage", smtptest.Garbage}} {
		t.Run(tc.name, func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Config{Mode: tc.mode})
			var n atomic.Int64
			o := testOpts(s.Port)
			o.CommandTimeout = 5 * time.Second
			o.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countConn{c, &n}, nil
			}
			start := time.Now()
			p := ProbeAddress(context.Background(), "mx.test", lo, "example.test", o)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("probe took %s: it waited instead of giving up on the bad reply", el)
			}
			if p.Class != ClassProtocolError || p.Stage != StageBanner {
				t.Errorf("probe %s/%s: %s", p.Class, p.Stage, p.Error)
			}
			const limit = 16 << 10
			if got := n.Load(); got > limit {
				t.Errorf("read %d bytes from an endless server, want at most %d", got, limit)
			} else {
				t.Logf("read %d bytes", got)
			}
		})
	}
}

// Once the server answered the stage that decides the probe, a reset, EOF
// or 421 afterwards (at RSET or QUIT, or at a later RCPT) never changes
// status, class or reply: it only sets ClosedByServer. Each case runs many
// times because the client may see the reset at its write or at its read.
func TestProbeDecidedSurvivesReset(t *testing.T) {
	const zen = "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"
	tests := []struct {
		name   string
		cfg    smtptest.Config
		rcpts  []string
		status Status
		class  Class
		stage  Stage
		code   int
		closed bool
	}{
		{name: "554 at RCPT, then reset", cfg: smtptest.Config{Rcpt: zen, ResetAfter: "RCPT"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, code: 554, closed: true},
		{name: "250 at RCPT, then reset", cfg: smtptest.Config{ResetAfter: "RCPT"},
			status: StatusAccepted, class: ClassAccepted, stage: StageRcpt, code: 250, closed: true},
		{name: "554 at RCPT, reset after RSET", cfg: smtptest.Config{Rcpt: zen, ResetAfter: "RSET"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, code: 554, closed: true},
		{name: "554 at RCPT, 421 to RSET", cfg: smtptest.Config{Rcpt: zen, Replies: map[string]string{"RSET": "421 4.3.2 closing"}},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, code: 554, closed: true},
		{name: "554 at MAIL, then reset", cfg: smtptest.Config{Mail: zen, ResetAfter: "MAIL"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageMail, code: 554, closed: true},
		{name: "first RCPT rejected, reset before the second", cfg: smtptest.Config{Rcpt: zen, ResetAfter: "RCPT"},
			rcpts:  []string{"a@example.test", "b@example.test"},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, code: 554, closed: true},
		{name: "no reset: not closed by the server", cfg: smtptest.Config{Rcpt: zen},
			status: StatusRejected, class: ClassBlocklisted, stage: StageRcpt, code: 554},
	}
	runs := 200
	if testing.Short() {
		runs = 20
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := smtptest.Start(t, tc.cfg)
			o := testOpts(s.Port)
			o.Rcpts = tc.rcpts
			for i := 0; i < runs; i++ {
				p := ProbeAddress(context.Background(), "mx.test", lo, "example.test", o)
				if p.Status != tc.status || p.Class != tc.class || p.Stage != tc.stage || p.Reply == nil ||
					p.Reply.Code != tc.code || p.Error != "" || p.ClosedByServer != tc.closed {
					t.Fatalf("run %d: got %s/%s/%s reply %+v error %q closed %v, want %s/%s/%s %d closed %v",
						i, p.Status, p.Class, p.Stage, p.Reply, p.Error, p.ClosedByServer, tc.status, tc.class, tc.stage, tc.code, tc.closed)
				}
			}
		})
	}
}

// Many STARTTLS probes at once, each cancelled at a different moment (before,
// during and after the TLS handshake): under -race this proves that the
// cancellation closes the raw connection without racing with STARTTLS
// replacing the session's connection (closing the session's current conn
// from the cancellation is reported as a DATA RACE here), and every probe
// ends accepted or not_done, never as a spurious error.
func TestProbeSTARTTLSCancelUnderLoad(t *testing.T) {
	s := smtptest.Start(t, smtptest.Config{StartTLS: true, HandshakeDelay: 20 * time.Millisecond, ReplyDelay: 20 * time.Millisecond})
	o := testOpts(s.Port)
	o.RootCAs = s.CertPool()
	o.CommandTimeout = 10 * time.Second
	const n = 50
	type outcome struct {
		p   Probe
		dur time.Duration
	}
	// run starts n probes at once; cancelAt(i) > 0 cancels probe i then.
	run := func(cancelAt func(i int) time.Duration) []outcome {
		out := make([]outcome, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if d := cancelAt(i); d > 0 {
					ctx, cancel = context.WithTimeout(ctx, d)
					defer cancel()
				}
				start := time.Now()
				p := ProbeAddress(ctx, "mx.test", lo, "example.test", o)
				out[i] = outcome{p, time.Since(start)}
			}()
		}
		wg.Wait()
		return out
	}
	// First all n to the end: the time scale of n handshakes at once
	// (much slower under -race).
	var total time.Duration
	for i, r := range run(func(int) time.Duration { return 0 }) {
		if r.p.Status != StatusAccepted || r.p.StartTLS != "used" {
			t.Fatalf("uncancelled probe %d: %s %q: %s", i, r.p.Status, r.p.StartTLS, r.p.Error)
		}
		total = max(total, r.dur)
	}
	// Then every other probe cancelled somewhere in that span: before,
	// during and after the handshake; the others run to the end.
	out := run(func(i int) time.Duration {
		if i%2 == 1 {
			return 0
		}
		return total*time.Duration(i+1)/n + time.Microsecond
	})
	counts := map[string]int{}
	for i, r := range out {
		k := string(r.p.Status) + "@" + string(r.p.Stage)
		if r.p.StartTLS == "used" && r.p.Status == StatusNotDone {
			k += " after TLS"
		}
		counts[k]++
		if r.p.Status != StatusAccepted && (r.p.Status != StatusNotDone || i%2 == 1) {
			t.Errorf("probe %d: %s/%s %q", i, r.p.Status, r.p.Class, r.p.Error)
		}
		if r.dur > 2*total+2*time.Second {
			t.Errorf("probe %d took %s", i, r.dur)
		}
	}
	afterTLS := 0
	for k, v := range counts {
		if strings.HasSuffix(k, "after TLS") {
			afterTLS += v
		}
	}
	if counts["not_done@starttls"] == 0 || afterTLS == 0 || counts["accepted@rcpt"] == 0 {
		t.Errorf("want probes cancelled mid-handshake, after it, and probes that finished: %v", counts)
	}
	t.Logf("%d probes at once took up to %s; outcomes %v", n, total, counts)
}
