// Package smtptest runs a scripted SMTP server on loopback for tests of the
// RCPT-stage probe: banners (including a 554 refusal), EHLO replies, EHLO
// refusal, STARTTLS with an in-process self-signed certificate (or a 454
// refusal), per-command replies, 421 mid-session, a connection reset right
// after a given reply, and hostile behaviours (endless line, endless reply,
// byte-by-byte drip, silence, garbage, close on connect). It records every connection's peer and commands, counts
// concurrent connections, and fails the test if the client sends DATA,
// anything but RCPT/RSET/QUIT/NOOP after RCPT, pipelines commands, or talks
// before the banner.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mode is a connection-level behaviour.
type Mode int

// Modes.
const (
	Normal         Mode = iota // scripted conversation
	CloseOnConnect             // accept and close at once
	Silent                     // accept and never send anything
	EndlessLine                // "220 " followed by an endless line without LF
	EndlessReply               // endless "220-..." continuation lines
	Drip                       // the banner one byte per DripInterval, forever
	Garbage                    // binary garbage instead of a banner
)

// Config scripts the server. Replies are raw reply text: lines separated by
// "\n", each with its code ("250-mx.test\n250 PIPELINING"); CRLF is added.
type Config struct {
	IP           string        // listen address; default 127.0.0.1
	Port         int           // default 0 (any free port)
	Mode         Mode          // connection behaviour; default Normal
	DripInterval time.Duration // for Drip; default 50ms
	BannerDelay  time.Duration // wait before the banner (early-talker check)
	ReplyDelay   time.Duration // wait before every reply after the banner
	Banner       string        // default "220 mx.test ESMTP smtptest"
	// EHLO is the EHLO reply; default "250-mx.test Hello [peer]" with
	// PIPELINING, 8BITMIME and STARTTLS when StartTLS is set.
	EHLO string
	HELO string // default "250 mx.test"
	// StartTLS offers STARTTLS (in the default EHLO reply) and accepts it
	// with 220 unless StartTLSReply says otherwise (e.g. "454 4.7.0 TLS not available").
	StartTLS      bool
	StartTLSReply string
	// StartTLSJunk answers the client's TLS ClientHello (after a 220 to
	// STARTTLS) with plain-text junk instead of a handshake, then closes.
	StartTLSJunk bool
	// HandshakeDelay delays the server's side of the TLS handshake after
	// its 220 to STARTTLS (to cancel a client mid-handshake).
	HandshakeDelay time.Duration
	// CertNames are the DNS names of the self-signed certificate (default
	// "mx.test", "localhost"); 127.0.0.1 and ::1 are always IP SANs.
	CertNames []string
	Mail      string // MAIL reply; default "250 2.1.0 Ok"
	Rcpt      string // RCPT reply; default "250 2.1.5 Ok"
	// RcptFunc, if set, replies to RCPT TO by address (the text inside <>).
	RcptFunc func(addr string) string
	// Replies overrides the reply to a verb ("EHLO", "MAIL", "RSET"…);
	// "" entries are ignored. Any reply with code 421 closes the connection.
	Replies map[string]string
	// ResetAfter names a verb ("RCPT", "RSET"…): right after its reply the
	// server resets the connection (SO_LINGER 0, then close: the client
	// gets a TCP RST), as many MTAs do after a block.
	ResetAfter string
}

// Conn is what the server saw on one connection.
type Conn struct {
	Peer     netip.AddrPort
	Accepted time.Time // when the server accepted the connection
	Commands []string
	TLS      bool // STARTTLS succeeded

	done bool // no longer counted as concurrent
}

// Server is a running scripted SMTP server.
type Server struct {
	Addr string // "ip:port"
	Port int

	t      testing.TB
	cfg    Config
	ln     net.Listener
	tlsCfg *tls.Config
	pool   *x509.CertPool
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  []*Conn
	open   map[net.Conn]bool
	cur    int
	max    int
	closed bool
}

// Start starts a server configured by cfg; it stops when the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.DripInterval <= 0 {
		cfg.DripInterval = 50 * time.Millisecond
	}
	if cfg.Banner == "" {
		cfg.Banner = "220 mx.test ESMTP smtptest"
	}
	if cfg.HELO == "" {
		cfg.HELO = "250 mx.test"
	}
	if cfg.StartTLSReply == "" {
		cfg.StartTLSReply = "220 2.0.0 Ready to start TLS"
	}
	if cfg.Mail == "" {
		cfg.Mail = "250 2.1.0 Ok"
	}
	if cfg.Rcpt == "" {
		cfg.Rcpt = "250 2.1.5 Ok"
	}
	if len(cfg.CertNames) == 0 {
		cfg.CertNames = []string{"mx.test", "localhost"}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, itoa(cfg.Port)))
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{t: t, cfg: cfg, ln: ln, open: map[net.Conn]bool{}}
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	if err := s.makeCert(); err != nil {
		ln.Close()
		t.Fatalf("smtptest: certificate: %v", err)
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// CertPool contains the server's self-signed certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Conns returns a copy of what each connection saw so far.
func (s *Server) Conns() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Conn, len(s.conns))
	for i, c := range s.conns {
		out[i] = *c
		out[i].Commands = append([]string(nil), c.Commands...)
	}
	return out
}

// MaxConcurrent is the highest number of simultaneous connections seen.
func (s *Server) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// Close stops the server, closes open connections and waits for handlers.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.open[c] = true
		s.cur++
		if s.cur > s.max {
			s.max = s.cur
		}
		rec := &Conn{Accepted: time.Now()}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			rec.Peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		s.conns = append(s.conns, rec)
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c, rec)
			c.Close()
			s.mu.Lock()
			delete(s.open, c)
			if !rec.done {
				s.cur--
			}
			s.mu.Unlock()
		}()
	}
}

func (s *Server) record(rec *Conn, line string) {
	s.mu.Lock()
	rec.Commands = append(rec.Commands, line)
	s.mu.Unlock()
}

func (s *Server) errorf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("smtptest: "+format, args...)
}

// writeReply sends reply lines with CRLF; it reports whether to go on.
func writeReply(c net.Conn, reply string) bool {
	reply = strings.TrimRight(reply, "\n")
	var b strings.Builder
	for _, l := range strings.Split(reply, "\n") {
		b.WriteString(strings.TrimRight(l, "\r"))
		b.WriteString("\r\n")
	}
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write([]byte(b.String()))
	return err == nil && !strings.HasPrefix(reply, "421")
}

func (s *Server) handle(c net.Conn, rec *Conn) {
	cfg := s.cfg
	switch cfg.Mode {
	case CloseOnConnect:
		return
	case Silent:
		c.SetReadDeadline(time.Now().Add(time.Minute))
		_, _ = c.Read(make([]byte, 1024)) // until the client or Close ends it
		return
	case EndlessLine, EndlessReply, Garbage:
		chunk := strings.Repeat("x", 1024)
		first := "220 "
		switch cfg.Mode {
		case EndlessReply:
			chunk = "220-endless reply line\r\n"
			first = ""
		case Garbage:
			chunk = "\x00\xff\x1b[2J garbage \x00\r\n"
			first = ""
		}
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte(first)); err != nil {
			return
		}
		for i := 0; i < 1<<16; i++ { // bounded: at most 64 MiB
			if _, err := c.Write([]byte(chunk)); err != nil {
				return
			}
		}
		return
	case Drip:
		// The banner without its line end, then dots: one byte per interval.
		b := []byte(strings.TrimRight(cfg.Banner, "\r\n"))
		for i := 0; ; i++ {
			ch := byte('.')
			if i < len(b) {
				ch = b[i]
			}
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte{ch}); err != nil {
				return
			}
			time.Sleep(cfg.DripInterval)
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
		}
	}

	r := bufio.NewReader(c)
	if cfg.BannerDelay > 0 {
		time.Sleep(cfg.BannerDelay)
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := r.Peek(1); err == nil {
			s.errorf("client %s sent data before the banner", rec.Peer)
		}
		c.SetReadDeadline(time.Time{})
	}
	if !writeReply(c, cfg.Banner) || !strings.HasPrefix(cfg.Banner, "2") {
		// A 554 greeting: RFC 5321 §3.1 lets the server wait for QUIT.
		if !strings.HasPrefix(cfg.Banner, "421") {
			s.serveAfterRefusal(c, r, rec)
		}
		return
	}
	afterRcpt := false
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.record(rec, line)
		if r.Buffered() > 0 {
			s.errorf("client %s pipelined commands after %q", rec.Peer, line)
		}
		verb := strings.ToUpper(line)
		arg := ""
		if i := strings.IndexAny(verb, " :"); i >= 0 {
			verb, arg = verb[:i], line[i:]
		}
		switch {
		case verb == "DATA" || verb == "BDAT":
			s.errorf("client %s sent %s: a probe must never send DATA", rec.Peer, verb)
		case afterRcpt && verb != "RCPT" && verb != "RSET" && verb != "QUIT" && verb != "NOOP":
			s.errorf("client %s sent %q after RCPT (only RCPT, RSET, QUIT, NOOP allowed)", rec.Peer, line)
		}
		if cfg.ReplyDelay > 0 {
			time.Sleep(cfg.ReplyDelay)
		}
		reply := s.replyTo(verb, arg, rec)
		if o := cfg.Replies[verb]; o != "" {
			reply = o
		}
		if verb == "QUIT" {
			// Stop counting this connection before the client can see the
			// 221 and open the next one, so MaxConcurrent is exact.
			s.mu.Lock()
			rec.done = true
			s.cur--
			s.mu.Unlock()
		}
		switch verb {
		case "RCPT":
			afterRcpt = true
		case "RSET":
			afterRcpt = false
		}
		if !writeReply(c, reply) || verb == "QUIT" {
			return
		}
		if cfg.ResetAfter != "" && strings.EqualFold(verb, cfg.ResetAfter) {
			reset(c)
			return
		}
		if verb == "STARTTLS" && strings.HasPrefix(reply, "220") && cfg.StartTLSJunk {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := r.Read(make([]byte, 4096)); err == nil { // the ClientHello
				_, _ = c.Write([]byte("\x1b[2J not TLS \x00\xff at all\r\n"))
			}
			return
		}
		if verb == "STARTTLS" && strings.HasPrefix(reply, "220") {
			if cfg.HandshakeDelay > 0 {
				time.Sleep(cfg.HandshakeDelay)
			}
			tc := tls.Server(c, s.tlsCfg)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				return
			}
			c.SetDeadline(time.Time{})
			s.mu.Lock()
			rec.TLS = true
			s.mu.Unlock()
			c = tc
			r = bufio.NewReader(tc)
		}
	}
}

// reset aborts c with a TCP RST (SO_LINGER 0) instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	} else if tc, ok := c.(*tls.Conn); ok {
		if raw, ok := tc.NetConn().(*net.TCPConn); ok {
			raw.SetLinger(0)
		}
	}
	c.Close()
}

// serveAfterRefusal answers QUIT after a refusing banner and 503 to the rest.
func (s *Server) serveAfterRefusal(c net.Conn, r *bufio.Reader, rec *Conn) {
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.record(rec, line)
		if strings.EqualFold(line, "QUIT") {
			writeReply(c, "221 2.0.0 Bye")
			return
		}
		if strings.HasPrefix(strings.ToUpper(line), "DATA") {
			s.errorf("client %s sent DATA", rec.Peer)
		}
		if !writeReply(c, "503 5.5.1 Bad sequence of commands") {
			return
		}
	}
}

func (s *Server) replyTo(verb, arg string, rec *Conn) string {
	cfg := s.cfg
	switch verb {
	case "EHLO":
		if cfg.EHLO != "" {
			return cfg.EHLO
		}
		lines := []string{"250-mx.test Hello [" + rec.Peer.Addr().String() + "]", "250-PIPELINING", "250-SIZE 10240000"}
		s.mu.Lock()
		inTLS := rec.TLS
		s.mu.Unlock()
		if cfg.StartTLS && !inTLS {
			lines = append(lines, "250-STARTTLS")
		}
		return strings.Join(append(lines, "250 8BITMIME"), "\n")
	case "HELO":
		return cfg.HELO
	case "STARTTLS":
		if !cfg.StartTLS {
			return "502 5.5.1 Command not implemented"
		}
		return cfg.StartTLSReply
	case "MAIL":
		return cfg.Mail
	case "RCPT":
		if cfg.RcptFunc != nil {
			a := arg
			if i, j := strings.Index(a, "<"), strings.LastIndex(a, ">"); i >= 0 && j > i {
				a = a[i+1 : j]
			}
			return cfg.RcptFunc(a)
		}
		return cfg.Rcpt
	case "RSET":
		return "250 2.0.0 Ok"
	case "NOOP":
		return "250 2.0.0 Ok"
	case "QUIT":
		return "221 2.0.0 Bye"
	}
	return "502 5.5.2 Error: command not recognized"
}

func (s *Server) makeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: s.cfg.CertNames[0], Organization: []string{"smtptest"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              s.cfg.CertNames,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.pool = x509.NewCertPool()
	s.pool.AddCert(cert)
	s.tlsCfg = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return nil
}
