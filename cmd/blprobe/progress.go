package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/miekg/dns"
	"golang.org/x/term"

	"github.com/blprobe/blprobe/smtpcheck"
)

// Progress line timing: a run that is still going after progressDelay
// gets a status line on stderr, redrawn every progressTick.
const (
	progressDelay = time.Second
	progressTick  = 200 * time.Millisecond
	waitShown     = 500 * time.Millisecond // a wait this old is named on the line
)

// progress draws one status line on a terminal's stderr while a run is
// going: the phase (DNSBL, reverse DNS, SMTP…), its count, the elapsed
// time and what the run waits for the longest ("waiting for mx2.example.com
// [192.0.2.20] banner (12 s)"). It appears only after progressDelay and is
// cleared when the run ends, so short runs and pipes see nothing. A nil
// *progress is valid and does nothing.
type progress struct {
	w     io.Writer
	fd    int
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	mu          sync.Mutex
	phase       string
	n, total    int
	unit        string
	waits       map[int]wait // in flight
	nextID      int
	names       map[string]string // IP → host name, from A/AAAA answers
	drawn       bool
	phaseStart  time.Time
	lastVisible string
}

type wait struct {
	what  string
	since time.Time
}

// newProgress returns a progress line on w when w is a terminal, else nil.
func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok || !isTerm(f.Fd()) {
		return nil
	}
	return startProgress(w, int(f.Fd()))
}

func startProgress(w io.Writer, fd int) *progress {
	p := &progress{w: w, fd: fd, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
		waits: map[int]wait{}, names: map[string]string{}}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			if p.drawn {
				fmt.Fprint(p.w, "\r\x1b[K") // clear the line: the report follows
			}
			p.mu.Unlock()
			return
		case now := <-t.C:
			if now.Sub(p.start) >= progressDelay {
				p.draw(now)
			}
		}
	}
}

// Stop clears the line; call it before the report is written.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Phase starts a phase; unit names what Count counts ("lookups", "probes").
func (p *progress) Phase(name, unit string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.unit, p.n, p.total, p.phaseStart = name, unit, 0, 0, time.Now()
}

// Count sets the progress of the phase.
func (p *progress) Count(done, total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.n, p.total = done, total
	p.mu.Unlock()
}

// counter is a Count callback for the dnsbl and smtpcheck options (nil
// without a terminal, so they skip the calls).
func (p *progress) counter() func(done, total int) {
	if p == nil {
		return nil
	}
	return p.Count
}

// begin records that the run waits for what; the returned func ends it.
func (p *progress) begin(what string) func() {
	if p == nil {
		return func() {}
	}
	p.mu.Lock()
	id := p.nextID
	p.nextID++
	p.waits[id] = wait{what, time.Now()}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.waits, id)
		p.mu.Unlock()
	}
}

// set changes what an ongoing wait waits for (e.g. banner → EHLO reply).
func (p *progress) set(what string) func() { return p.begin(what) }

func (p *progress) name(ip string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.names[ip]; n != "" {
		return fmt.Sprintf("%s [%s]", n, ip)
	}
	return ip
}

// line is the status text at now.
func (p *progress) line(now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	phase := p.phase
	if phase == "" {
		phase = "starting"
	}
	s := "blprobe: " + phase
	if p.total > 0 {
		s += fmt.Sprintf(" %d/%d %s", p.n, p.total, p.unit)
	}
	s += fmt.Sprintf(", %s", secs(now.Sub(p.start)))
	var oldest wait
	for _, w := range p.waits {
		if oldest.since.IsZero() || w.since.Before(oldest.since) {
			oldest = w
		}
	}
	if !oldest.since.IsZero() && now.Sub(oldest.since) >= waitShown {
		s += fmt.Sprintf(" · waiting for %s (%s)", oldest.what, secs(now.Sub(oldest.since)))
		if n := len(p.waits) - 1; n > 0 {
			s += fmt.Sprintf(" and %d more", n)
		}
	}
	return s
}

func (p *progress) draw(now time.Time) {
	s := p.line(now)
	width := 80
	if w, _, err := term.GetSize(p.fd); err == nil && w > 1 {
		width = w
	}
	s = runewidth.Truncate(s, width-1, "…")
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\x1b[K"+s)
	p.drawn = true
	p.lastVisible = s
}

func secs(d time.Duration) string { return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second)) }

// exchanger wraps a resolver so the line can say which DNS answer the run
// waits for, and learn the names of the addresses it will connect to.
type exchanger struct {
	next smtpcheck.Exchanger
	p    *progress
}

// resolver wraps r for progress (r itself without a terminal).
func (p *progress) resolver(r smtpcheck.Exchanger) smtpcheck.Exchanger {
	if p == nil {
		return r
	}
	return &exchanger{next: r, p: p}
}

func (e *exchanger) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	what := "a DNS answer"
	if len(m.Question) > 0 {
		q := m.Question[0]
		what = fmt.Sprintf("the DNS answer for %s %s", strings.TrimSuffix(q.Name, "."), dns.TypeToString[q.Qtype])
	}
	end := e.p.begin(what)
	resp, err := e.next.Exchange(ctx, m)
	end()
	if resp != nil {
		e.p.mu.Lock()
		for _, rr := range resp.Answer {
			name := strings.TrimSuffix(rr.Header().Name, ".")
			switch a := rr.(type) {
			case *dns.A:
				e.p.names[a.A.String()] = name
			case *dns.AAAA:
				e.p.names[a.AAAA.String()] = name
			}
		}
		e.p.mu.Unlock()
	}
	return resp, err
}

// dialer returns a DialContext for smtpcheck that binds source (when
// valid) like smtpcheck's own dialer and tracks the SMTP conversation:
// connect, banner, then the reply to each command. nil without a terminal.
func (p *progress) dialer(source netip.Addr) func(ctx context.Context, network, address string) (net.Conn, error) {
	if p == nil {
		return nil
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(address)
		who := p.name(host)
		end := p.begin("the connection to " + who)
		d := net.Dialer{}
		if source.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: source.Unmap().AsSlice()}
		}
		c, err := d.DialContext(ctx, network, address)
		end()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, p: p, who: who}
		tc.end = p.begin(who + " banner")
		return tc, nil
	}
}

// trackedConn follows an SMTP conversation for the progress line: after
// each command it waits for that command's reply.
type trackedConn struct {
	net.Conn
	p   *progress
	who string
	mu  sync.Mutex
	end func()
}

func (c *trackedConn) Write(b []byte) (int, error) {
	what := c.who + " (TLS)"
	if v := commandVerb(b); v != "" {
		what = fmt.Sprintf("%s reply to %s", c.who, v)
	}
	c.mu.Lock()
	c.end()
	c.end = c.p.set(what)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *trackedConn) Close() error {
	c.mu.Lock()
	c.end()
	c.end = func() {}
	c.mu.Unlock()
	return c.Conn.Close()
}

// commandVerb is the SMTP verb of a plain-text command line, "" for TLS
// records or other binary data.
func commandVerb(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, " \r\n:"); i > 0 {
		s = s[:i]
	}
	s = strings.ToUpper(s)
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return ""
		}
	}
	switch s {
	case "EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "QUIT", "NOOP":
		return s
	}
	return ""
}
