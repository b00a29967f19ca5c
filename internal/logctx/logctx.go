// Package logctx carries the debug logger of a unit of work (a check, a
// zone, an MX address) in a context, so that the DNS client and the SMTP
// session deep below log with the attributes of the work they serve. With no
// logger in the context nothing is logged and nothing is allocated.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

var discard = slog.New(slog.DiscardHandler)

// With returns ctx carrying l.
func With(ctx context.Context, l *slog.Logger) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, key{}, l)
}

// From returns the logger of ctx, or one that discards everything.
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(key{}).(*slog.Logger); ok {
		return l
	}
	return discard
}

// Enabled reports whether ctx's logger logs at level.
func Enabled(ctx context.Context, level slog.Level) bool {
	l, ok := ctx.Value(key{}).(*slog.Logger)
	return ok && l.Enabled(ctx, level)
}

// Unit returns ctx with a child logger for one unit of work, carrying args
// as attributes (e.g. "zone", "zen.spamhaus.org"). When ctx's logger does
// not log at debug level, ctx is returned as is.
func Unit(ctx context.Context, args ...any) context.Context {
	if !Enabled(ctx, slog.LevelDebug) {
		return ctx
	}
	return With(ctx, From(ctx).With(args...))
}
