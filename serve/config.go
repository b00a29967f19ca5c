package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/blprobe/blprobe/dnsbl"
)

// Kind is what a scheduled check does.
type Kind string

// Check kinds.
const (
	KindDNSBL Kind = "dnsbl" // DNS blocklists (and reverse DNS) for the target
	KindSMTP  Kind = "smtp"  // every MX of the target's "to" domains at the RCPT stage, from the target
)

// Defaults and bounds of the config.
const (
	DefaultDNSBLInterval = 15 * time.Minute
	DefaultSMTPInterval  = time.Hour
	MinDNSBLInterval     = time.Minute     // a list is never asked about one address more often
	MinSMTPInterval      = 5 * time.Minute // an MX is never probed more often
	DefaultQPS           = 5               // per zone, summed over every run in flight
	DefaultMaxConcurrent = 4
	DefaultProbeMaxAddrs = 256 // addresses one /probe target may expand to
	maxConfigBytes       = 1 << 20
)

// Config is a validated "blprobe serve" configuration.
type Config struct {
	Resolvers     []string // HOST[:PORT]; empty: the system's resolvers
	Timeout       time.Duration
	Retries       int
	Catalog       string   // path of a user catalogue; "" for the built-in one
	CustomZones   []string // zones used with generic RFC 5782 rules (not in the catalogue)
	Zones         []string // zones checked when a target names none; empty: the catalogue defaults
	DQSKeyFile    string   // file holding a Spamhaus DQS key
	QPS           float64  // queries per second per zone, over all runs in flight
	MaxConcurrent int      // runs in flight at once (scheduled and /probe together)
	DailyLimit    int      // queries per zone per day the scheduled checks may need; 0: no limit
	Jitter        time.Duration
	Intervals     map[Kind]time.Duration
	SMTP          SMTPConfig
	Targets       []Target
	Probe         ProbeConfig

	catalog []dnsbl.Zone // the catalogue zones were validated against
}

// SMTPConfig are the settings of the SMTP probes.
type SMTPConfig struct {
	HELO           string
	SourceIP       netip.Addr
	From           string
	Port           int
	TLS            string // opportunistic, required or off
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
}

// Target is one thing to watch.
type Target struct {
	Target string   // IP, CIDR, hostname or "auto" (the egress address)
	Zones  []string // overrides Config.Zones
	To     []string // recipient domains whose MX to probe (the smtp kind)
	Line   int      // line in the config file
}

// ProbeConfig is the allow-list of /probe: it only runs checks of what the
// config allows, so that the exporter is never an open DNSBL or SMTP proxy.
type ProbeConfig struct {
	Disabled     bool
	AllowTargets []string       // hostnames allowed exactly
	AllowPrefix  []netip.Prefix // addresses and CIDRs allowed within these
	AllowZones   []string       // default: every zone of the config
	AllowTo      []string       // default: every "to" domain of the config
	MaxAddresses int            // a /probe CIDR may expand to at most this many addresses
	MaxZones     int
	MaxTo        int
}

// Jobs lists the scheduled checks: a dnsbl job for every target and an smtp
// job for every target with "to" domains.
func (c *Config) Jobs() []Job {
	var out []Job
	for _, t := range c.Targets {
		zones := t.Zones
		if len(zones) == 0 {
			zones = c.Zones
		}
		out = append(out, Job{Kind: KindDNSBL, Target: t.Target, Zones: zones})
		if len(t.To) > 0 {
			out = append(out, Job{Kind: KindSMTP, Target: t.Target, To: t.To})
		}
	}
	return out
}

// CatalogZones is the zone catalogue the config was validated against.
func (c *Config) CatalogZones() []dnsbl.Zone { return c.catalog }

// ConfigError lists every problem of a config file, one per line as
// FILE:LINE: message.
type ConfigError struct {
	File     string
	Problems []Problem
}

// Problem is one config error.
type Problem struct {
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: %s", e.File, p.Line, p.Msg)
		} else {
			fmt.Fprintf(&b, "%s: %s", e.File, p.Msg)
		}
	}
	return b.String()
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxConfigBytes+1)); err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	if buf.Len() > maxConfigBytes {
		return nil, &ConfigError{File: path, Problems: []Problem{{0, fmt.Sprintf("larger than %d bytes", maxConfigBytes)}}}
	}
	return ParseConfig(path, buf.Bytes())
}

// The file's shape. Scalars carry their line for the validation errors.
type fileConfig struct {
	Resolvers     []pos         `yaml:"resolvers"`
	Timeout       *pos          `yaml:"timeout"`
	Retries       *pos          `yaml:"retries"`
	Catalog       *pos          `yaml:"catalog"`
	CustomZones   []pos         `yaml:"custom_zones"`
	Zones         []pos         `yaml:"zones"`
	DQSKeyFile    *pos          `yaml:"dqs_key_file"`
	QPS           *pos          `yaml:"qps"`
	MaxConcurrent *pos          `yaml:"max_concurrent"`
	DailyLimit    *pos          `yaml:"daily_limit"`
	Jitter        *pos          `yaml:"jitter"`
	Intervals     fileIntervals `yaml:"intervals"`
	SMTP          fileSMTP      `yaml:"smtp"`
	Targets       []fileTarget  `yaml:"targets"`
	Probe         fileProbe     `yaml:"probe"`
}

type fileIntervals struct {
	DNSBL *pos `yaml:"dnsbl"`
	SMTP  *pos `yaml:"smtp"`
}

type fileSMTP struct {
	HELO           *pos `yaml:"helo"`
	SourceIP       *pos `yaml:"source_ip"`
	From           *pos `yaml:"from"`
	Port           *pos `yaml:"port"`
	TLS            *pos `yaml:"tls"`
	ConnectTimeout *pos `yaml:"connect_timeout"`
	CommandTimeout *pos `yaml:"command_timeout"`
}

type fileProbe struct {
	Enabled      *pos  `yaml:"enabled"`
	AllowTargets []pos `yaml:"allow_targets"`
	AllowZones   []pos `yaml:"allow_zones"`
	AllowTo      []pos `yaml:"allow_to"`
	MaxAddresses *pos  `yaml:"max_addresses"`
}

type fileTarget struct {
	line   int
	Target *pos  `yaml:"target"`
	Zones  []pos `yaml:"zones"`
	To     []pos `yaml:"to"`
}

// pos is a scalar and the line it is on.
type pos struct {
	V    string
	Line int
}

func (p *pos) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a single value here, not a list or mapping", n.Line)}}
	}
	p.V, p.Line = n.Value, n.Line
	return nil
}

// UnmarshalYAML accepts "- 192.0.2.7" as well as a mapping, refusing unknown
// keys (yaml's KnownFields does not reach into custom unmarshalers).
func (t *fileTarget) UnmarshalYAML(n *yaml.Node) error {
	t.line = n.Line
	if n.Kind == yaml.ScalarNode {
		t.Target = &pos{n.Value, n.Line}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a target is an address, CIDR, hostname or auto, or a mapping with target, zones and to", n.Line)}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch k.Value {
		case "target", "zones", "to":
		default:
			errs = append(errs, fmt.Sprintf("line %d: unknown key %q in a target (accepted: target, zones, to)", k.Line, k.Value))
		}
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	type plain fileTarget
	return n.Decode((*plain)(t))
}

var fieldNotFound = regexp.MustCompile(`^line (\d+): field (\S+) not found in type serve\.(\w+)$`)

var acceptedKeys = map[string]string{
	"fileConfig":    "resolvers, timeout, retries, catalog, custom_zones, zones, dqs_key_file, qps, max_concurrent, daily_limit, jitter, intervals, smtp, targets, probe",
	"fileIntervals": "dnsbl, smtp",
	"fileSMTP":      "helo, source_ip, from, port, tls, connect_timeout, command_timeout",
	"fileProbe":     "enabled, allow_targets, allow_zones, allow_to, max_addresses",
}

var (
	yamlLine        = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	cannotUnmarshal = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
	// wantShape says in words what each of the file's types is.
	wantShape = map[string]string{
		"[]serve.fileTarget":  "a list of targets (e.g. [192.0.2.7, auto])",
		"[]serve.pos":         "a list (e.g. [a, b])",
		"serve.fileConfig":    "a mapping of settings",
		"serve.fileIntervals": "a mapping (dnsbl: 15m, smtp: 1h)",
		"serve.fileSMTP":      "a mapping (helo:, source_ip:, from:, port:, tls:, connect_timeout:, command_timeout:)",
		"serve.fileProbe":     "a mapping (enabled:, allow_targets:, allow_zones:, allow_to:, max_addresses:)",
	}
)

// yamlProblems turns yaml's errors into line-numbered problems.
func yamlProblems(err error) []Problem {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out []Problem
	for _, m := range msgs {
		if g := fieldNotFound.FindStringSubmatch(m); g != nil {
			line, _ := strconv.Atoi(g[1])
			out = append(out, Problem{line, fmt.Sprintf("unknown key %q (accepted: %s)", g[2], acceptedKeys[g[3]])})
			continue
		}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			line, _ := strconv.Atoi(g[1])
			msg := g[2]
			if u := cannotUnmarshal.FindStringSubmatch(msg); u != nil {
				got := "a list"
				switch {
				case u[2] != "":
					got = fmt.Sprintf("%q", u[2])
				case u[1] == "!!map":
					got = "a mapping"
				}
				msg = fmt.Sprintf("want %s here, not %s", wantShape[u[3]], got)
				if wantShape[u[3]] == "" {
					msg = fmt.Sprintf("unexpected %s here", got)
				}
			}
			out = append(out, Problem{line, msg})
			continue
		}
		out = append(out, Problem{0, strings.TrimPrefix(m, "yaml: ")})
	}
	return out
}

// ParseConfig parses and validates a config; name is used in errors. Every
// problem found is reported, each with its line.
func ParseConfig(name string, data []byte) (*Config, error) {
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) || strings.TrimSpace(string(data)) == "" {
			return nil, &ConfigError{File: name, Problems: []Problem{{0, "empty config: want at least a targets list"}}}
		}
		return nil, &ConfigError{File: name, Problems: yamlProblems(err)}
	}
	v := &validator{}
	c := v.config(&fc)
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, &ConfigError{File: name, Problems: v.problems}
	}
	return c, nil
}

type validator struct{ problems []Problem }

func (v *validator) addf(line int, format string, a ...any) {
	v.problems = append(v.problems, Problem{line, fmt.Sprintf(format, a...)})
}

func (v *validator) duration(p *pos, key string, def, min time.Duration) time.Duration {
	if p == nil {
		return def
	}
	d, err := time.ParseDuration(p.V)
	if err != nil {
		v.addf(p.Line, "%s: invalid duration %q (want e.g. 30s, 15m, 1h)", key, p.V)
		return def
	}
	if d < min || d <= 0 {
		if min > 0 {
			v.addf(p.Line, "%s: %s is too short (at least %s)", key, p.V, min)
		} else {
			v.addf(p.Line, "%s: want a positive duration, got %q", key, p.V)
		}
		return def
	}
	return d
}

func (v *validator) integer(p *pos, key string, def, min, max int) int {
	if p == nil {
		return def
	}
	n, err := strconv.Atoi(p.V)
	if err != nil || n < min || n > max {
		v.addf(p.Line, "%s: invalid value %q (accepted: %d to %d)", key, p.V, min, max)
		return def
	}
	return n
}

func (v *validator) domain(p pos, key string) string {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p.V)), ".")
	if !ValidDomain(d) {
		v.addf(p.Line, "%s: invalid domain %q (want a domain name such as example.com)", key, p.V)
		return ""
	}
	return d
}

func (v *validator) config(fc *fileConfig) *Config {
	c := &Config{Intervals: map[Kind]time.Duration{}}
	for _, r := range fc.Resolvers {
		if !validHostPort(r.V) {
			v.addf(r.Line, "resolvers: invalid resolver %q (want HOST or HOST:PORT, e.g. 127.0.0.1:53)", r.V)
			continue
		}
		c.Resolvers = append(c.Resolvers, r.V)
	}
	c.Timeout = v.duration(fc.Timeout, "timeout", 2*time.Second, 0)
	c.Retries = v.integer(fc.Retries, "retries", 2, 0, 10)
	if fc.Catalog != nil {
		c.Catalog = fc.Catalog.V
	}
	c.catalog = dnsbl.Builtin()
	if c.Catalog != "" {
		f, err := os.Open(c.Catalog)
		if err != nil {
			v.addf(fc.Catalog.Line, "catalog: %v", err)
		} else {
			cat, err := dnsbl.LoadCatalog(f)
			f.Close()
			if err != nil {
				v.addf(fc.Catalog.Line, "catalog %s: %v", c.Catalog, err)
			} else {
				c.catalog = cat
			}
		}
	}
	if fc.DQSKeyFile != nil {
		c.DQSKeyFile = fc.DQSKeyFile.V
		if _, err := os.Stat(c.DQSKeyFile); err != nil {
			v.addf(fc.DQSKeyFile.Line, "dqs_key_file: %v", err)
		}
	}
	known := map[string]bool{}
	for _, z := range c.catalog {
		known[normZone(z.Zone)] = true
	}
	for _, z := range fc.CustomZones {
		if d := v.domain(z, "custom_zones"); d != "" {
			if known[d] {
				v.addf(z.Line, "custom_zones: %s is already in the catalogue (list it under zones)", d)
				continue
			}
			known[d] = true
			c.CustomZones = append(c.CustomZones, d)
		}
	}
	zones := func(list []pos, key string) []string {
		var out []string
		seen := map[string]bool{}
		for _, z := range list {
			d := v.domain(z, key)
			switch {
			case d == "":
			case !known[d]:
				v.addf(z.Line, "%s: zone %q is not in the catalogue (see blprobe zones --all); declare it under custom_zones to check it with generic RFC 5782 rules", key, d)
			case !seen[d]:
				seen[d] = true
				out = append(out, d)
			}
		}
		return out
	}
	c.Zones = zones(fc.Zones, "zones")
	if len(c.Zones) == 0 && len(dnsbl.Select(c.catalog, nil)) == 0 {
		v.addf(0, "zones: the catalogue has no default zone; list the zones to check")
	}
	c.QPS = DefaultQPS
	if fc.QPS != nil {
		q, err := strconv.ParseFloat(fc.QPS.V, 64)
		if err != nil || !(q > 0) || q > 10000 {
			v.addf(fc.QPS.Line, "qps: invalid value %q (want queries per second per zone, greater than 0, e.g. 5)", fc.QPS.V)
		} else {
			c.QPS = q
		}
	}
	c.MaxConcurrent = v.integer(fc.MaxConcurrent, "max_concurrent", DefaultMaxConcurrent, 1, 64)
	c.Intervals[KindDNSBL] = v.duration(fc.Intervals.DNSBL, "intervals.dnsbl", DefaultDNSBLInterval, MinDNSBLInterval)
	c.Intervals[KindSMTP] = v.duration(fc.Intervals.SMTP, "intervals.smtp", DefaultSMTPInterval, MinSMTPInterval)
	if fc.Jitter != nil {
		d, err := time.ParseDuration(fc.Jitter.V)
		switch {
		case err != nil || d < 0:
			v.addf(fc.Jitter.Line, "jitter: invalid duration %q (want e.g. 30s, 0 for none)", fc.Jitter.V)
		case d >= c.Intervals[KindDNSBL]:
			v.addf(fc.Jitter.Line, "jitter: %s must be shorter than the dnsbl interval (%s)", d, c.Intervals[KindDNSBL])
		default:
			c.Jitter = d
		}
	} else {
		c.Jitter = c.Intervals[KindDNSBL] / 10
	}
	v.smtp(fc, c)
	v.targets(fc, c, zones)
	v.probe(fc, c, zones)
	c.DailyLimit = v.integer(fc.DailyLimit, "daily_limit", 0, 0, 1<<30)
	if c.DailyLimit > 0 {
		for _, d := range c.DailyQueries() {
			if d.Queries > c.DailyLimit {
				v.addf(fc.DailyLimit.Line, "daily_limit: the scheduled checks need about %d queries a day on %s (%d addresses every %s), more than %d: raise intervals.dnsbl or watch fewer addresses",
					d.Queries, d.Zone, d.Addresses, c.Intervals[KindDNSBL], c.DailyLimit)
			}
		}
	}
	return c
}

// ZoneLoad is the projected daily query load of the scheduled checks on one zone.
type ZoneLoad struct {
	Zone      string
	Addresses int // addresses looked up per round of checks
	Queries   int // queries a day: lookups plus the RFC 5782 health test entries of every run
}

// DailyQueries projects, per zone, how many queries a day the scheduled
// dnsbl checks send at most: each run looks up every address of its target
// once (a hostname counts as one address, auto as two) and checks the zone's
// two RFC 5782 §5 test entries (four when the target has IPv6 addresses),
// and a check never runs more often than its interval. /probe runs come on
// top (at most one per allowed probe and interval).
func (c *Config) DailyQueries() []ZoneLoad {
	runs := int((24*time.Hour + c.Intervals[KindDNSBL] - 1) / c.Intervals[KindDNSBL])
	load := map[string]*ZoneLoad{}
	var order []string
	for _, j := range c.Jobs() {
		if j.Kind != KindDNSBL {
			continue
		}
		zones := j.Zones
		if len(zones) == 0 {
			for _, z := range dnsbl.Select(c.catalog, nil) {
				zones = append(zones, normZone(z.Zone))
			}
		}
		addrs, tests := 1, 2
		switch t, err := dnsbl.ParseTarget(j.Target); {
		case j.Target == "auto":
			addrs, tests = 2, 4
		case err != nil:
		case t.Prefix.IsValid():
			bits := t.Prefix.Addr().BitLen() - t.Prefix.Bits()
			addrs = 1 << min(bits, 30)
			if t.Prefix.Addr().Is6() {
				tests = 4
			}
		case t.Addr.IsValid() && t.Addr.Is6():
			tests = 4
		}
		for _, z := range zones {
			l := load[z]
			if l == nil {
				l = &ZoneLoad{Zone: z}
				load[z] = l
				order = append(order, z)
			}
			l.Addresses += addrs
			l.Queries += runs * (addrs + tests)
		}
	}
	out := make([]ZoneLoad, 0, len(order))
	for _, z := range order {
		out = append(out, *load[z])
	}
	return out
}

func (v *validator) smtp(fc *fileConfig, c *Config) {
	s := &c.SMTP
	fs := fc.SMTP
	if fs.HELO != nil {
		if !ValidHELO(fs.HELO.V) {
			v.addf(fs.HELO.Line, "smtp.helo: invalid %q (want this host's fully qualified name, or an address literal such as [192.0.2.1])", fs.HELO.V)
		}
		s.HELO = fs.HELO.V
	}
	if fs.SourceIP != nil {
		a, err := netip.ParseAddr(fs.SourceIP.V)
		if err != nil || a.Zone() != "" {
			v.addf(fs.SourceIP.Line, "smtp.source_ip: invalid %q (want an IPv4 or IPv6 address of this machine)", fs.SourceIP.V)
		}
		s.SourceIP = a.Unmap()
	}
	if fs.From != nil {
		at := strings.LastIndexByte(fs.From.V, '@')
		if at <= 0 || !ValidDomain(strings.ToLower(fs.From.V[at+1:])) || strings.ContainsAny(fs.From.V, " <>\r\n\t") {
			v.addf(fs.From.Line, "smtp.from: invalid address %q (want local@domain)", fs.From.V)
		}
		s.From = fs.From.V
	}
	s.Port = v.integer(fs.Port, "smtp.port", 25, 1, 65535)
	s.TLS = "opportunistic"
	if fs.TLS != nil {
		switch fs.TLS.V {
		case "opportunistic", "required", "off":
			s.TLS = fs.TLS.V
		default:
			v.addf(fs.TLS.Line, "smtp.tls: invalid %q (accepted: opportunistic, required, off)", fs.TLS.V)
		}
	}
	s.ConnectTimeout = v.duration(fs.ConnectTimeout, "smtp.connect_timeout", 10*time.Second, 0)
	s.CommandTimeout = v.duration(fs.CommandTimeout, "smtp.command_timeout", 30*time.Second, 0)
}

func (v *validator) targets(fc *fileConfig, c *Config, zones func([]pos, string) []string) {
	if len(fc.Targets) == 0 {
		v.addf(0, "targets: none given (want a list of IPs, CIDRs, hostnames or auto)")
	}
	seen := map[string]int{}
	for _, ft := range fc.Targets {
		if ft.Target == nil {
			v.addf(ft.line, "targets: an entry without target (want an IP, CIDR, hostname or auto)")
			continue
		}
		t := Target{Line: ft.Target.Line, Target: strings.TrimSpace(ft.Target.V)}
		key := strings.ToLower(t.Target)
		if t.Target != "auto" {
			pt, err := dnsbl.ParseTarget(t.Target)
			if err != nil {
				v.addf(t.Line, "targets: %v", err)
				continue
			}
			if pt.Prefix.IsValid() {
				key = pt.Prefix.String()
			} else if pt.Addr.IsValid() {
				key = pt.Addr.String()
			}
		}
		if l, dup := seen[key]; dup {
			v.addf(t.Line, "targets: %s is listed twice (first on line %d)", t.Target, l)
			continue
		}
		seen[key] = t.Line
		t.Zones = zones(ft.Zones, "targets.zones")
		for _, d := range ft.To {
			if dom := v.domain(d, "targets.to"); dom != "" && !containsStr(t.To, dom) {
				t.To = append(t.To, dom)
			}
		}
		c.Targets = append(c.Targets, t)
	}
}

func (v *validator) probe(fc *fileConfig, c *Config, zones func([]pos, string) []string) {
	p := &c.Probe
	fp := fc.Probe
	if fp.Enabled != nil {
		switch fp.Enabled.V {
		case "true":
		case "false":
			p.Disabled = true
		default:
			v.addf(fp.Enabled.Line, "probe.enabled: want true or false, got %q", fp.Enabled.V)
		}
	}
	p.MaxAddresses = v.integer(fp.MaxAddresses, "probe.max_addresses", DefaultProbeMaxAddrs, 1, 65536)
	p.MaxZones, p.MaxTo = 64, 8
	for _, a := range fp.AllowTargets {
		s := strings.TrimSpace(a.V)
		if pf, err := netip.ParsePrefix(s); err == nil {
			p.AllowPrefix = append(p.AllowPrefix, pf.Masked())
			continue
		}
		if ad, err := netip.ParseAddr(s); err == nil && ad.Zone() == "" {
			ad = ad.Unmap()
			p.AllowPrefix = append(p.AllowPrefix, netip.PrefixFrom(ad, ad.BitLen()))
			continue
		}
		d := strings.TrimSuffix(strings.ToLower(s), ".")
		if !ValidDomain(d) {
			v.addf(a.Line, "probe.allow_targets: invalid %q (want an IP, a CIDR or a hostname)", a.V)
			continue
		}
		p.AllowTargets = append(p.AllowTargets, d)
	}
	if len(fp.AllowTargets) == 0 { // default: exactly the configured targets
		for _, t := range c.Targets {
			pt, err := dnsbl.ParseTarget(t.Target)
			switch {
			case t.Target == "auto" || err != nil:
			case pt.Addr.IsValid():
				a := pt.Addr.Unmap()
				p.AllowPrefix = append(p.AllowPrefix, netip.PrefixFrom(a, a.BitLen()))
			case pt.Prefix.IsValid():
				p.AllowPrefix = append(p.AllowPrefix, pt.Prefix)
			default:
				p.AllowTargets = append(p.AllowTargets, pt.Host)
			}
		}
	}
	p.AllowZones = zones(fp.AllowZones, "probe.allow_zones")
	if len(fp.AllowZones) == 0 {
		add := func(zs []string) {
			for _, z := range zs {
				if !containsStr(p.AllowZones, z) {
					p.AllowZones = append(p.AllowZones, z)
				}
			}
		}
		if len(c.Zones) > 0 {
			add(c.Zones)
		} else {
			for _, z := range dnsbl.Select(c.catalog, nil) {
				add([]string{normZone(z.Zone)})
			}
		}
		for _, t := range c.Targets {
			add(t.Zones)
		}
	}
	for _, d := range fp.AllowTo {
		if dom := v.domain(d, "probe.allow_to"); dom != "" {
			p.AllowTo = append(p.AllowTo, dom)
		}
	}
	if len(fp.AllowTo) == 0 {
		for _, t := range c.Targets {
			for _, d := range t.To {
				if !containsStr(p.AllowTo, d) {
					p.AllowTo = append(p.AllowTo, d)
				}
			}
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func normZone(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }

func validHostPort(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t/") {
		return false
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
		host = h
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return ValidDomain(strings.ToLower(host))
}

// ValidDomain reports whether d (lower-case, no trailing dot) is a domain
// name: letters, digits, hyphens and underscores in labels of 1-63 bytes.
func ValidDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ValidHELO accepts a domain name or an address literal (RFC 5321 §4.1.3).
func ValidHELO(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		lit := strings.TrimPrefix(h[1:len(h)-1], "IPv6:")
		a, err := netip.ParseAddr(lit)
		return err == nil && a.Zone() == "" && a.Is4() != strings.HasPrefix(h, "[IPv6:")
	}
	return ValidDomain(strings.ToLower(h))
}
