package serve

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const goodConfig = `# a full config
resolvers: [127.0.0.1:53, "[::1]:53"]
timeout: 3s
retries: 1
custom_zones: [bl.lab.test]
zones: [zen.spamhaus.org, bl.lab.test]
qps: 8
max_concurrent: 2
jitter: 30s
intervals:
  dnsbl: 10m
  smtp: 2h
smtp:
  helo: mail.example.com
  source_ip: 192.0.2.10
  from: postmaster@example.com
  port: 2525
  tls: required
  connect_timeout: 5s
  command_timeout: 20s
targets:
  - 192.0.2.10
  - target: 198.51.100.0/28
    zones: [bl.lab.test]
  - target: mail.example.com
    to: [gmail.com, Example.ORG.]
  - auto
probe:
  allow_targets: [192.0.2.0/24, mail.example.com]
  max_addresses: 16
`

func TestParseConfigGood(t *testing.T) {
	c, err := ParseConfig("good.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Resolvers, " "); got != "127.0.0.1:53 [::1]:53" {
		t.Errorf("resolvers %q", got)
	}
	if c.Timeout != 3*time.Second || c.Retries != 1 || c.QPS != 8 || c.MaxConcurrent != 2 || c.Jitter != 30*time.Second {
		t.Errorf("scalars: %+v", c)
	}
	if c.Intervals[KindDNSBL] != 10*time.Minute || c.Intervals[KindSMTP] != 2*time.Hour {
		t.Errorf("intervals %v", c.Intervals)
	}
	if c.SMTP.HELO != "mail.example.com" || c.SMTP.SourceIP != netip.MustParseAddr("192.0.2.10") || c.SMTP.Port != 2525 || c.SMTP.TLS != "required" {
		t.Errorf("smtp %+v", c.SMTP)
	}
	if len(c.Targets) != 4 || c.Targets[1].Line != 23 || c.Targets[2].To[1] != "example.org" {
		t.Errorf("targets %+v", c.Targets)
	}
	jobs := c.Jobs()
	var kinds []string
	for _, j := range jobs {
		kinds = append(kinds, string(j.Kind)+":"+j.Target+":"+strings.Join(j.Zones, ","))
	}
	want := "dnsbl:192.0.2.10:zen.spamhaus.org,bl.lab.test dnsbl:198.51.100.0/28:bl.lab.test dnsbl:mail.example.com:zen.spamhaus.org,bl.lab.test smtp:mail.example.com: dnsbl:auto:zen.spamhaus.org,bl.lab.test"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("jobs\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(c.Probe.AllowZones, ","); got != "zen.spamhaus.org,bl.lab.test" {
		t.Errorf("default allow_zones %q", got)
	}
	if got := strings.Join(c.Probe.AllowTo, ","); got != "gmail.com,example.org" {
		t.Errorf("default allow_to %q", got)
	}
	if c.Probe.MaxAddresses != 16 || len(c.Probe.AllowPrefix) != 1 || c.Probe.AllowTargets[0] != "mail.example.com" {
		t.Errorf("probe %+v", c.Probe)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig("min.yaml", []byte("targets: [192.0.2.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Intervals[KindDNSBL] != DefaultDNSBLInterval || c.Intervals[KindSMTP] != DefaultSMTPInterval ||
		c.QPS != DefaultQPS || c.MaxConcurrent != DefaultMaxConcurrent || c.Jitter != DefaultDNSBLInterval/10 {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.Zones) != 0 || len(c.Probe.AllowZones) == 0 {
		t.Errorf("default zones: zones %v, allow %v", c.Zones, c.Probe.AllowZones)
	}
	// The default allow-list is exactly the configured target.
	if len(c.Probe.AllowPrefix) != 1 || c.Probe.AllowPrefix[0] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("default allow-list %v", c.Probe.AllowPrefix)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each must appear, with its line
	}{
		{"unknown top-level key", "targets: [192.0.2.1]\nzonez: [a.example]\n",
			[]string{`x.yaml:2: unknown key "zonez" (accepted: resolvers,`}},
		{"unknown nested key", "targets: [192.0.2.1]\nintervals:\n  dnsbl: 15m\n  smpt: 1h\n",
			[]string{`x.yaml:4: unknown key "smpt" (accepted: dnsbl, smtp)`}},
		{"unknown target key", "targets:\n  - target: 192.0.2.1\n    zone: [a.example]\n",
			[]string{`x.yaml:3: unknown key "zone" in a target (accepted: target, zones, to)`}},
		{"bad durations", "targets: [192.0.2.1]\nintervals:\n  dnsbl: 15\n  smtp: 1m\ntimeout: -1s\n",
			[]string{`x.yaml:3: intervals.dnsbl: invalid duration "15"`, `x.yaml:4: intervals.smtp: 1m is too short (at least 5m0s)`, `x.yaml:5: timeout: want a positive duration`}},
		{"bad targets", "targets:\n  - 192.0.2.1\n  - 192.0.2.0/33\n  - \"bad host\"\n  - 192.0.2.1\n",
			[]string{`x.yaml:3: targets: invalid target "192.0.2.0/33": bad prefix length`, `x.yaml:4: targets: invalid target "bad host"`, `x.yaml:5: targets: 192.0.2.1 is listed twice (first on line 2)`}},
		{"zone not in catalogue", "zones: [zen.spamhaus.org, bl.nowhere.test]\ntargets: [192.0.2.1]\n",
			[]string{`x.yaml:1: zones: zone "bl.nowhere.test" is not in the catalogue`}},
		{"declared zone is fine but a catalogue zone cannot be redeclared", "custom_zones: [zen.spamhaus.org]\ntargets: [192.0.2.1]\n",
			[]string{`x.yaml:1: custom_zones: zen.spamhaus.org is already in the catalogue`}},
		{"no targets", "qps: 3\n", []string{`x.yaml: targets: none given`}},
		{"empty", "", []string{`x.yaml: empty config`}},
		{"bad scalars", "targets: [192.0.2.1]\nqps: 0\nmax_concurrent: 1000\nretries: x\n",
			[]string{`x.yaml:2: qps: invalid value "0"`, `x.yaml:3: max_concurrent: invalid value "1000" (accepted: 1 to 64)`, `x.yaml:4: retries: invalid value "x"`}},
		{"bad smtp", "targets: [192.0.2.1]\nsmtp:\n  helo: \"not a name\"\n  source_ip: 1.2.3\n  tls: maybe\n  from: nobody\n",
			[]string{`x.yaml:3: smtp.helo: invalid`, `x.yaml:4: smtp.source_ip: invalid "1.2.3"`, `x.yaml:5: smtp.tls: invalid "maybe"`, `x.yaml:6: smtp.from: invalid address "nobody"`}},
		{"bad to and resolver", "resolvers: [\"127.0.0.1:99999\"]\ntargets:\n  - target: 192.0.2.1\n    to: [\"no domain\"]\n",
			[]string{`x.yaml:1: resolvers: invalid resolver "127.0.0.1:99999"`, `x.yaml:4: targets.to: invalid domain "no domain"`}},
		{"jitter not below the interval", "targets: [192.0.2.1]\njitter: 20m\n", []string{`x.yaml:2: jitter: 20m0s must be shorter than the dnsbl interval (15m0s)`}},
		{"list where a value belongs", "targets: [192.0.2.1]\nqps: [1, 2]\n", []string{`x.yaml:2: want a single value here`}},
		{"yaml syntax", "targets: [192.0.2.1\n", []string{`x.yaml:`}},
		{"scalar where a list belongs", "targets: 192.0.2.1\n", []string{`x.yaml:1: want a list of targets (e.g. [192.0.2.7, auto]) here, not "192.0.2.1"`}},
		{"scalar where a mapping belongs", "targets: [192.0.2.1]\nintervals: 15m\n", []string{`x.yaml:2: want a mapping (dnsbl: 15m, smtp: 1h) here, not "15m"`}},
		{"mapping where a list belongs", "targets: [192.0.2.1]\nprobe:\n  allow_to: {a: b}\n", []string{`x.yaml:3: want a list (e.g. [a, b]) here, not a mapping`}},
		{"a list at the top", "- 192.0.2.1\n", []string{`x.yaml:1: want a mapping of settings here, not a list`}},
		{"bad probe", "targets: [192.0.2.1]\nprobe:\n  enabled: maybe\n  allow_targets: [\"a b\"]\n  allow_zones: [nowhere.test]\n",
			[]string{`x.yaml:3: probe.enabled: want true or false`, `x.yaml:4: probe.allow_targets: invalid "a b"`, `x.yaml:5: probe.allow_zones: zone "nowhere.test" is not in the catalogue`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("x.yaml", []byte(tt.yaml))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a ConfigError, got %v", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("want %d problems, got %d:\n%s", len(tt.want), len(ce.Problems), msg)
			}
		})
	}
}

func TestParseConfigCustomZone(t *testing.T) {
	c, err := ParseConfig("x.yaml", []byte("custom_zones: [BL.Lab.Test.]\nzones: [bl.lab.test]\ntargets: [192.0.2.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Zones) != 1 || c.Zones[0] != "bl.lab.test" {
		t.Errorf("zones %v", c.Zones)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("targets: [192.0.2.1]\nzonez: 1\n"))
	f.Add([]byte("targets:\n  - target: x\n    frob: [1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("f.yaml", data)
		if err == nil && len(c.Targets) == 0 {
			t.Fatal("a valid config without targets")
		}
		var ce *ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("not a ConfigError: %v", err)
		}
	})
}

func TestDailyQueries(t *testing.T) {
	cfg := "zones: [zen.spamhaus.org]\nintervals:\n  dnsbl: 15m\ntargets:\n  - 192.0.2.1\n  - 198.51.100.0/28\n  - target: 2001:db8::1\n    zones: [zen.spamhaus.org, bl.spamcop.net]\n"
	c, err := ParseConfig("x.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	// 96 runs a day; zen: (1+2) + (16+2) + (1+4) per run, spamcop: 1+4.
	got := c.DailyQueries()
	if len(got) != 2 || got[0] != (ZoneLoad{"zen.spamhaus.org", 18, 96 * 26}) || got[1] != (ZoneLoad{"bl.spamcop.net", 1, 96 * 5}) {
		t.Errorf("daily queries %+v", got)
	}
	_, err = ParseConfig("x.yaml", []byte(cfg+"daily_limit: 2000\n"))
	if err == nil || !strings.Contains(err.Error(), "x.yaml:9: daily_limit: the scheduled checks need about 2496 queries a day on zen.spamhaus.org (18 addresses every 15m0s), more than 2000") {
		t.Errorf("over the daily limit: %v", err)
	}
	if _, err := ParseConfig("x.yaml", []byte(cfg+"daily_limit: 2496\n")); err != nil {
		t.Errorf("at the daily limit: %v", err)
	}
}
