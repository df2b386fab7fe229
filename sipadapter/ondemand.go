package sipadapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Defaults of [OnDemandConfig].
const (
	DefaultStartCode   = "*1"
	DefaultStopCode    = "*2"
	DefaultCodeTimeout = 3 * time.Second
)

// OnDemandConfig configures the recording of on-demand lines
// ([dialplan.RecordOnDemand]): such a call is connected unrecorded; a DTMF
// code the company's party sends (RFC 4733 telephone events) or
// [B2BUA.StartRecording] starts the recording. The first start plays the
// announcement to both parties, then records; a stop pauses the recording
// and a later start resumes it, so that one call gives one file with the
// gaps as silence. The digits of a code are not passed to the other party;
// digits that turn out not to be a code are passed on late.
type OnDemandConfig struct {
	// StartCode and StopCode are the DTMF codes, of 0–9, *, #, A–D, at
	// most 8 long, neither a prefix of the other. Default "*1" and "*2".
	StartCode, StopCode string
	// CodeTimeout is the longest gap between the digits of a code. Default
	// 3 s.
	CodeTimeout time.Duration
}

func (o *OnDemandConfig) validate() error {
	if o.StartCode == "" {
		o.StartCode = DefaultStartCode
	}
	if o.StopCode == "" {
		o.StopCode = DefaultStopCode
	}
	if o.CodeTimeout == 0 {
		o.CodeTimeout = DefaultCodeTimeout
	}
	for _, f := range []struct{ name, code string }{{"StartCode", o.StartCode}, {"StopCode", o.StopCode}} {
		if len(f.code) > 8 || strings.Trim(strings.ToUpper(f.code), "0123456789*#ABCD") != "" {
			return fmt.Errorf("%w: OnDemand.%s %q: want 1 to 8 of 0-9 * # A-D", ErrConfig, f.name, f.code)
		}
	}
	o.StartCode, o.StopCode = strings.ToUpper(o.StartCode), strings.ToUpper(o.StopCode)
	switch {
	case strings.HasPrefix(o.StartCode, o.StopCode) || strings.HasPrefix(o.StopCode, o.StartCode):
		return fmt.Errorf("%w: OnDemand.StartCode %q and StopCode %q overlap", ErrConfig, o.StartCode, o.StopCode)
	case o.CodeTimeout < 0:
		return fmt.Errorf("%w: OnDemand.CodeTimeout %v is negative", ErrConfig, o.CodeTimeout)
	}
	return nil
}

// Errors of [B2BUA.StartRecording] and [B2BUA.StopRecording].
var (
	// ErrNoCall: no call in progress has this Call-ID.
	ErrNoCall = errors.New("sipadapter: no such call")
	// ErrNotOnDemand: the call is not a call of an on-demand line, or not
	// answered yet.
	ErrNotOnDemand = errors.New("sipadapter: not an on-demand call")
	// ErrRecordingCongested: recording is congested (MaxRecordedCalls,
	// spool space); the call goes on unrecorded.
	ErrRecordingCongested = errors.New("sipadapter: recording congested")
)

// onDemand is the recording control of one on-demand call. Its goroutine
// (loop), started by run, owns the recording; requests reach it through
// reqs.
type onDemand struct {
	company relay.Party // the company's party: its DTMF codes count
	reqs    chan onDemandReq
	gate    *dtmfGate

	mu        sync.Mutex
	recording bool // started and not stopped
}

type onDemandReq struct {
	start bool
	done  chan error // nil for a DTMF code: nobody waits
}

// setOnDemand makes c an on-demand call when its line is on-demand and the
// plan allows it: an unprefixed outgoing call to a destination the prefix
// would allow, or an incoming call the plan records.
func (c *call) setOnDemand() {
	if c.line.Record != dialplan.RecordOnDemand {
		return
	}
	switch {
	case c.decision.Direction == dialplan.Outgoing && c.decision.OnDemand:
	case c.decision.Direction == dialplan.Incoming && c.decision.Record:
		c.record = false
	default:
		return
	}
	company := relay.Caller
	if c.in.which == Outside {
		company = relay.Callee
	}
	c.onDemand = &onDemand{company: company, reqs: make(chan onDemandReq, 4)}
}

// StartRecording starts (or resumes) the recording of the on-demand call
// whose caller's Call-ID is callID, as the start code would. The first
// start plays the announcement to both parties first; StartRecording
// returns once the recording runs, or an error wrapping [ErrNoCall],
// [ErrNotOnDemand] or [ErrRecordingCongested], or ctx's error.
func (b *B2BUA) StartRecording(ctx context.Context, callID string) error {
	return b.onDemandRequest(ctx, callID, true)
}

// StopRecording pauses the recording of the on-demand call whose caller's
// Call-ID is callID; a later start resumes it in the same file. Stopping a
// call that is not recording does nothing.
func (b *B2BUA) StopRecording(ctx context.Context, callID string) error {
	return b.onDemandRequest(ctx, callID, false)
}

func (b *B2BUA) onDemandRequest(ctx context.Context, callID string, start bool) error {
	c := b.callByID(callID)
	if c == nil {
		return fmt.Errorf("%w: %q", ErrNoCall, callID)
	}
	c.mu.Lock()
	est := c.established
	c.mu.Unlock()
	if c.onDemand == nil || !est {
		return fmt.Errorf("%w: %q", ErrNotOnDemand, callID)
	}
	req := onDemandReq{start: start, done: make(chan error, 1)}
	select {
	case c.onDemand.reqs <- req:
	case <-c.endCh:
		return fmt.Errorf("%w: %q ended", ErrNoCall, callID)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-c.endCh:
		return fmt.Errorf("%w: %q ended", ErrNoCall, callID)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callByID finds a call by its caller's Call-ID, on whichever side it came.
func (b *B2BUA) callByID(callID string) *call {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range []Side{Inside, Outside} {
		if c := b.calls[legKey(w, callID)]; c != nil && c.in.which == w && c.callID == callID {
			return c
		}
	}
	return nil
}

// runOnDemand owns an on-demand call's recording until the call ends: it
// watches the company party's DTMF, and starts, pauses and resumes the
// recording on request. It closes mediaDone.
func (c *call) runOnDemand() {
	defer close(c.mediaDone)
	od := c.onDemand
	cfg := c.b.cfg.OnDemand
	pts := telephoneEventPTs(c.offer.desc, c.answer.desc)
	od.gate = newDTMFGate(cfg, pts, c.media.Writer(od.company.Other()), c.b.cfg.Clock.Now, func(start bool) {
		select {
		case od.reqs <- onDemandReq{start: start}:
		default: // a request is pending: a code typed again meanwhile adds nothing
		}
	})
	c.media.SetFilter(od.company.Other(), od.gate)
	started := false
	for {
		var req onDemandReq
		select {
		case <-c.ctx.Done():
			return
		case req = <-od.reqs:
		}
		var err error
		switch {
		case req.start && !started:
			if err = c.b.takeRecordingSlot(); err != nil {
				c.b.log.Warn("on-demand recording congested", "call_id", c.callID, "reason", err)
				err = fmt.Errorf("%w: %w", ErrRecordingCongested, err)
				break
			}
			c.mu.Lock()
			c.slot = true
			c.mu.Unlock()
			started = true
			c.recordWithGuidance()
			if c.currentRecording() == nil && c.ctx.Err() == nil {
				err = errors.New("sipadapter: the recording could not start")
			}
		case req.start:
			err = c.pauseRecording(false)
		case started:
			err = c.pauseRecording(true)
		}
		if err == nil {
			od.mu.Lock()
			od.recording = req.start
			od.mu.Unlock()
		}
		if req.done != nil {
			req.done <- err
		}
	}
}

func (c *call) currentRecording() *recorder.Recording {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec
}

// pauseRecording pauses or resumes the call's recording.
func (c *call) pauseRecording(pause bool) error {
	rec := c.currentRecording()
	if rec == nil {
		return nil
	}
	kind, err := EventRecordingResumed, error(nil)
	if pause {
		kind, err = EventRecordingPaused, rec.Pause()
	} else {
		err = rec.Resume()
	}
	if err != nil {
		return err
	}
	c.emit(Event{Kind: kind})
	return nil
}

// setFilter installs f toward party p; toward the other party of an
// on-demand call's company it goes behind the DTMF gate.
func (c *call) setFilter(p relay.Party, f relay.Filter) {
	if od := c.onDemand; od != nil && od.gate != nil && p == od.company.Other() {
		od.gate.setInner(f)
		return
	}
	c.media.SetFilter(p, f)
}

// telephoneEventPTs returns the payload types the descriptions map to
// telephone-event (RFC 4733).
func telephoneEventPTs(descs ...*sdp.SessionDescription) map[uint8]bool {
	out := map[uint8]bool{}
	for _, d := range descs {
		pts, err := recorder.PayloadTypesFromSDP(d)
		if err != nil {
			continue
		}
		for pt, codec := range pts {
			if codec == recorder.CodecTelephoneEvent {
				out[pt] = true
			}
		}
	}
	return out
}

// dtmfGate is the relay's filter toward the other party of an on-demand
// call's company: it withholds the company's telephone events while they
// may be a code, reports a complete code, and passes every other packet to
// the filter behind it (the guidance stream once the recording started).
// Events that turn out not to be a code are sent on late, in order.
type dtmfGate struct {
	start, stop string
	timeout     time.Duration
	pts         map[uint8]bool
	out         *relay.Writer
	now         func() time.Time
	onCode      func(start bool)

	mu      sync.Mutex
	inner   relay.Filter
	digits  string        // the code typed so far
	held    []*rtp.Packet // the packets of those digits
	lastTS  uint32        // RTP timestamp of the current event
	inEvent bool
	swallow bool      // the current event completed a code: withhold the rest
	lastAt  time.Time // when the last digit began
}

func newDTMFGate(cfg OnDemandConfig, pts map[uint8]bool, out *relay.Writer, now func() time.Time, onCode func(bool)) *dtmfGate {
	return &dtmfGate{start: cfg.StartCode, stop: cfg.StopCode, timeout: cfg.CodeTimeout, pts: pts, out: out, now: now, onCode: onCode}
}

func (g *dtmfGate) setInner(f relay.Filter) {
	g.mu.Lock()
	g.inner = f
	g.mu.Unlock()
}

const dtmfDigits = "0123456789*#ABCD"

// Relay implements relay.Filter.
func (g *dtmfGate) Relay(p *rtp.Packet) bool {
	forward, _ := g.RelayRecord(p)
	return forward
}

// RelayRecord implements relay.RecordFilter: what the gate withholds is
// neither relayed nor recorded; the rest is as the filter behind it says.
func (g *dtmfGate) RelayRecord(p *rtp.Packet) (forward, record bool) {
	g.mu.Lock()
	inner := g.inner
	if g.digits != "" && g.now().Sub(g.lastAt) > g.timeout {
		g.flushLocked()
	}
	withhold := false
	if g.pts[p.PayloadType] && len(p.Payload) >= 4 && p.Payload[0] < uint8(len(dtmfDigits)) {
		withhold = g.eventLocked(p)
	}
	g.mu.Unlock()
	if withhold {
		return false, false
	}
	switch f := inner.(type) {
	case nil:
		return true, true
	case relay.RecordFilter:
		return f.RelayRecord(p)
	default:
		ok := f.Relay(p)
		return ok, ok
	}
}

// eventLocked follows one telephone-event packet and reports whether it is
// withheld.
func (g *dtmfGate) eventLocked(p *rtp.Packet) bool {
	if g.inEvent && p.Timestamp == g.lastTS { // the same event goes on
		switch {
		case g.swallow:
			return true
		case g.digits != "":
			g.held = append(g.held, clonePacket(p))
			return true
		}
		return false
	}
	g.inEvent, g.lastTS, g.swallow = true, p.Timestamp, false
	d := string(dtmfDigits[p.Payload[0]])
	typed := g.digits + d
	if g.digits != "" && !g.isCodePrefix(typed) {
		g.flushLocked() // no code after all; this digit may begin one
		typed = d
	}
	switch {
	case typed == g.start || typed == g.stop:
		g.onCode(typed == g.start)
		// The code is used up: its packets, and the rest of this event's,
		// never reach the other party.
		g.digits, g.held, g.swallow = "", nil, true
		return true
	case g.isCodePrefix(typed):
		g.digits, g.lastAt = typed, g.now()
		g.held = append(g.held, clonePacket(p))
		return true
	}
	return false
}

func (g *dtmfGate) isCodePrefix(s string) bool {
	return strings.HasPrefix(g.start, s) || strings.HasPrefix(g.stop, s)
}

// flushLocked sends the withheld packets of digits that were no code.
func (g *dtmfGate) flushLocked() {
	for _, p := range g.held {
		_ = g.out.WriteRTP(p)
	}
	g.digits, g.held = "", nil
}

func clonePacket(p *rtp.Packet) *rtp.Packet {
	c := &rtp.Packet{Header: p.Header.Clone(), Payload: append([]byte(nil), p.Payload...)}
	return c
}
