package logctx

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestUnitLoggers(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := With(context.Background(), l)
	zone := Unit(ctx, "zone", "zen.test")
	From(zone).Debug("dns exchange", "name", "2.0.0.127.zen.test.")
	From(ctx).Debug("plain")
	out := buf.String()
	if !strings.Contains(out, `msg="dns exchange" zone=zen.test name=2.0.0.127.zen.test.`) || !strings.Contains(out, "msg=plain\n") {
		t.Errorf("log:\n%s", out)
	}

	// Without a logger, or above debug level, nothing is wrapped or logged.
	bg := context.Background()
	if Unit(bg, "zone", "x") != bg || Enabled(bg, slog.LevelDebug) {
		t.Error("a context without logger must stay as is")
	}
	From(bg).Error("dropped") // must not panic
	info := With(bg, slog.New(slog.NewTextHandler(&buf, nil)))
	if Unit(info, "zone", "x") != info {
		t.Error("an info-level logger needs no unit loggers")
	}
}
