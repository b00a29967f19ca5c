package dnsbl

import "github.com/blprobe/blprobe/dnsbl/zonefile"

// Status is the outcome of one (address, zone) lookup.
type Status string

// Result statuses. Only StatusListed on a block-list zone counts against the
// address; StatusError means "could not check", never "clean".
const (
	StatusListed  Status = "listed"   // A record(s) in the zone's listing range
	StatusClean   Status = "clean"    // NXDOMAIN from a healthy zone (RFC 5782 §2.1)
	StatusAllowed Status = "allowed"  // hit on an allow-list zone (e.g. list.dnswl.org)
	StatusError   Status = "error"    // could not check: see ErrorKind
	StatusNotDone Status = "not_done" // the run was interrupted before this lookup finished
)

// ErrorKind says why a lookup could not be completed.
type ErrorKind string

// Error kinds of StatusError results.
const (
	ErrTimeout       ErrorKind = "timeout"         // no answer within the timeout, after retries
	ErrServfail      ErrorKind = "servfail"        // SERVFAIL
	ErrRefused       ErrorKind = "refused"         // REFUSED
	ErrZoneErrorCode ErrorKind = "zone_error_code" // an error answer such as Spamhaus 127.255.255.254
	ErrBadAnswer     ErrorKind = "bad_answer"      // an answer outside 127.0.0.0/8: tampering or a parked domain
	ErrZoneUnhealthy ErrorKind = "zone_unhealthy"  // the zone failed its RFC 5782 test entries
	ErrDNS           ErrorKind = "dns_error"       // another rcode or a network error
	ErrNotApplicable ErrorKind = "not_applicable"  // e.g. an IPv6 address against an IPv4-only zone
	ErrNeedsKey      ErrorKind = "needs_key"       // the zone needs an account key that was not given (e.g. --dqs-key)
)

// Result is the outcome of one (address, zone) pair. Its JSON field names are
// part of the report contract (blprobe.report/v1).
type Result struct {
	Target    string    `json:"target"`               // the target as the user gave it
	IP        string    `json:"ip"`                   // the address (or domain, for domain zones) looked up
	Zone      string    `json:"zone"`                 // the zone as configured (DQS keys redacted)
	Query     string    `json:"query"`                // the query name sent (DQS keys redacted)
	Status    Status    `json:"status"`               //
	ErrorKind ErrorKind `json:"error_kind,omitempty"` // set when Status is "error"
	Error     string    `json:"error,omitempty"`      // human-readable detail for errors
	Codes     []string  `json:"codes"`                // every A record answered ([] when none), e.g. "127.0.0.2"
	Meanings  []string  `json:"meanings"`             // the catalogue's meaning of each code, same order
	Reason    string    `json:"reason,omitempty"`     // TXT record(s), fetched only for listed answers
	RTTms     float64   `json:"rtt_ms"`               // round-trip time of the A query
}

// Health is the verdict of a zone's RFC 5782 §5 test entries.
type Health string

// Zone health values.
const (
	HealthHealthy   Health = "healthy"
	HealthUnhealthy Health = "unhealthy" // lists everything, lists nothing, error codes, bad answers
	HealthUnknown   Health = "unknown"   // the test queries themselves failed (timeout, SERVFAIL…)
	HealthNotDone   Health = "not_done"  // interrupted before the check ran
)

// Evidence is what one test entry answered.
type Evidence struct {
	Query  string   `json:"query"`           // query name (DQS keys redacted)
	Expect string   `json:"expect"`          // "listed" or "not_listed"
	Rcode  string   `json:"rcode,omitempty"` // e.g. "NOERROR", "NXDOMAIN"
	Codes  []string `json:"codes"`           // A records answered ([] when none)
	Error  string   `json:"error,omitempty"` // transport error
	OK     bool     `json:"ok"`              // the answer is what RFC 5782 requires
}

// ZoneHealth is the health of one zone, with the evidence behind it.
type ZoneHealth struct {
	Zone      string     `json:"zone"`
	Name      string     `json:"name"`
	Type      ListType   `json:"type"` // block, allow, info
	Kind      Kind       `json:"kind"` // ip4, ip6, ip4+ip6, domain
	Health    Health     `json:"health"`
	Problem   string     `json:"problem,omitempty"` // why unhealthy/unknown, in words
	DelistURL string     `json:"delist_url,omitempty"`
	Evidence  []Evidence `json:"evidence"`
	// Path is who answered the zone's queries: "resolver", or "direct:<ns>"
	// when its own nameservers were asked (see DirectMode).
	Path string `json:"path,omitempty"`
}

// Kind says what a zone lists.
type Kind string

// Zone kinds.
const (
	KindIP4    Kind = "ip4"
	KindIP6    Kind = "ip6"
	KindIP46   Kind = "ip4+ip6"
	KindDomain Kind = "domain"
)

// ListType says what a hit means.
type ListType string

// List types.
const (
	TypeBlock ListType = "block" // a hit is evidence against the address
	TypeAllow ListType = "allow" // a hit is a good sign (DNSWL); never a block
	TypeInfo  ListType = "info"  // reputation or information only; never a block
)

// Zone is one catalogue entry. The built-in catalogue is the embedded file
// catalog.json; a user catalogue (--catalog) has the same format. The usage
// fields (DailyLimit, NeedsKey, Registration, CommercialUse) are structured so
// that a scheduler can enforce them.
type Zone struct {
	Zone        string            `json:"zone"`                   // e.g. "zen.spamhaus.org"
	Name        string            `json:"name"`                   // e.g. "Spamhaus ZEN"
	Kind        Kind              `json:"kind"`                   // which families it answers: ip4, ip6, ip4+ip6, domain
	Type        ListType          `json:"type"`                   //
	Group       Group             `json:"group,omitempty"`        // default, extended, all or dead; empty: derived from Default
	Codes       map[string]string `json:"codes,omitempty"`        // code or CIDR → meaning of a listing
	PolicyCodes []string          `json:"policy_codes,omitempty"` // codes that are policy (e.g. PBL), not spam evidence
	ErrorCodes  map[string]string `json:"error_codes,omitempty"`  // code or CIDR → meaning; never a listing
	// RefusedCodes are the error codes saying that this resolver is refused
	// or over its quota (Spamhaus 127.255.255.254/.255, URIBL 127.0.0.1):
	// the zone's own nameservers may still answer (--direct auto).
	RefusedCodes   []string `json:"refused_codes,omitempty"`
	DelistURL      string   `json:"delist_url,omitempty"`       // where to ask for removal
	NoDelistReason string   `json:"no_delist_reason,omitempty"` // why there is no delisting URL (e.g. automatic expiry)
	NeedsKey       bool     `json:"needs_key,omitempty"`        // needs an account or key (never in the default set)
	DQS            string   `json:"dqs,omitempty"`              // Spamhaus DQS zone name used with --dqs-key, e.g. "zen.dq.spamhaus.net"
	Default        bool     `json:"default"`                    // checked when no zone is given (group "default")
	// TestName replaces "test" as the positive RFC 5782 §5 test entry of a
	// domain zone (Spamhaus DBL uses "dbltest.com").
	TestName    string   `json:"test_name,omitempty"`
	TestEntries []string `json:"test_entries,omitempty"` // the positive test entries the operator documents
	IPv6Source  string   `json:"ipv6_source,omitempty"`  // where the IPv6 support (or its absence) was verified
	// Usage terms.
	Terms string `json:"terms,omitempty"` // the operator's free-use terms, in words
	// DailyLimit is the published free-use limit in queries per day (0:
	// none published); a run that would exceed it without a key (DQS) or
	// explicit permission is refused.
	DailyLimit    int           `json:"daily_limit,omitempty"`
	Registration  bool          `json:"registration,omitempty"`   // free, but the querying resolver must be registered
	CommercialUse CommercialUse `json:"commercial_use,omitempty"` // free, paid or unstated
	Sources       []string      `json:"sources,omitempty"`        // where the entry was verified
	Verified      string        `json:"verified,omitempty"`       // date of that verification, YYYY-MM-DD
	DeadSince     string        `json:"dead_since,omitempty"`     // group dead: when the list stopped, YYYY-MM-DD
	Notes         string        `json:"notes,omitempty"`          //
	// Local, when set, answers for the zone from local list data (an
	// rbldnsd data file, --zone-file) instead of DNS.
	Local *zonefile.Data `json:"-"`
}

// Group says in which selection a zone is. Groups nest: default ⊂ extended
// ⊂ all. Dead zones are kept for the record and never queried.
type Group string

// Zone groups.
const (
	GroupDefault  Group = "default"  // today's curated set
	GroupExtended Group = "extended" // every live list free to query without a key
	GroupAll      Group = "all"      // also the keyed, opt-in and neighbourhood lists
	GroupDead     Group = "dead"     // shut down: never queried
)

// CommercialUse says whether the free public service may be used
// commercially.
type CommercialUse string

// Commercial-use terms.
const (
	CommercialFree     CommercialUse = "free"     // free for commercial use too (within any daily limit)
	CommercialPaid     CommercialUse = "paid"     // commercial use needs a subscription
	CommercialUnstated CommercialUse = "unstated" // the operator's documentation does not say
)
