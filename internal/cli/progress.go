package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressWidth is the bar's width in characters.
const progressWidth = 30

// progress draws an upload's progress bar on a terminal (stderr), redrawn
// in place whenever the whole percentage changes. It is only made for a
// terminal: piped output and --output json get no bar, so logs and scripts
// see no carriage returns.
type progress struct {
	w     io.Writer
	label string
	total int64
	sent  int64
	last  int // the percentage last drawn; -1 before the first
	began time.Time
	ended bool
}

func newProgress(w io.Writer, label string, total int64) *progress {
	return &progress{w: w, label: label, total: total, last: -1, began: time.Now()}
}

// Write counts bytes as they leave for the server (the upload's body is
// teed through it) and redraws the bar.
func (p *progress) Write(b []byte) (int, error) {
	p.sent += int64(len(b))
	if pct := percent(p.sent, p.total); pct != p.last {
		p.last = pct
		fmt.Fprint(p.w, "\r"+progressLine(p.label, p.sent, p.total, progressWidth))
	}
	return len(b), nil
}

// done ends the bar's line with the time taken; the server's answer follows.
func (p *progress) done() {
	if p.ended {
		return
	}
	p.ended = true
	fmt.Fprintf(p.w, " %s\n", time.Since(p.began).Round(100*time.Millisecond))
}

// percent is sent of total in whole percent, 0 to 100.
func percent(sent, total int64) int {
	switch {
	case total <= 0 || sent >= total:
		return 100
	case sent <= 0:
		return 0
	}
	return int(sent * 100 / total)
}

// progressLine is one drawing of the bar: label [####......]  42% 1.2 MiB/3.0 MiB.
func progressLine(label string, sent, total int64, width int) string {
	pct := percent(sent, total)
	fill := pct * width / 100
	return fmt.Sprintf("%s [%s%s] %3d%% %s/%s", label, strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		pct, humanBytes(sent), humanBytes(total))
}

// humanBytes is n in B, KiB or MiB with one decimal.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
