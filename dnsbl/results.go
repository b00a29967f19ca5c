package dnsbl

import (
	"net/netip"
	"sync"
)

// pairRec is one pair's outcome while a run goes: 12 bytes. Target, address,
// zone and query name are not stored: they follow from the plan and the
// pair's position. Text (error detail, codes, meanings, TXT reason) exists
// only for listings and errors, in the result set's side table.
type pairRec struct {
	rtt    uint32 // round-trip time of the A query in units of 10 µs
	extra  uint32 // 1 + index into ResultSet.extra; 0: no text
	status uint8  // index into statuses; 0 is not_done
	kind   uint8  // index into errorKinds
}

// extra is the text of a listing or an error.
type extra struct {
	err             string
	codes, meanings []string
	reason          string
}

var statuses = []Status{StatusNotDone, StatusClean, StatusListed, StatusAllowed, StatusError}

var errorKinds = []ErrorKind{"", ErrTimeout, ErrServfail, ErrRefused, ErrZoneErrorCode, ErrBadAnswer,
	ErrZoneUnhealthy, ErrDNS, ErrNotApplicable, ErrNeedsKey}

func statusIndex(s Status) uint8 {
	for i, x := range statuses {
		if x == s {
			return uint8(i)
		}
	}
	return 0
}

func kindIndex(k ErrorKind) uint8 {
	for i, x := range errorKinds {
		if x == k {
			return uint8(i)
		}
	}
	return uint8(len(errorKinds) - 1) // not reached: every kind is listed above
}

// maxRTT10 caps a stored RTT (about 11.9 hours in 10 µs units).
const maxRTT10 = 1<<32 - 1

// ResultSet is the compact outcome of a run: one record per (address or
// domain, zone) pair, in plan order. Memory does not grow with the text of
// clean answers; results are materialised one at a time by Each.
type ResultSet struct {
	c     *Checker
	plan  *Plan
	zones []*zoneRT
	recs  []pairRec

	mu    sync.Mutex
	extra []extra
}

func newResultSet(c *Checker, plan *Plan, zones []*zoneRT) *ResultSet {
	return &ResultSet{c: c, plan: plan, zones: zones, recs: make([]pairRec, plan.pairs)}
}

// Len is the number of results.
func (rs *ResultSet) Len() int { return len(rs.recs) }

// addExtra stores text and returns its reference for pairRec.extra.
func (rs *ResultSet) addExtra(e extra) uint32 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.extra = append(rs.extra, e)
	return uint32(len(rs.extra))
}

// set records a finished pair from a materialised result.
func (rs *ResultSet) set(i int, r *Result) {
	rc := pairRec{status: statusIndex(r.Status), kind: kindIndex(r.ErrorKind)}
	if rtt := r.RTTms * 100; rtt > 0 {
		rc.rtt = uint32(min(rtt+0.5, maxRTT10))
	}
	if r.Error != "" || r.Reason != "" || len(r.Codes) > 0 {
		rc.extra = rs.addExtra(extra{err: r.Error, codes: r.Codes, meanings: r.Meanings, reason: r.Reason})
	}
	rs.recs[i] = rc
}

// fill sets the stored outcome of pair i into r, whose identifying fields
// (Target, IP, Zone, Query) are already set.
func (rs *ResultSet) fill(i int, r *Result) {
	rc := rs.recs[i]
	r.Status, r.ErrorKind = statuses[rc.status], errorKinds[rc.kind]
	r.RTTms = float64(rc.rtt) / 100
	r.Error, r.Codes, r.Meanings, r.Reason = "", nil, nil, ""
	if rc.extra > 0 {
		rs.mu.Lock()
		e := rs.extra[rc.extra-1]
		rs.mu.Unlock()
		r.Error, r.Codes, r.Meanings, r.Reason = e.err, e.codes, e.meanings, e.reason
	}
}

// ident sets the identifying fields of the pair (s, a or host, z).
func (rs *ResultSet) ident(r *Result, s *source, a netip.Addr, host string, z *zoneRT) {
	r.Target, r.Zone = rs.c.scrub(s.input), z.display
	if host != "" {
		r.IP, r.Query = host, DomainQueryName(host, z.display)
	} else {
		r.IP, r.Query = a.String(), QueryName(a, z.display)
	}
}

// Each calls fn with every result in plan order (address order, then zone
// order) until fn returns false. The *Result is reused between calls: copy
// it to keep it.
func (rs *ResultSet) Each(fn func(*Result) bool) {
	i := 0
	var r Result
	rs.plan.walk(func(s *source, a netip.Addr, host string) bool {
		for _, zi := range rs.plan.zonesFor(a, host) {
			if i >= len(rs.recs) {
				return false
			}
			rs.ident(&r, s, a, host, rs.zones[zi])
			rs.fill(i, &r)
			i++
			if !fn(&r) {
				return false
			}
		}
		return true
	})
}

// All materialises every result.
func (rs *ResultSet) All() []Result {
	out := make([]Result, 0, len(rs.recs))
	rs.Each(func(r *Result) bool {
		out = append(out, *r)
		return true
	})
	return out
}

// Counts returns the number of results per status.
func (rs *ResultSet) Counts() map[Status]int {
	out := map[Status]int{}
	for _, rc := range rs.recs {
		out[statuses[rc.status]]++
	}
	return out
}

// zonesFor returns the zone indices that apply to a unit.
func (p *Plan) zonesFor(a netip.Addr, host string) []int {
	switch {
	case host != "":
		return p.zd
	case a.Is4():
		return p.z4
	}
	return p.z6
}
