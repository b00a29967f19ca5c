// Port 25 blocked on this network.

package check

import (
	"fmt"

	"github.com/blprobe/blprobe/smtpcheck"
)

// port25 reports a local block of outbound port 25 (e.g. https://docs.aws.amazon.com/ec2/latest/devguide/ec2-service-restrictions.html,
// https://learn.microsoft.com/en-us/azure/virtual-network/troubleshoot-outbound-smtp-connectivity).
func (a *analysis) port25() {
	if a.r.SMTP == nil || !a.r.SMTP.Port25Blocked {
		return
	}
	n := 0
	for _, pr := range a.probes {
		if pr.p.Class == smtpcheck.ClassConnectTimeout {
			n++
		}
	}
	a.add(KindPort25Blocked, SevProblem,
		fmt.Sprintf("every connection to port 25 timed out (%d of %d addresses): outbound port 25 appears blocked by this network, so the SMTP probes say nothing about the receivers", n, len(a.probes)),
		map[string]string{"timeouts": fmt.Sprint(n), "probes": fmt.Sprint(len(a.probes))})
	a.stepAt(prioCause, "outbound port 25 is blocked by this network: ask the provider to open it or relay through a smarthost")
}
