package smtpcheck

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/blprobe/blprobe/internal/logctx"
	"github.com/blprobe/blprobe/internal/textsafe"
)

// maxTranscript caps the transcript entries of one probe.
const maxTranscript = 300

// session is one SMTP conversation.
type session struct {
	ctx  context.Context
	opts Options
	p    *Probe
	// raw is the TCP connection as dialled; conn is raw or, after
	// STARTTLS, the TLS connection over it. Only raw is closed, from this
	// goroutine or on cancellation (mox's smtpclient keeps its origConn for
	// the same reason: conn changes while a cancellation may close it).
	raw   net.Conn
	conn  net.Conn
	r     *bufio.Reader
	start time.Time
	// decided is set once the server answered the stage that decides the
	// probe (RCPT, or a 4xx/5xx that ended it earlier): later failures
	// only set ClosedByServer.
	decided bool
	// plainRetry skips STARTTLS: this is the plain-text retry after a
	// failed handshake in opportunistic mode.
	plainRetry bool
	// tlsHandshakeErr is the failed STARTTLS handshake, if any.
	tlsHandshakeErr string
}

func (s *session) ms(since time.Time) float64 {
	return float64(time.Since(since).Microseconds()) / 1000
}

// log records one line on the wire: dir is "S" (server) or "C" (client).
// Local events (connect, TLS, timeouts) are not transcript lines: they are in
// the probe's Error, TLS and Timings fields.
func (s *session) log(dir, line string) {
	logctx.From(s.ctx).Debug("smtp", "dir", dir, "line", capLine(line))
	if len(s.p.Transcript) >= maxTranscript {
		s.p.TranscriptTruncated = true
		return
	}
	s.p.Transcript = append(s.p.Transcript, Line{Dir: dir, TMs: s.ms(s.start), Line: capLine(line)})
}

// ProbeAddress holds one RCPT-stage conversation with ip (an address of
// mxHost, an MX of domain) and returns what happened. It never sends DATA,
// and it closes the connection before returning.
func ProbeAddress(ctx context.Context, mxHost string, ip netip.Addr, domain string, opts Options) Probe {
	opts = opts.withDefaults()
	ip = ip.Unmap()
	ctx = logctx.Unit(ctx, "mx", mxHost, "addr", netip.AddrPortFrom(ip, uint16(opts.Port)).String()) // one logger per MX address
	p := pendingProbe(ip, opts.Port)
	s := &session{ctx: ctx, opts: opts, p: &p, start: time.Now()}
	if ctx.Err() != nil {
		return p
	}
	p.Status, p.Class = StatusError, ClassProtocolError // until known otherwise
	s.run(mxHost, ip, domain)
	if s.tlsHandshakeErr != "" && opts.TLS == TLSOpportunistic && !interrupted(ctx) {
		// A sending MTA with opportunistic TLS retries with TLS disabled
		// when the handshake fails ("rather than give up on mail delivery",
		// https://www.postfix.org/TLS_README.html#client_tls_may): get the
		// RCPT answer that way.
		retryPlain(ctx, &p, s, mxHost, ip, domain)
	}
	if interrupted(ctx) && p.Status == StatusError {
		// Interrupted, not a verdict on the server.
		p.Status, p.Class = StatusNotDone, ClassNotDone
		if p.Error == "" {
			p.Error = "interrupted"
		}
	}
	p.TimingsMs["total"] = s.ms(s.start)
	logctx.From(ctx).Debug("smtp probe done", "status", p.Status, "class", p.Class, "stage", p.Stage, "source", p.SourceIP, "echoed", p.EchoedClientIP, "error", p.Error)
	return p
}

// retryPlain runs the conversation again without STARTTLS on a new
// connection, keeping the transcript of the first one and saying why.
func retryPlain(ctx context.Context, p *Probe, first *session, mxHost string, ip netip.Addr, domain string) {
	p.Status, p.Class, p.Error, p.Reply, p.CitedList, p.ClosedByServer = StatusError, ClassProtocolError, "", nil, "", false
	p.Rcpts = nil
	s := &session{ctx: ctx, opts: first.opts, p: p, start: first.start, plainRetry: true}
	s.run(mxHost, ip, domain)
	p.StartTLS = textsafe.Clean(fmt.Sprintf("%s%s; retried in plain text on a new connection, as a sending MTA with opportunistic TLS does", StartTLSHandshakeFailed, first.tlsHandshakeErr))
}

// StartTLSHandshakeFailed begins Probe.StartTLS when the STARTTLS handshake
// failed and the probe was retried in plain text (opportunistic mode).
const StartTLSHandshakeFailed = "handshake failed: "

func (s *session) run(mxHost string, ip netip.Addr, domain string) {
	p, o := s.p, s.opts
	target := netip.AddrPortFrom(ip, uint16(o.Port)).String()
	from := o.From
	if from == "" {
		from = DefaultFrom(o.HELO)
	}
	rcpts := RcptsFor(domain, o.Rcpts)
	words := append([]string{o.HELO}, o.Rcpts...)
	if from != NullReversePath {
		words = append(words, from)
	}
	for _, a := range words {
		if strings.ContainsAny(a, "\r\n\x00<>") {
			p.Error = fmt.Sprintf("refusing to send %q to %s: it contains CR, LF, NUL or angle brackets", a, target)
			return
		}
	}

	// Connect.
	p.Stage = StageConnect
	if err := s.dial(ip, target); err != nil {
		return
	}
	raw := s.raw
	defer raw.Close()
	stop := context.AfterFunc(s.ctx, func() { raw.Close() })
	defer stop()
	s.r = bufio.NewReaderSize(s.conn, 1024)
	local, _ := netip.ParseAddrPort(s.conn.LocalAddr().String())
	if local.IsValid() {
		p.SourceIP = local.Addr().Unmap().String()
	}
	helo := o.HELO
	if helo == "" {
		helo = addressLiteral(local.Addr())
	}

	// Banner: never send anything before it (postscreen punishes early talkers).
	p.Stage = StageBanner
	t := time.Now()
	rep, ok := s.read(target)
	p.TimingsMs["banner"] = s.ms(t)
	if !ok {
		return
	}
	s.echo(rep.Text)
	if !s.positive(rep, "banner") {
		return
	}

	// EHLO, HELO if EHLO is refused with 5xx.
	p.Stage = StageEHLO
	t = time.Now()
	rep, ok = s.cmd(target, "EHLO "+helo)
	if !ok {
		return
	}
	if rep.Code/100 == 5 {
		rep, ok = s.cmd(target, "HELO "+helo)
		if !ok {
			return
		}
		p.Extensions = []string{}
	} else if rep.Code/100 == 2 {
		p.Extensions = extensions(rep)
	}
	p.TimingsMs["ehlo"] = s.ms(t)
	s.echo(rep.Text)
	if !s.positive(rep, "EHLO") {
		return
	}

	// STARTTLS (RFC 3207).
	switch {
	case s.plainRetry:
		// The first connection's handshake failed: no STARTTLS this time.
	case o.TLS == TLSOff:
		p.StartTLS = "disabled"
	case !hasExt(p.Extensions, "STARTTLS"):
		p.StartTLS = "not offered"
		if o.TLS == TLSRequired {
			p.Stage = StageSTARTTLS
			p.Status, p.Class = StatusError, ClassTLSFailed
			p.Error = fmt.Sprintf("TLS required but %s does not offer STARTTLS", target)
			s.quit()
			return
		}
	case !s.startTLS(mxHost, target, helo):
		return
	}

	// MAIL FROM.
	p.Stage = StageMail
	t = time.Now()
	mailArg := "<" + from + ">"
	if from == NullReversePath {
		mailArg = NullReversePath
	}
	rep, ok = s.cmd(target, "MAIL FROM:"+mailArg)
	p.TimingsMs["mail"] = s.ms(t)
	if !ok {
		return
	}
	s.echo(rep.Text)
	if !s.positive(rep, "MAIL FROM") {
		return
	}

	// RCPT TO, one per recipient. The decisive reply is the first
	// rejection or tempfail, else the last acceptance.
	p.Stage = StageRcpt
	t = time.Now()
	refused := false // a rejection or tempfail was seen
	for ri, rc := range rcpts {
		wasDecided := s.decided
		rep, ok = s.cmd(target, "RCPT TO:<"+rc+">")
		if !ok {
			switch {
			case !wasDecided && s.decided: // 421 before any refusal: read made it the verdict
				p.Rcpts = append(p.Rcpts, RcptResult{Rcpt: rc, Reply: *p.Reply, Class: p.Class})
			case rep.Code == 421:
				// 421 after a refusal (RFC 5321 §3.8): this recipient's
				// tempfail, recorded; the refusal stays the verdict. It is a
				// reply, not an unannounced close.
				s.echo(rep.Text)
				v := ClassifyCause(StageRcpt, rep, hasExt(p.Extensions, "ENHANCEDSTATUSCODES"))
				p.Rcpts = append(p.Rcpts, RcptResult{Rcpt: rc, Reply: rep, Class: v.Class})
				p.ClosedByServer = false
			case !s.decided:
				// No reply to this RCPT after earlier acceptances: fail
				// recorded the error; the acceptances stay in Rcpts but
				// are no verdict.
				p.Reply, p.CitedList, p.Cause, p.CauseWhy = nil, "", "", ""
			}
			p.TimingsMs["rcpt"] = s.ms(t)
			return
		}
		s.echo(rep.Text)
		v := ClassifyCause(StageRcpt, rep, hasExt(p.Extensions, "ENHANCEDSTATUSCODES"))
		p.Rcpts = append(p.Rcpts, RcptResult{Rcpt: rc, Reply: rep, Class: v.Class})
		if !refused {
			r := rep
			p.Reply, p.Status, p.Class, p.CitedList = &r, v.Status, v.Class, v.CitedList
			p.Cause, p.CauseWhy = v.Cause, v.Why
			refused = v.Status != StatusAccepted
		}
		// Decided by the first refusal, or by the last RCPT's reply: an
		// acceptance followed by no reply to the next RCPT is not a verdict
		// on every recipient asked for.
		s.decided = refused || ri == len(rcpts)-1
	}
	p.TimingsMs["rcpt"] = s.ms(t)
	if s.after("RSET") {
		s.after("QUIT")
	}
}

// dial connects to target, binding SourceIP, within ConnectTimeout.
func (s *session) dial(ip netip.Addr, target string) error {
	p, o := s.p, s.opts
	network := "tcp4"
	if ip.Is6() {
		network = "tcp6"
	}
	dctx, cancel := context.WithTimeout(s.ctx, o.ConnectTimeout)
	defer cancel()
	t := time.Now()
	var (
		conn net.Conn
		err  error
	)
	if o.DialContext != nil {
		conn, err = o.DialContext(dctx, network, target)
	} else {
		d := net.Dialer{}
		if o.SourceIP.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: o.SourceIP.Unmap().AsSlice()}
		}
		conn, err = d.DialContext(dctx, network, target)
	}
	p.TimingsMs["connect"] = s.ms(t)
	logctx.From(s.ctx).Debug("smtp connect", "target", target, "source", o.SourceIP, "ms", p.TimingsMs["connect"], "error", err)
	if err != nil {
		if interrupted(s.ctx) {
			p.Status, p.Class = StatusNotDone, ClassNotDone
			p.Error = "interrupted while connecting to " + target
			return err
		}
		p.Status = StatusError
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			p.Class = ClassConnectRefused
			p.Error = fmt.Sprintf("connection to %s refused", target)
		case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
			p.Class = ClassUnreachable
			p.Error = fmt.Sprintf("%s is unreachable: %v", target, err)
		case isTimeout(err):
			p.Class = ClassConnectTimeout
			p.Error = fmt.Sprintf("connection to %s timed out after %s", target, o.ConnectTimeout)
		default:
			p.Class = ClassUnreachable
			p.Error = fmt.Sprintf("cannot connect to %s: %v", target, err)
		}
		return err
	}
	s.raw, s.conn = conn, conn
	return nil
}

// interrupted reports whether ctx is done or its deadline has passed: the
// dialer and the TLS handshake time out on the context's deadline on their
// own, a moment before ctx.Err is set.
func interrupted(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// send writes one command line within CommandTimeout.
func (s *session) send(target, line string) bool {
	s.conn.SetDeadline(time.Now().Add(s.opts.CommandTimeout))
	s.log("C", line)
	if _, err := s.conn.Write([]byte(line + "\r\n")); err != nil {
		s.fail(fmt.Errorf("sending %s to %s: %w", verb(line), target, err))
		return false
	}
	return true
}

func verb(line string) string {
	if i := strings.IndexAny(line, " :"); i > 0 {
		return line[:i]
	}
	return line
}

// read reads one reply with a deadline for the whole reply. A 421 ends the
// session as tempfail. On failure the probe is filled in and false returned.
func (s *session) read(target string) (Reply, bool) {
	s.conn.SetReadDeadline(time.Now().Add(s.opts.CommandTimeout))
	rep, lines, err := ReadReply(s.r)
	for _, l := range lines {
		s.log("S", l)
	}
	if err != nil {
		s.fail(fmt.Errorf("reading the %s reply from %s: %w", s.p.Stage, target, err))
		return Reply{}, false
	}
	if rep.Code == 421 {
		// RFC 5321 §3.8: 421 may come at any time and closes the session.
		if s.decided {
			s.p.ClosedByServer = true
			return rep, false
		}
		s.decided = true
		s.setVerdict(rep)
		s.p.Reply = &rep
		s.echo(rep.Text)
		return rep, false
	}
	return rep, true
}

// after sends line (RSET or QUIT) once the probe's outcome is known and
// reads its reply. A failure there (write or read error, reset, timeout)
// never changes the outcome: the transcript shows the unanswered command
// and ClosedByServer is set.
func (s *session) after(line string) bool {
	s.conn.SetDeadline(time.Now().Add(s.opts.CommandTimeout))
	s.log("C", line)
	_, err := s.conn.Write([]byte(line + "\r\n"))
	if err == nil {
		var lines []string
		_, lines, err = ReadReply(s.r)
		for _, l := range lines {
			s.log("S", l)
		}
	}
	if err != nil && s.ctx.Err() == nil {
		s.p.ClosedByServer = true
	}
	return err == nil
}

// cmd sends line and reads its reply.
func (s *session) cmd(target, line string) (Reply, bool) {
	if !s.send(target, line) {
		return Reply{}, false
	}
	return s.read(target)
}

// fail records a protocol-level failure (timeout, EOF, garbage). After the
// deciding reply it only sets ClosedByServer.
func (s *session) fail(err error) {
	if s.decided {
		if s.ctx.Err() == nil {
			s.p.ClosedByServer = true
		}
		return
	}
	s.p.Status, s.p.Class = StatusError, ClassProtocolError
	if interrupted(s.ctx) {
		s.p.Status, s.p.Class = StatusNotDone, ClassNotDone
		err = fmt.Errorf("interrupted: %w", err)
	} else if isTimeout(err) {
		err = fmt.Errorf("%w (no complete reply within %s)", err, s.opts.CommandTimeout)
	}
	s.p.Error = textsafe.Clean(err.Error())
}

// positive checks a reply that must be 2xx to go on; otherwise it records
// the verdict and ends the session politely.
func (s *session) positive(rep Reply, what string) bool {
	if rep.Code/100 == 2 {
		return true
	}
	st := s.setVerdict(rep)
	r := rep
	s.p.Reply = &r
	if st == StatusError {
		s.p.Error = fmt.Sprintf("unexpected reply %d to %s", rep.Code, what)
	} else {
		s.decided = true
	}
	s.quit()
	return false
}

// quit ends a session whose outcome is known.
func (s *session) quit() { s.after("QUIT") }

func (s *session) echo(text string) {
	if s.p.EchoedClientIP == "" {
		s.p.EchoedClientIP = EchoedClientIP(text)
	}
}

// startTLS runs STARTTLS and the second EHLO. It returns false when the
// session ended.
func (s *session) startTLS(mxHost, target, helo string) bool {
	p, o := s.p, s.opts
	p.Stage = StageSTARTTLS
	t := time.Now()
	rep, ok := s.cmd(target, "STARTTLS")
	if !ok {
		return false
	}
	if rep.Code != 220 {
		// 454 (or 5xx): in opportunistic mode go on in plain text, as an
		// MTA would, and record it; in required mode it is a TLS failure.
		if o.TLS == TLSRequired {
			r := rep
			p.Reply, p.Status, p.Class = &r, StatusError, ClassTLSFailed
			p.Error = fmt.Sprintf("TLS required but %s refused STARTTLS with %d", target, rep.Code)
			s.quit()
			return false
		}
		p.StartTLS = fmt.Sprintf("refused (%d): continued in plain text", rep.Code)
		return true
	}
	if s.r.Buffered() > 0 {
		// Plain-text bytes after "220" would be read as if they came
		// through TLS (CVE-2011-0411-style injection): refuse.
		p.Status, p.Class = StatusError, ClassProtocolError
		p.Error = fmt.Sprintf("%s sent data after its 220 reply to STARTTLS", target)
		return false
	}
	sni := mxHost
	if _, err := netip.ParseAddr(sni); err == nil {
		sni = ""
	}
	tc := tls.Client(s.raw, &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // verified below, so that a failure can be recorded
		MinVersion:         tls.VersionTLS10,
	})
	s.conn.SetDeadline(time.Now().Add(o.CommandTimeout))
	hctx, cancel := context.WithTimeout(s.ctx, o.CommandTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	p.TimingsMs["starttls"] = s.ms(t)
	if err != nil {
		p.Status, p.Class = StatusError, ClassTLSFailed
		if interrupted(s.ctx) {
			p.Status, p.Class = StatusNotDone, ClassNotDone
		}
		p.Error = textsafe.Clean(fmt.Sprintf("TLS handshake with %s failed: %v", target, err))
		if p.Status == StatusError {
			s.tlsHandshakeErr = p.Error
		}
		return false
	}
	p.TLS = tlsInfo(tc.ConnectionState(), mxHost, o.RootCAs)
	p.StartTLS = "used"
	if !p.TLS.Verified && o.TLS == TLSRequired {
		p.Status, p.Class = StatusError, ClassTLSFailed
		p.Error = fmt.Sprintf("TLS certificate of %s does not verify for %s: %s", target, mxHost, p.TLS.VerifyError)
		s.conn = tc
		s.r = bufio.NewReaderSize(tc, 1024)
		s.quit()
		return false
	}
	s.conn = tc
	s.r = bufio.NewReaderSize(tc, 1024)

	// RFC 3207 §4.2: forget what was learnt before TLS and EHLO again.
	p.Stage = StageEHLO
	p.Extensions = []string{}
	t = time.Now()
	rep, ok = s.cmd(target, "EHLO "+helo)
	if !ok {
		return false
	}
	p.TimingsMs["ehlo_tls"] = s.ms(t)
	if rep.Code/100 == 2 {
		p.Extensions = extensions(rep)
	}
	return s.positive(rep, "EHLO after STARTTLS")
}

// tlsInfo describes the session and verifies the leaf for host.
func tlsInfo(cs tls.ConnectionState, host string, roots *x509.CertPool) *TLSInfo {
	ti := &TLSInfo{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite)}
	if len(cs.PeerCertificates) == 0 {
		ti.VerifyError = "no certificate"
		return ti
	}
	leaf := cs.PeerCertificates[0]
	ti.Subject = textsafe.Clean(leaf.Subject.String())
	ti.Issuer = textsafe.Clean(leaf.Issuer.String())
	ti.NotAfter = leaf.NotAfter.UTC()
	for i, n := range leaf.DNSNames {
		if i >= 100 {
			break
		}
		ti.Names = append(ti.Names, textsafe.Clean(n))
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	if err != nil {
		ti.VerifyError = textsafe.Clean(err.Error())
	} else {
		ti.Verified = true
	}
	return ti
}

// extensions returns the EHLO keywords (every line but the first, first word).
func extensions(rep Reply) []string {
	out := []string{}
	lines := strings.Split(rep.Text, "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		kw := strings.ToUpper(f[0])
		if len(f) > 1 {
			kw += " " + strings.Join(f[1:], " ")
		}
		out = append(out, shorten(kw, 200))
	}
	return out
}

func hasExt(exts []string, kw string) bool {
	for _, e := range exts {
		if e == kw || strings.HasPrefix(e, kw+" ") {
			return true
		}
	}
	return false
}

// addressLiteral is the EHLO address literal of a (RFC 5321 §4.1.3).
func addressLiteral(a netip.Addr) string {
	if !a.IsValid() {
		return "[127.0.0.1]"
	}
	a = a.Unmap()
	if a.Is4() {
		return "[" + a.String() + "]"
	}
	return "[IPv6:" + a.WithZone("").String() + "]"
}
