package egress

// Answer is what one egress source (OpenDNS, Google, Akamai, Cloudflare)
// said. The JSON names are part of the v1 report (report/schema/report.v1.json).
type Answer struct {
	Source string   `json:"source"` // e.g. "opendns"
	Server string   `json:"server"` // host:port asked
	Query  string   `json:"query"`  // e.g. "myip.opendns.com A"
	Family string   `json:"family"` // "ipv4" or "ipv6"
	IPs    []string `json:"ips"`
	Error  string   `json:"error,omitempty"`
	RTTms  float64  `json:"rtt_ms"`
}

// Family is the agreed egress address of one IP family.
type Family struct {
	IP       string `json:"ip,omitempty"` // the address the sources agree on
	Agree    bool   `json:"agree"`        // every source that answered gave the same address
	Answered int    `json:"answered"`     // how many sources answered
	Problem  string `json:"problem,omitempty"`
}

// Result is what Detect found: what each source said and, per family,
// whether they agree.
type Result struct {
	Answers []Answer `json:"answers"`
	IPv4    Family   `json:"ipv4"`
	IPv6    Family   `json:"ipv6"`
	// IPSource is true when the checked addresses came from this detection
	// (blprobe check auto, blprobe egress): then a family whose sources
	// disagree, or no family found at all, makes the run inconclusive.
	// Detect leaves it false; the caller that uses the answer sets it.
	IPSource bool `json:"ip_source,omitempty"`
}

// IPs returns the agreed egress addresses (IPv4 first).
func (r *Result) IPs() []string {
	var out []string
	for _, f := range []Family{r.IPv4, r.IPv6} {
		if f.IP != "" && f.Agree {
			out = append(out, f.IP)
		}
	}
	return out
}
