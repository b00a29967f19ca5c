package dnsbl

import (
	"fmt"
	"strings"
)

// FreeDailyLimit is the zone's published free-use limit in queries per day,
// 0 when none is recorded (catalogue field daily_limit; e.g. Spamhaus:
// 300,000 queries/day for non-commercial use,
// https://www.spamhaus.org/organization/dnsblusage/).
func (z Zone) FreeDailyLimit() int { return z.DailyLimit }

// LimitError is a plan that would exceed zones' free daily limits.
type LimitError struct {
	Over []ZoneQueries
}

// ZoneQueries is the number of queries a plan sends to a zone.
type ZoneQueries struct {
	Zone    string
	Queries int // pairs plus RFC 5782 test queries (TXT for listings not counted)
	Limit   int // the zone's free daily limit
}

func (e *LimitError) Error() string {
	var parts []string
	for _, z := range e.Over {
		parts = append(parts, fmt.Sprintf("%s needs %d queries, more than its free limit of %d queries a day", z.Zone, z.Queries, z.Limit))
	}
	return "refusing to run: " + strings.Join(parts, "; ") +
		" (the list's usage terms); give a licence key (--dqs-key for Spamhaus), or --i-have-permission if you hold a licence or permission for this volume"
}

// CheckDailyLimits returns a *LimitError when the plan would send more
// queries to a zone than its free daily limit. Zones queried with a key
// (Spamhaus DQS), answered from local data, or not queried at all (a key is
// needed but missing) are not limited.
func (p *Plan) CheckDailyLimits() error {
	var over []ZoneQueries
	for i, z := range p.zones {
		limit := z.z.FreeDailyLimit()
		if limit <= 0 || z.hasKey || z.needsKey || z.z.Local != nil {
			continue
		}
		n, tests := 0, 0
		if p.n4 > 0 && contains(p.z4, i) {
			n, tests = n+p.n4, tests+2
		}
		if p.n6 > 0 && contains(p.z6, i) {
			n, tests = n+p.n6, tests+2
		}
		if p.nd > 0 && contains(p.zd, i) {
			n, tests = n+p.nd, tests+2
		}
		if n+tests > limit {
			over = append(over, ZoneQueries{Zone: z.display, Queries: n + tests, Limit: limit})
		}
	}
	if len(over) > 0 {
		return &LimitError{Over: over}
	}
	return nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
