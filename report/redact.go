package report

import (
	"sort"
	"strings"
	"time"
)

// Redacted replaces every secret in reports and renderings.
const Redacted = "REDACTED"

// New starts a v1 report: schema, tool, the start time (now, UTC), verdict
// inconclusive until [Report.Finalize] decides, and the command line with every secret redacted. A secret is redacted wherever it
// appears: as a whole argument, as the value of --flag=SECRET, or inside a
// longer argument. Values of flags whose name says they hold a secret
// (key, token, password, secret) are redacted even if not listed. The
// secrets are also kept (unexported, never marshalled) so that every
// renderer redacts them from the whole output.
func New(tool Tool, command []string, secrets ...string) *Report {
	r := &Report{
		Schema:       SchemaV1,
		Tool:         tool,
		Started:      time.Now().UTC(),
		Command:      []string{},
		Resolvers:    []string{},
		NextSteps:    []string{},
		Warnings:     []string{},
		Correlations: []Correlation{},
		// Until Finalize decides, nothing is known: never "clean" by default.
		Verdict:  VerdictInconclusive,
		ExitCode: ExitInconclusive,
	}
	r.AddSecrets(secrets...)
	r.Command = redactArgs(command, r.secrets)
	return r
}

// AddSecrets registers more secrets to redact from every rendering of r
// (JSON, text, Markdown). Empty strings are ignored.
func (r *Report) AddSecrets(secrets ...string) {
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	r.Command = redactArgs(r.Command, r.secrets)
}

// Redact returns s with every occurrence of every non-empty secret replaced
// by [Redacted]. Longer secrets are replaced first, so a secret that contains
// another is fully hidden.
func Redact(s string, secrets ...string) string {
	for _, sec := range sortedSecrets(secrets) {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// sortedSecrets returns the non-empty secrets, longest first.
func sortedSecrets(secrets []string) []string {
	out := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s != "" {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// redactArgs redacts secrets from argv, plus the values of secret-looking
// flags ("--dqs-key X", "--dqs-key=X").
func redactArgs(args []string, secrets []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	valueNext := false
	for i, a := range args {
		switch {
		case valueNext && !strings.HasPrefix(a, "-"):
			a = Redacted
		case strings.HasPrefix(a, "-"):
			name, _, hasValue := strings.Cut(a, "=")
			if secretFlag(name) {
				if hasValue {
					a = name + "=" + Redacted
				}
			}
		}
		valueNext = strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && secretFlag(a)
		out[i] = Redact(a, secrets...)
	}
	return out
}

// secretFlag reports whether a flag name (with its dashes) names a secret:
// --key, --dqs-key, --api-token, --smtp-password…
func secretFlag(name string) bool {
	n := strings.ToLower(strings.TrimLeft(name, "-"))
	if n == "" {
		return false
	}
	for _, w := range []string{"key", "token", "password", "passwd", "secret"} {
		if n == w || strings.HasSuffix(n, "-"+w) || strings.HasSuffix(n, "_"+w) {
			return true
		}
	}
	return false
}
