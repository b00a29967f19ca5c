package check

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/mailauth"
	"github.com/blprobe/blprobe/migrate"
	"github.com/blprobe/blprobe/rdns"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Move is what a pre-migration comparison checks besides Options: the old
// sending address, the new address or range, the sender domains whose SPF
// and DMARC must authorise it, and the HELO name used after the move.
type Move struct {
	Old     netip.Addr
	New     dnsbl.Target
	Prefix  netip.Prefix // the new address or range as a prefix
	Senders []string     // sender domains (SPF, DMARC)
	HELO    string       // "" skips the HELO row
}

// Migrate gathers everything migrate.Build needs, old and new address side
// by side: DNSBL listings of both, reverse DNS and HELO, SPF of every sender
// domain, DMARC, and SMTP (o.Domains) from each address that is local (the
// old column falls back to this machine's default address). The tool,
// command line, resolvers and warnings come from o.Report when set. Errors
// are as Run's.
func Migrate(ctx context.Context, o Options, m Move) (*migrate.Inputs, error) {
	x, ctx, err := start(ctx, o, needResolver|needDNSBL)
	if err != nil {
		return nil, err
	}
	o = x.o
	in := &migrate.Inputs{
		Tool: x.r.Tool, Command: x.r.Command, Started: time.Now().UTC(),
		Resolvers: x.r.Resolvers, Warnings: append([]string{}, x.r.Warnings...),
		NewTarget: m.New.Input, Catalog: o.Catalog, Domains: m.Senders, SMTPDomains: o.Domains, HELO: m.HELO,
	}
	if in.NewTarget == "" {
		in.NewTarget = m.Prefix.String()
	}
	if len(o.Domains) == 0 {
		in.Warnings = append(in.Warnings, "no --to domain given: SMTP acceptance and outbound port 25 were not checked")
	}
	if m.HELO == "" {
		in.Warnings = append(in.Warnings, "no --helo given: whether the HELO name used after the move resolves to the new address was not checked")
	}
	oldT, err := dnsbl.ParseTarget(m.Old.String())
	if err != nil {
		return nil, &InputError{err}
	}

	// 1. Listings of both.
	plan, err := x.plan(ctx, []dnsbl.Target{oldT, m.New})
	if err != nil {
		return nil, err
	}
	run := o.DNSBL.Run(ctx, plan)
	in.Zones = run.Zones

	// The new addresses: all of a small range, the first MaxRDNS of a larger one.
	var news []netip.Addr
	for ip := m.Prefix.Addr(); m.Prefix.Contains(ip); ip = ip.Next() {
		if len(news) == MaxRDNS {
			break
		}
		news = append(news, ip)
	}
	in.RangeSize = rangeSize(m.Prefix)
	if in.RangeSize > len(news) {
		in.Warnings = append(in.Warnings, fmt.Sprintf("reverse DNS, SPF and SMTP were checked for the first %d of %d addresses of %s only", len(news), in.RangeSize, m.Prefix))
	}
	sides := make([]migrate.Side, len(news)+1)
	for i, ip := range append([]netip.Addr{m.Old}, news...) {
		sides[i].Addr = ip
	}
	byIP := map[string][]dnsbl.Result{}
	for _, res := range run.Results {
		byIP[res.IP] = append(byIP[res.IP], res)
	}
	for i := range sides {
		sides[i].DNSBL = byIP[sides[i].Addr.String()]
	}

	// 2. Reverse DNS and HELO; 3. SPF for each domain.
	sem := make(chan struct{}, rdnsConcurrency)
	var wg sync.WaitGroup
	for i := range sides {
		sides[i].SPF = make([]mailauth.SPF, len(m.Senders))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rd := rdns.Check(ctx, o.Resolver, sides[i].Addr, m.HELO)
			sides[i].RDNS = &rd
			for j, d := range m.Senders {
				sides[i].SPF[j] = mailauth.CheckSPF(ctx, o.Resolver, d, sides[i].Addr)
			}
		}()
	}
	wg.Wait()

	// 4. DMARC, and the SPF record to publish when the new range fails.
	for j, d := range m.Senders {
		in.DMARC = append(in.DMARC, mailauth.CheckDMARC(ctx, o.Resolver, d))
		var sg *mailauth.Suggestion
		for _, s := range sides[1:] {
			if s.SPF[j].Result != mailauth.Pass {
				sg = mailauth.Suggest(ctx, o.Resolver, s.SPF[j], m.Prefix, m.Old)
				break
			}
		}
		in.Suggestions = append(in.Suggestions, sg)
	}

	// 5. SMTP from each side that is an address of this machine; the old
	// column falls back to this machine's default address (this network).
	if len(o.Domains) > 0 {
		if o.IsLocal(m.Old) {
			sides[0].SMTP = smtpcheck.RunFrom(ctx, o.Domains, []netip.Addr{m.Old}, o.SMTP)
		} else {
			sides[0].SMTP = smtpcheck.RunFrom(ctx, o.Domains, []netip.Addr{{}}, o.SMTP)
			used := strings.Join(UsedSources(sides[0].SMTP), ", ")
			if used == "" {
				used = "this machine's default address"
			}
			sides[0].SMTPNote = fmt.Sprintf("from %s: %s is not an address of this machine", used, m.Old)
		}
		for i := 1; i < len(sides) && i <= MaxSMTPSources; i++ {
			if o.IsLocal(sides[i].Addr) {
				sides[i].SMTP = smtpcheck.RunFrom(ctx, o.Domains, []netip.Addr{sides[i].Addr}, o.SMTP)
			}
		}
	}
	in.Old, in.New = sides[0], sides[1:]
	in.Interrupted = ctx.Err() != nil
	in.Finished = time.Now().UTC()
	return in, nil
}

// rangeSize is the number of addresses of p, capped at 1<<30.
func rangeSize(p netip.Prefix) int {
	host := p.Addr().BitLen() - p.Bits()
	if host >= 30 {
		return 1 << 30
	}
	return 1 << host
}
