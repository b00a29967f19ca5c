package e2e

import "github.com/blprobe/blprobe/report"

// validateReport checks a JSON report against the embedded v1 JSON Schema.
func validateReport(data []byte) error { return report.Validate(data) }
