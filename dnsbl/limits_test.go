package dnsbl

import (
	"context"
	"strings"
	"testing"
)

func TestDailyLimits(t *testing.T) {
	zen := Select(Builtin(), []string{"zen.spamhaus.org"})
	if zen[0].FreeDailyLimit() != 300000 {
		t.Fatalf("zen daily limit %d, want 300000 (Spamhaus DNSBL usage terms)", zen[0].FreeDailyLimit())
	}
	big := mustTargets(t, "10.0.0.0/13") // 524,288 addresses
	for _, tc := range []struct {
		name string
		key  string
		zone func() []Zone
		want string // "" = allowed
	}{
		{"over without a key", "", func() []Zone { return zen }, "zen.spamhaus.org needs 524290 queries, more than its free limit of 300000"},
		{"DQS key", "abcdefgh12345678", func() []Zone { return zen }, ""},
		{"no limit", "", func() []Zone { return Select(Builtin(), []string{"bl.spamcop.net"}) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustChecker(t, Options{Resolver: failExchanger{}, DQSKey: tc.key, MaxAddresses: 1 << 20})
			plan, err := c.Plan(context.Background(), big, tc.zone())
			if err != nil {
				t.Fatal(err)
			}
			err = plan.CheckDailyLimits()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Under the limit: a /16 is 65,538 queries.
	c := mustChecker(t, Options{Resolver: failExchanger{}})
	plan, err := c.Plan(context.Background(), mustTargets(t, "10.0.0.0/16"), zen)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.CheckDailyLimits(); err != nil {
		t.Error(err)
	}
	bad := `[{"zone": "x.test", "kind": "ip4", "type": "block", "daily_limit": -1}]`
	if _, err := LoadCatalog(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "daily_limit") {
		t.Errorf("negative daily_limit: %v", err)
	}
}
