// Command blprobe finds out why mail from a server is not delivered: it looks
// the sending IP up on DNS blocklists, asks every MX of the bouncing domains at
// the RCPT stage (never sending DATA), and writes one report for the ticket.
//
// This file and its siblings only turn flags into options, call the check,
// dnsbl, smtpcheck and egress packages, and pick a report renderer.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/blprobe/blprobe/report"
)

func main() {
	// A closed pipe on stdout must end in exit 4 with a message (the report
	// was lost), not in a silent death by SIGPIPE: with SIGPIPE ignored, the
	// write returns EPIPE (see os/signal, "SIGPIPE").
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go onSignals(sigs, cancel, os.Stderr, os.Exit)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// serving is set while blprobe serve runs: a signal then stops the
// exporter, and there is no partial report to speak of.
var serving atomic.Bool

// onSignals cancels the run at the first SIGINT/SIGTERM, so that it stops
// and still writes the partial report (serve: stops gracefully), and exits
// at once (exit 3, no report) at the second.
func onSignals(sigs <-chan os.Signal, cancel context.CancelFunc, stderr io.Writer, exit func(int)) {
	if _, ok := <-sigs; !ok {
		return
	}
	cancel()
	if serving.Load() {
		fmt.Fprintln(stderr, "blprobe: stopping the exporter (interrupt again to exit at once)")
	} else {
		fmt.Fprintln(stderr, "blprobe: interrupted: writing the partial report (interrupt again to exit at once)")
	}
	if _, ok := <-sigs; !ok {
		return
	}
	if serving.Load() {
		fmt.Fprintln(stderr, "blprobe: interrupted again: exiting at once")
	} else {
		fmt.Fprintln(stderr, "blprobe: interrupted again: exiting without a report")
	}
	exit(report.ExitInconclusive)
}
