package rdns

// HELOCheck is whether the HELO name fits the IP: an FQDN that resolves to
// it and matches its PTR. The JSON names are part of the v1 report
// (report/schema/report.v1.json).
type HELOCheck struct {
	Name         string   `json:"name"`
	FQDN         bool     `json:"fqdn"`     // has a dot and is not an address literal
	Resolves     []string `json:"resolves"` // A/AAAA of the name
	ResolvesToIP bool     `json:"resolves_to_ip"`
	MatchesPTR   bool     `json:"matches_ptr"`
	Error        string   `json:"error,omitempty"`
}

// Result is the reverse-DNS readiness of one checked IP.
type Result struct {
	IP               string              `json:"ip"`
	PTR              []string            `json:"ptr"`
	ForwardConfirmed bool                `json:"forward_confirmed"` // a PTR name resolves back to the IP (FCrDNS)
	Forward          map[string][]string `json:"forward,omitempty"` // PTR name → its addresses
	Generic          bool                `json:"generic"`           // the PTR looks dynamic/generic
	GenericWhy       string              `json:"generic_why,omitempty"`
	HELO             *HELOCheck          `json:"helo"`
	Error            string              `json:"error,omitempty"`
	Problems         []string            `json:"problems"`
}
