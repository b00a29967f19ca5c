package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newProgress returns a progress callback that draws a bar on w when w is a
// terminal, and nil otherwise (no output in pipes, files or CI logs).
func newProgress(w io.Writer, label string) func(done, total int) {
	f, ok := w.(*os.File)
	if !ok || !isTerm(f.Fd()) {
		return nil
	}
	var (
		mu  sync.Mutex
		bar *progressbar.ProgressBar
	)
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			if total < 200 { // short runs finish before a bar is worth drawing
				return
			}
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(f),
				progressbar.OptionSetDescription(label),
				progressbar.OptionShowCount(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set(done) // a failed redraw of the bar is not worth stopping for
	}
}
