package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/migrate"
)

// migrateLab: old 127.0.0.20 (PTR old.probe.test), new 127.0.0.21 (PTR and
// HELO mail.probe.test); sender.test authorises only the old address under
// DMARC p=reject, wide.test the whole 127.0.0.0/24; example.test's MX
// accepts on 127.0.0.1. zen.test is a catalogue zone whose 127.0.0.10/11
// codes are policy (PBL-like); it lists 127.0.0.11 with 127.0.0.10.
func migrateLab(t *testing.T) (*lab, *smtptest.Server, []string) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	srv, port := l.smtp("127.0.0.1", smtptest.Config{})
	l.ptr("127.0.0.20", "old.probe.test", true)
	l.ptr("127.0.0.21", "mail.probe.test", true)
	l.ptr("127.0.0.11", "mail.probe.test", false)
	l.add(listed("127.0.0.11", "zen.test", "PBL listed", "127.0.0.10") + `
sender.test. 60 IN TXT "v=spf1 ip4:127.0.0.20 -all"
_dmarc.sender.test. 60 IN TXT "v=DMARC1; p=reject"
wide.test. 60 IN TXT "v=spf1 ip4:127.0.0.0/24 -all"
_dmarc.wide.test. 60 IN TXT "v=DMARC1; p=quarantine"
`)
	cat := filepath.Join(t.TempDir(), "catalog.json")
	os.WriteFile(cat, []byte(`[
  {"zone": "zen.test", "name": "Test ZEN", "kind": "ip4", "type": "block", "default": true,
   "codes": {"127.0.0.2": "spam source", "127.0.0.10": "PBL ISP", "127.0.0.11": "PBL"}, "policy_codes": ["127.0.0.10", "127.0.0.11"],
   "delist_url": "https://delist.zen.test/"},
  {"zone": "clean.test", "name": "Clean", "kind": "ip4", "type": "block", "default": true}
]`), 0o644)
	args := []string{"migrate", "--resolver", l.resolver(), "--catalog", cat, "--port", port, "--helo", "mail.probe.test",
		"--connect-timeout", "1s", "--command-timeout", "2s", "--from", "127.0.0.20"}
	return l, srv, args
}

func migrateJSON(t *testing.T, args ...string) (*migrate.Report, result) {
	t.Helper()
	res := runCLI(t, "", append(args, "--format", "json")...)
	if err := migrate.Validate([]byte(res.stdout)); err != nil {
		t.Fatalf("migrate report does not validate: %v\nstdout: %s\nstderr: %s", err, res.stdout, res.stderr)
	}
	var r migrate.Report
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != res.code {
		t.Errorf("report exit_code %d, process exit %d", r.ExitCode, res.code)
	}
	return &r, res
}

func cell(t *testing.T, r *migrate.Report, item, subject string) (old, new *migrate.Cell) {
	t.Helper()
	for _, row := range r.Rows {
		if row.Item == item && row.Subject == subject {
			return row.Old, row.New
		}
	}
	t.Fatalf("no row %s %s: %+v", item, subject, r.Rows)
	return nil, nil
}

func TestMigrateReady(t *testing.T) {
	_, srv, args := migrateLab(t)
	r, res := migrateJSON(t, append(args, "127.0.0.21", "--domain", "wide.test", "--to", "example.test")...)
	if res.code != 0 || r.Verdict != migrate.VerdictReady {
		t.Fatalf("exit %d verdict %s: %+v\n%s", res.code, r.Verdict, r.Rows, res.stderr)
	}
	for _, row := range r.Rows {
		if row.New == nil || row.New.Status != migrate.Pass {
			t.Errorf("row %s %s new %+v", row.Item, row.Subject, row.New)
		}
	}
	// SMTP ran from both addresses.
	peers := map[string]bool{}
	for _, c := range srv.Conns() {
		peers[c.Peer.Addr().String()] = true
	}
	if !peers["127.0.0.20"] || !peers["127.0.0.21"] {
		t.Errorf("SMTP peers %v, want the old and the new address", peers)
	}
	if _, n := cell(t, r, "spf", "wide.test"); !strings.Contains(n.Detail, "pass for 127.0.0.21") {
		t.Errorf("spf %+v", n)
	}
}

func TestMigrateSPFBlocker(t *testing.T) {
	_, _, args := migrateLab(t)
	r, res := migrateJSON(t, append(args, "127.0.0.21", "--domain", "sender.test")...)
	if res.code != 1 || r.Verdict != migrate.VerdictBlocked {
		t.Fatalf("exit %d verdict %s", res.code, r.Verdict)
	}
	o, n := cell(t, r, "spf", "sender.test")
	if o.Status != migrate.Pass || n.Status != migrate.Fail || !strings.Contains(n.Fix, `"v=spf1 ip4:127.0.0.20 ip4:127.0.0.21 -all"`) {
		t.Errorf("spf old %+v new %+v", o, n)
	}
	if _, n := cell(t, r, "dmarc", "sender.test"); n.Status != migrate.Fail || !strings.Contains(n.Detail, "p=reject") || !strings.Contains(n.Detail, "DKIM is not bound to the IP") {
		t.Errorf("dmarc %+v", n)
	}
	if len(r.Evidence.Suggestions) != 1 || r.Evidence.Suggestions[0].Verified != "pass" {
		t.Errorf("suggestions %+v", r.Evidence.Suggestions)
	}
	// Text output shows the record to publish and the fix.
	txt := runCLI(t, "", append(args, "127.0.0.21", "--domain", "sender.test")...)
	for _, want := range []string{"BLOCKED (exit 1)", "SPF sender.test", `publish at sender.test: "v=spf1 ip4:127.0.0.20 ip4:127.0.0.21 -all"`} {
		if !strings.Contains(txt.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, txt.stdout)
		}
	}
}

func TestMigratePBLBlocker(t *testing.T) {
	_, _, args := migrateLab(t)
	r, res := migrateJSON(t, append(args, "127.0.0.11", "--domain", "wide.test")...)
	if res.code != 1 {
		t.Fatalf("exit %d", res.code)
	}
	o, n := cell(t, r, "listings", "")
	if o.Status != migrate.Pass || n.Status != migrate.Fail || !strings.Contains(n.Fix, migrate.PBLFix) {
		t.Errorf("listings old %+v new %+v", o, n)
	}
	if _, n := cell(t, r, "rdns", ""); n.Status != migrate.Fail {
		t.Errorf("unconfirmed PTR: %+v", n)
	}
	found := false
	for _, b := range r.Blockers {
		found = found || b.Address == "127.0.0.11" && b.Item == "listings" && b.Fix == migrate.PBLFix
	}
	if !found {
		t.Errorf("blockers %+v", r.Blockers)
	}
	md := runCLI(t, "", append(args, "127.0.0.11", "--domain", "wide.test", "--format", "markdown")...)
	if !strings.Contains(md.stdout, "| Listings | **PASS**") || !strings.Contains(md.stdout, "## Blockers") {
		t.Errorf("markdown:\n%s", md.stdout)
	}
}

func TestMigrateNewNotLocal(t *testing.T) {
	_, srv, args := migrateLab(t)
	isLocal = func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.20") }
	t.Cleanup(func() { isLocal = check.CanBind })
	r, res := migrateJSON(t, append(args, "127.0.0.21", "--domain", "wide.test", "--to", "example.test")...)
	if res.code != 3 || r.Verdict != migrate.VerdictInconclusive {
		t.Fatalf("exit %d verdict %s", res.code, r.Verdict)
	}
	o, n := cell(t, r, "smtp", "example.test")
	if o.Status != migrate.Pass || n.Status != migrate.NotChecked || n.Fix != "run `blprobe check --to example.test` from the new network after cut-over" {
		t.Errorf("smtp old %+v new %+v", o, n)
	}
	if o, n := cell(t, r, "port25", ""); o.Status != migrate.Pass || n.Status != migrate.NotChecked {
		t.Errorf("port25 old %+v new %+v", o, n)
	}
	for _, c := range srv.Conns() {
		if c.Peer.Addr().String() != "127.0.0.20" {
			t.Errorf("SMTP ran from %s", c.Peer.Addr())
		}
	}
}

func TestMigrateRange(t *testing.T) {
	_, _, args := migrateLab(t)
	r, res := migrateJSON(t, append(args, "127.0.0.20/30", "--domain", "sender.test")...)
	if res.code != 1 {
		t.Fatalf("exit %d", res.code)
	}
	a := r.Aggregate
	if a == nil || a.Addresses != 4 || a.Checked != 4 || a.WithPTR != 2 || a.ForwardConfirmed != 2 || a.SPFAuthorised["sender.test"] != 1 {
		t.Fatalf("aggregate %+v", a)
	}
	// .22/.23 have no PTR, .21 fails SPF, and the HELO name resolves to
	// .21 only, so every address has a blocker.
	if strings.Join(a.BlockerAddresses, " ") != "127.0.0.22 127.0.0.23 127.0.0.20 127.0.0.21" {
		t.Errorf("blocker addresses %v", a.BlockerAddresses)
	}
	if _, n := cell(t, r, "spf", "sender.test"); n.Status != migrate.Fail || !strings.HasPrefix(n.Detail, "3 fail, 1 pass of 4 addresses") {
		t.Errorf("spf %+v", n)
	}
	if len(r.Evidence.Suggestions) != 1 || r.Evidence.Suggestions[0].Add != "ip4:127.0.0.20/30" || r.Evidence.Suggestions[0].Verified != "pass" {
		t.Errorf("suggestion %+v", r.Evidence.Suggestions)
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"migrate", "--resolver", "127.0.0.1:1", "127.0.0.21", "--domain", "a.test"},
		{"migrate", "--resolver", "127.0.0.1:1", "--from", "nope", "127.0.0.21", "--domain", "a.test"},
		{"migrate", "--resolver", "127.0.0.1:1", "--from", "127.0.0.20", "127.0.0.21"},
		{"migrate", "--resolver", "127.0.0.1:1", "--from", "127.0.0.20", "127.0.0.21", "127.0.0.22", "--domain", "a.test"},
		{"migrate", "--resolver", "127.0.0.1:1", "--from", "127.0.0.20", "host.test", "--domain", "a.test"},
		{"migrate", "--resolver", "127.0.0.1:1", "--from", "127.0.0.20", "127.0.0.21", "--domain", "bad domain"},
		{"migrate", "--resolver", "127.0.0.1:1", "--from", "127.0.0.20", "127.0.0.20", "--domain", "a.test"}, // old = new
	} {
		res := runCLI(t, "", args...)
		if res.code != 2 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || !strings.HasPrefix(res.stderr, "blprobe: ") {
			t.Errorf("%v: exit %d stderr %q", args, res.code, res.stderr)
		}
	}
}

func TestMigrateNeitherLocalAndSecrets(t *testing.T) {
	_, srv, args := migrateLab(t)
	isLocal = func(netip.Addr) bool { return false }
	t.Cleanup(func() { isLocal = check.CanBind })
	const key = "SeCrEtKey1234"
	args = append(args, "127.0.0.21", "--domain", "wide.test", "--to", "example.test", "--dqs-key", key)
	r, res := migrateJSON(t, args...)
	if res.code != 3 {
		t.Fatalf("exit %d", res.code)
	}
	// The old column ran from this machine's default address and says so.
	o, n := cell(t, r, "smtp", "example.test")
	if o.Status != migrate.Pass || !strings.Contains(o.Detail, "127.0.0.20 is not an address of this machine") || n.Status != migrate.NotChecked {
		t.Errorf("smtp old %+v new %+v", o, n)
	}
	if len(srv.Conns()) != 1 {
		t.Errorf("%d SMTP connections, want 1 (the old column only)", len(srv.Conns()))
	}
	for _, format := range []string{"json", "text", "markdown"} {
		out := runCLI(t, "", append(args, "--format", format)...)
		if strings.Contains(out.stdout+out.stderr, key) {
			t.Errorf("%s output leaks the DQS key", format)
		}
	}
	if !strings.Contains(strings.Join(r.Command, " "), "REDACTED") {
		t.Errorf("command %v", r.Command)
	}
}

func TestMigrateNoHELOWarns(t *testing.T) {
	_, _, args := migrateLab(t)
	var a []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--helo" {
			i++
			continue
		}
		a = append(a, args[i])
	}
	r, res := migrateJSON(t, append(a, "127.0.0.21", "--domain", "wide.test")...)
	if res.code != 0 {
		t.Fatalf("exit %d: %+v", res.code, r.Rows)
	}
	for _, row := range r.Rows {
		if row.Item == "helo" {
			t.Errorf("HELO row without --helo: %+v", row)
		}
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "no --helo given") {
		t.Errorf("warnings %q", r.Warnings)
	}
}
