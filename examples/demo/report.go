package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/sipua"
	"github.com/callrec/callrec/sipadapter"
)

// intro says what runs where.
func (d *demo) intro() {
	e := d.env
	layout := "stereo: caller left, callee right"
	if d.opts.mono {
		layout = "mono: both parties mixed"
	}
	a, _ := guidance.Lookup(d.opts.announcement)
	fmt.Fprintf(d.w, "callrec demo: everything on 127.0.0.1, in this process\n")
	fmt.Fprintf(d.w, "  company PBX phone  %-21s line %s (fixed), staff voice %d Hz\n", e.inside.Addr(), companyNumber, companyPitch)
	fmt.Fprintf(d.w, "  customer phone     %-21s %s (Tokyo), voice %d Hz\n", e.outside.Addr(), customerNumber, customerPitch)
	fmt.Fprintf(d.w, "  recording B2BUA    inside %s, outside %s\n", e.b2bua.Addr(sipadapter.Inside), e.b2bua.Addr(sipadapter.Outside))
	fmt.Fprintf(d.w, "  archive            http://%s  → %s\n", e.httpLn.Addr(), filepath.Join(d.opts.out, "archive"))
	fmt.Fprintf(d.w, "  announcement %d (%s): %q\n", a.ID, a.Purpose, a.Gloss(""))
	fmt.Fprintf(d.w, "  recording %s; talk time %v per call\n", layout, d.opts.duration)
}

func (d *demo) header(sc *scenario) {
	fmt.Fprintf(d.w, "\n[%d/%d] %s: %s dials %s\n", sc.n, sc.of, capitalize(sc.title), sc.callerName, sc.dialled)
}

// line prints one timeline entry at time t of the call; an entry without
// a name continues the one before.
func (d *demo) line(r *result, t time.Time, what, format string, args ...any) {
	when := fmt.Sprintf("%+8.3fs", t.Sub(r.t0).Seconds())
	if what == "" {
		when = strings.Repeat(" ", len(when))
	}
	fmt.Fprintf(d.w, "  %s  %-10s %s\n", when, what, fmt.Sprintf(format, args...))
}

// event prints one event of the B2BUA or the delivery.
func (d *demo) event(r *result, ev sipadapter.Event) {
	sc := r.sc
	switch ev.Kind {
	case sipadapter.EventDecided:
		dec := ev.Decision
		if dec == nil {
			d.line(r, ev.Time, "decided", "(no decision)")
			return
		}
		to := ""
		if !dec.Refused() {
			to = ", forward to " + dec.Destination
		}
		d.line(r, ev.Time, "decided", "%s (%s%s): %s", dec.Verdict, dec.Class, to, dec.Reason)
		if dec.ReasonJA != "" {
			d.line(r, ev.Time, "", "%s", dec.ReasonJA)
		}
	case sipadapter.EventRinging:
		d.line(r, ev.Time, "ringing", "%d from the %s's phone, passed back to the %s", ev.Code, sc.calleeName, sc.callerName)
	case sipadapter.EventAnswered:
		d.line(r, ev.Time, "answered", "the %s picks up: 200 OK, ACK", sc.calleeName)
	case sipadapter.EventGuidanceStarted:
		d.line(r, ev.Time, "guidance", "announcement %d to both parties; billing starts now", d.opts.announcement)
	case sipadapter.EventGuidanceEnded:
		took, _ := r.span(sipadapter.EventGuidanceStarted, sipadapter.EventGuidanceEnded)
		extra := ""
		if ev.Cause != "" {
			extra = " (" + ev.Cause + ")"
		}
		d.line(r, ev.Time, "guidance", "ended after %.2fs%s; the parties hear each other", took.Seconds(), extra)
	case sipadapter.EventRecordingStarted:
		d.line(r, ev.Time, "recording", "started: both directions into the WAV")
	case sipadapter.EventEnded:
		if ev.Cause == sipadapter.CauseRefused {
			d.line(r, ev.Time, "ended", "refused with %d, never forwarded", ev.Code)
			return
		}
		d.line(r, ev.Time, "ended", "%s, hung up by the %s", ev.Cause, ev.HungUp)
	case sipadapter.EventEnqueued:
		d.line(r, ev.Time, "enqueued", "recording %s in the delivery spool", ev.RecordingID)
	case sipadapter.EventDelivered:
		rec, err := d.loadDelivered(ev.RecordingID)
		if err != nil {
			d.line(r, ev.Time, "delivered", "%s, but it cannot be read: %v", ev.RecordingID, err)
			return
		}
		r.rec = rec
		d.line(r, ev.Time, "delivered", "%s (%d bytes) over HTTP", rec.wavPath, rec.size)
		d.line(r, ev.Time, "", "SHA-256 %s", rec.sha256)
	default:
		d.line(r, ev.Time, ev.Kind.String(), "")
	}
}

// dialled prints what the caller's phone got back.
func (d *demo) dialled(r *result, res dialResult) {
	now := time.Now()
	var se *sipua.StatusError
	switch {
	case res.err == nil:
		r.code = 200
		d.line(r, now, "connected", "the %s's phone got 200 OK (%s)", r.sc.callerName, res.call.Codec())
	case errors.As(res.err, &se):
		r.code, r.rejection = se.Code, se
		d.line(r, now, "final", "the %s's phone got %d %s", r.sc.callerName, se.Code, se.Phrase)
		if se.Reason != "" {
			d.line(r, now, "", "Reason: %s", se.Reason)
		}
	default:
		d.line(r, now, "failed", "%v", res.err)
	}
}

// report prints a call's checks.
func (d *demo) report(r *result) {
	for _, c := range r.checks {
		mark := "✓"
		if !c.ok {
			mark = "✗ FAIL"
		}
		fmt.Fprintf(d.w, "  %s %s: %s\n", mark, c.name, c.detail)
	}
}

// summary prints one row per call and the verdict.
func (d *demo) summary(results []*result, took time.Duration) {
	fmt.Fprintf(d.w, "\nSummary\n")
	tw := tabwriter.NewWriter(d.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tcall\tdialled\tverdict\tcaller got\tbilling start\trecorded\tchecks")
	total, failed := 0, 0
	for _, r := range results {
		sc := r.sc
		verdict := "-"
		if r.decided != nil {
			verdict = r.decided.Verdict.String()
		}
		billing, recorded := "-", "-"
		if t, ok := r.at[sipadapter.EventGuidanceStarted]; ok {
			billing = fmt.Sprintf("+%.2fs", t.Sub(r.t0).Seconds())
		}
		if r.rec != nil {
			recorded = fmt.Sprintf("%.2fs %s", r.rec.duration.Seconds(), filepath.Base(r.rec.wavPath))
		}
		n, f := len(r.checks), r.failed()
		total, failed = total+n, failed+f
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\n",
			sc.n, sc.direction, sc.dialled, verdict, codeText(r.code), billing, recorded, n-f, n)
	}
	_ = tw.Flush()
	if n := d.env.hub.strays(); n > 0 {
		fmt.Fprintf(d.w, "warning: %d events of unknown calls were dropped\n", n)
	}
	fmt.Fprintf(d.w, "\nFiles in %s: a PNG per recording, cdr.jsonl, and archive/ (the delivered WAVs with their metadata JSON, by date)\n", d.opts.out)
	if failed == 0 && total > 0 {
		fmt.Fprintf(d.w, "All %d checks passed in %.1fs.\n", total, took.Seconds())
	} else {
		fmt.Fprintf(d.w, "%d of %d checks FAILED (%.1fs).\n", failed, total, took.Seconds())
	}
}

func codeText(code int) string {
	if code == 0 {
		return "-"
	}
	return fmt.Sprint(code)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// progress is the indicator while a call runs: on a terminal a spinner
// with the call's phase and elapsed time, redrawn in place; otherwise
// nothing beyond the timeline's own lines.
type progress struct {
	w      io.Writer
	tty    bool
	sc     *scenario
	start  time.Time
	what   string
	frame  int
	shown  bool
	ticker *time.Ticker
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func newProgress(w io.Writer, tty bool, sc *scenario) *progress {
	p := &progress{w: w, tty: tty, sc: sc, start: time.Now(), what: "calling"}
	if tty {
		p.ticker = time.NewTicker(100 * time.Millisecond)
	}
	return p
}

// tick returns the redraw channel, nil (never ready) when not on a
// terminal.
func (p *progress) tick() <-chan time.Time {
	if p.ticker == nil {
		return nil
	}
	return p.ticker.C
}

func (p *progress) phase(k sipadapter.EventKind) {
	switch k {
	case sipadapter.EventRinging:
		p.what = "ringing"
	case sipadapter.EventGuidanceStarted:
		p.what = "announcement playing (billing started)"
	case sipadapter.EventRecordingStarted:
		p.what = "talking, recording"
	case sipadapter.EventEnded:
		p.what = "delivering"
	}
}

func (p *progress) draw() {
	p.frame++
	bar := strings.Repeat("█", p.sc.n-1) + spinner[p.frame%len(spinner)] + strings.Repeat("·", p.sc.of-p.sc.n)
	fmt.Fprintf(p.w, "\r\033[K  %s call %d/%d  %5.1fs  %s", bar, p.sc.n, p.sc.of, time.Since(p.start).Seconds(), p.what)
	p.shown = true
}

// clear erases the spinner line before other output.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// stop clears the line and stops the ticker.
func (p *progress) stop() {
	p.clear()
	if p.ticker != nil {
		p.ticker.Stop()
	}
}

// serving says where the archive's UI is and how to log in.
func (d *demo) serving() {
	fmt.Fprintf(d.w, "\nThe archive keeps running: http://%s/\n", d.env.httpLn.Addr())
	fmt.Fprintf(d.w, "  log in as %s / %s (the company line's agent) or %s / %s (administrator); Ctrl-C stops.\n",
		demoAgent, demoPassword, demoAdmin, demoPassword)
}
