package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/smtpcheck"
)

// TestSMTPRcptsPerDomain: the SMTP header names what each domain was asked
// at RCPT (each asked-for recipient only for its own domain, postmaster@ for
// the others), and the JSON says it per domain.
func TestSMTPRcptsPerDomain(t *testing.T) {
	dom := func(name string, rcpts ...string) smtpcheck.Domain {
		return smtpcheck.Domain{Domain: name, Status: smtpcheck.DomainOK, Rcpts: rcpts, MX: []smtpcheck.MX{}}
	}
	tests := []struct {
		name    string
		rcpts   []string
		domains []smtpcheck.Domain
		header  string
		perDom  map[string]string // JSON smtp.domains[].rcpts
	}{
		{"default", nil, []smtpcheck.Domain{dom("good.test", "postmaster@good.test")},
			"RCPT TO postmaster@DOMAIN", map[string]string{"good.test": "postmaster@good.test"}},
		{"one domain asked for, another got postmaster", []string{"a@good.test"},
			[]smtpcheck.Domain{dom("good.test", "a@good.test"), dom("other.test", "postmaster@other.test")},
			"RCPT TO postmaster@DOMAIN; a@good.test for good.test", map[string]string{"good.test": "a@good.test", "other.test": "postmaster@other.test"}},
		{"every domain asked for", []string{"a@good.test", "b@good.test", "c@other.test"},
			[]smtpcheck.Domain{dom("good.test", "a@good.test", "b@good.test"), dom("other.test", "c@other.test")},
			"RCPT TO a@good.test, b@good.test for good.test; c@other.test for other.test", map[string]string{"good.test": "a@good.test,b@good.test", "other.test": "c@other.test"}},
		{"result without per-domain recipients", []string{"a@good.test"},
			[]smtpcheck.Domain{dom("good.test"), dom("other.test")},
			"RCPT TO postmaster@DOMAIN; a@good.test for good.test", map[string]string{"good.test": "a@good.test", "other.test": "postmaster@other.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Tool{Name: "blprobe", Version: "test"}, []string{"blprobe", "smtp"}, "")
			r.Started, r.Finished = time.Unix(0, 0).UTC(), time.Unix(1, 0).UTC()
			r.SMTP = &smtpcheck.Result{HELO: "mail.example.org", From: "<>", Rcpts: tt.rcpts, Port: 25, TLSMode: "opportunistic", Domains: tt.domains}
			text := render(t, r, "text")
			if !strings.Contains(text, tt.header+",") {
				t.Errorf("text header lacks %q:\n%s", tt.header, text)
			}
			md := render(t, r, "markdown")
			if want := strings.Replace(tt.header, "RCPT TO ", "RCPT TO `", 1) + "`"; !strings.Contains(md, want) {
				t.Errorf("Markdown lacks %q:\n%s", want, md)
			}
			var doc struct {
				SMTP struct {
					Domains []struct {
						Domain string   `json:"domain"`
						Rcpts  []string `json:"rcpts"`
					} `json:"domains"`
				} `json:"smtp"`
			}
			if err := json.Unmarshal([]byte(render(t, r, "json")), &doc); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, d := range doc.SMTP.Domains {
				got[d.Domain] = strings.Join(d.Rcpts, ",")
			}
			for d, want := range tt.perDom {
				if got[d] != want {
					t.Errorf("JSON %s rcpts %q, want %q", d, got[d], want)
				}
			}
		})
	}
}
