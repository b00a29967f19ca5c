// Command blprobe finds out why mail from a server is not delivered: it looks
// the sending IP up on DNS blocklists, asks every MX of the bouncing domains at
// the RCPT stage (never sending DATA), and writes one report for the ticket.
//
// This file and its siblings only turn flags into options, call the dnsbl,
// smtpcheck and report packages, and map outcomes to exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A closed pipe on stdout must end in exit 4 with a message (the report
	// was lost), not in a silent death by SIGPIPE: with SIGPIPE ignored, the
	// write returns EPIPE (see os/signal, "SIGPIPE").
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
