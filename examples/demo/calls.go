package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/internal/sipua"
	"github.com/callrec/callrec/sipadapter"
	"github.com/emiago/sipgo/sip"
)

// Time limits: a call's setup, guidance and delivery must fit in
// callSlack beyond the talk time; a refused call must not reach the callee
// within notForwardedWait.
const (
	callSlack        = 25 * time.Second
	notForwardedWait = 300 * time.Millisecond
)

// demo places the calls and reports on them.
type demo struct {
	env  *env
	opts options
	w    io.Writer
}

// scenario is one call the demo places.
type scenario struct {
	n, of     int
	title     string
	direction dialplan.Direction
	dialled   string // as a person dials it
	caller    *sipua.UA
	callee    *sipua.UA
	ingress   sipadapter.Side // where the caller's INVITE enters the B2BUA
	// For a recorded call: the number the callee must be called at, who
	// hangs up after the talk time, and each party's voice.
	destination  string
	hangUp       sipadapter.Party
	callerPitch  float64
	calleePitch  float64
	callerName   string
	calleeName   string
	wantVerdict  dialplan.Verdict
	wantCode     int // final response the caller must get
	wantRecorded bool
	// headers go on the caller's INVITE; a forwarded call's History-Info
	// must come back as the recording's DivertedFrom.
	headers          []sip.Header
	wantDivertedFrom string
}

func (d *demo) scenarios() []*scenario {
	e := d.env
	s := []*scenario{{
		title: "outgoing call with the recording prefix", direction: dialplan.Outgoing,
		dialled: "0077-27-" + customerNumber, caller: e.inside, callee: e.outside, ingress: sipadapter.Inside,
		destination: digits(customerNumber), hangUp: sipadapter.PartyCaller,
		callerPitch: companyPitch, calleePitch: customerPitch, callerName: "company", calleeName: "customer",
		wantVerdict: dialplan.VerdictRecord, wantCode: sip.StatusOK, wantRecorded: true,
	}, {
		title: "incoming call to the company's 03 number", direction: dialplan.Incoming,
		dialled: companyNumber, caller: e.outside, callee: e.inside, ingress: sipadapter.Outside,
		destination: digits(companyNumber), hangUp: sipadapter.PartyCallee,
		callerPitch: customerPitch, calleePitch: companyPitch, callerName: "customer", calleeName: "company",
		wantVerdict: dialplan.VerdictRecord, wantCode: sip.StatusOK, wantRecorded: true,
	}, {
		title: "incoming call forwarded from the company's 03 number to a mobile", direction: dialplan.Incoming,
		dialled: forwardedMobile, caller: e.outside, callee: e.inside, ingress: sipadapter.Outside,
		destination: digits(forwardedMobile), hangUp: sipadapter.PartyCaller,
		callerPitch: customerPitch, calleePitch: companyPitch, callerName: "customer", calleeName: "company mobile",
		wantVerdict: dialplan.VerdictRecord, wantCode: sip.StatusOK, wantRecorded: true,
		headers: []sip.Header{sip.NewHeader("History-Info", "<sip:"+digits(companyNumber)+"@ims.example>;index=1, <sip:"+
			digits(forwardedMobile)+"@ims.example;cause=302>;index=1.1")},
		wantDivertedFrom: digits(companyNumber),
	}, {
		title: "emergency number with the recording prefix", direction: dialplan.Outgoing,
		dialled: "0077-27-110", caller: e.inside, callee: e.outside, ingress: sipadapter.Inside,
		callerName: "company", calleeName: "network",
		wantVerdict: dialplan.VerdictEmergency, wantCode: 380,
	}}
	for i, sc := range s {
		sc.n, sc.of = i+1, len(s)
	}
	return s
}

// result is what happened to one call and what the checks found.
type result struct {
	sc      *scenario
	callID  string
	t0      time.Time
	events  []sipadapter.Event
	at      map[sipadapter.EventKind]time.Time // first time of each kind
	decided *dialplan.Decision
	ended   *sipadapter.Event

	code      int // final response the caller got
	rejection *sipua.StatusError
	caller    *sipua.Call
	callee    *sipua.Call
	hangUpErr error

	recordingID string
	rec         *delivered // the file the receiver holds, once delivered
	checks      []check
}

type dialResult struct {
	call *sipua.Call
	err  error
}

// place runs one call to its end (and, when recorded, its delivery),
// printing its timeline, then checks it.
func (d *demo) place(parent context.Context, sc *scenario) *result {
	var tag [6]byte
	_, _ = rand.Read(tag[:])
	r := &result{
		sc: sc, callID: fmt.Sprintf("demo-%d-%s@127.0.0.1", sc.n, hex.EncodeToString(tag[:])),
		at: make(map[sipadapter.EventKind]time.Time),
	}
	events := d.env.hub.watch(r.callID)
	d.header(sc)
	ctx, cancel := context.WithTimeout(parent, d.opts.duration+callSlack)
	defer cancel()

	var wg sync.WaitGroup
	acceptCtx, stopAccept := context.WithCancel(ctx)
	defer stopAccept()
	dialled := make(chan dialResult, 1)
	accepted := make(chan *sipua.Call, 1)
	hungUp := make(chan error, 1)
	target := "sip:" + digits(sc.dialled) + "@" + d.env.b2bua.Addr(sc.ingress).String()
	cid := sip.CallIDHeader(r.callID)
	r.t0 = time.Now()
	d.line(r, r.t0, "INVITE", "%s dials %s  (%s)", sc.callerName, sc.dialled, target)
	wg.Go(func() {
		c, err := sc.caller.Dial(ctx, target, append([]sip.Header{&cid}, sc.headers...)...)
		dialled <- dialResult{c, err}
	})
	wg.Go(func() {
		if c, err := sc.callee.Accept(acceptCtx); err == nil {
			accepted <- c
		}
	})

	prog := newProgress(d.w, d.opts.tty, sc)
	defer prog.stop()
	var (
		enqueued                         *sipadapter.Event // held until the end is printed
		talk                             <-chan time.Time
		notForwarded                     <-chan time.Time
		dialDone, ended, delivered, done bool
	)
	for !done {
		select {
		case ev := <-events:
			r.record(ev)
			prog.clear()
			// The B2BUA enqueues a recording just before it reports the
			// end of its call; print them in the order of their times.
			switch {
			case ev.Kind == sipadapter.EventEnqueued && !ended:
				enqueued = &ev
			case ev.Kind == sipadapter.EventEnded && enqueued != nil:
				d.event(r, ev)
				d.event(r, *enqueued)
				enqueued = nil
			default:
				d.event(r, ev)
			}
			switch ev.Kind {
			case sipadapter.EventRecordingStarted:
				// From the event's time, not from now: the talk time is
				// the same however late this loop saw the event.
				talk = time.After(time.Until(ev.Time.Add(d.opts.duration)))
			case sipadapter.EventEnded:
				ended = true
			case sipadapter.EventDelivered:
				delivered = true
			}
			prog.phase(ev.Kind)
		case res := <-dialled:
			dialDone = true
			r.caller = res.call
			prog.clear()
			d.dialled(r, res)
			if res.err != nil {
				// A call that failed must not have reached the callee: give
				// a forwarded INVITE time to arrive before giving up on it.
				notForwarded = time.After(notForwardedWait)
			}
		case c := <-accepted:
			r.callee = c
		case <-notForwarded:
			stopAccept()
			notForwarded = nil
		case <-talk:
			talk = nil
			who, c := sc.callerName, r.caller
			if sc.hangUp == sipadapter.PartyCallee {
				who, c = sc.calleeName, r.callee
			}
			prog.clear()
			d.line(r, time.Now(), "BYE", "the %s (%s) hangs up after %v of talk", sc.hangUp, who, d.opts.duration)
			if c == nil {
				hungUp <- errors.New("no call to hang up")
				break
			}
			wg.Go(func() {
				bctx, bcancel := context.WithTimeout(ctx, 5*time.Second)
				defer bcancel()
				hungUp <- c.Hangup(bctx)
			})
		case err := <-hungUp:
			r.hangUpErr = err
		case <-prog.tick():
			prog.draw()
		case <-ctx.Done():
			prog.clear()
			d.line(r, time.Now(), "gave up", "waiting for the call: %v", context.Cause(ctx))
			done = true
		}
		// The callee's side is settled when it has the call, or when the
		// dial failed and the call did not turn up there.
		settled := r.callee != nil || dialDone && r.caller == nil && notForwarded == nil
		done = done || dialDone && ended && settled && (delivered || r.recordingID == "")
	}
	if enqueued != nil {
		d.event(r, *enqueued)
	}
	prog.stop()
	stopAccept()
	cancel()
	wg.Wait()
	select { // an accept that won the race with the cancellation
	case c := <-accepted:
		r.callee = c
	default:
	}
	d.verify(r)
	d.report(r)
	return r
}

// record keeps an event and the facts the checks need.
func (r *result) record(ev sipadapter.Event) {
	r.events = append(r.events, ev)
	if _, ok := r.at[ev.Kind]; !ok {
		r.at[ev.Kind] = ev.Time
	}
	switch ev.Kind {
	case sipadapter.EventDecided:
		r.decided = ev.Decision
	case sipadapter.EventEnded:
		e := ev
		r.ended = &e
	case sipadapter.EventEnqueued, sipadapter.EventDelivered:
		r.recordingID = ev.RecordingID
	}
}

// span returns the time between the first events of two kinds, and whether
// both happened.
func (r *result) span(from, to sipadapter.EventKind) (time.Duration, bool) {
	a, okA := r.at[from]
	b, okB := r.at[to]
	return b.Sub(a), okA && okB
}

func (r *result) failed() int {
	n := 0
	for _, c := range r.checks {
		if !c.ok {
			n++
		}
	}
	return n
}
