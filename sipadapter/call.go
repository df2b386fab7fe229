package sipadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/dialplan"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

var errTooManyHops = errors.New("max-forwards exhausted")

// byeTimeout bounds a BYE (or re-INVITE) transaction the B2BUA sends.
const byeTimeout = 5 * time.Second

// call is one call through the B2BUA: the caller's dialog (we are its UAS),
// the callee's dialog (we are its UAC), the media session and, when
// recorded, the guidance and the recording.
type call struct {
	b      *B2BUA
	in     *side // the caller's side
	out    *side // the callee's side
	callID string
	id     string // recording ID: time-ordered, [0-9A-Za-z-], safe in paths
	src    netip.AddrPort
	start  time.Time
	caller string // From user of the caller's INVITE
	called string // Request-URI user of the caller's INVITE

	ctx    context.Context // cancelled when the call ends
	cancel context.CancelFunc

	// Set during setup, read-only once established; a and bdlg are set
	// under mu as requests of other goroutines may look them up.
	a        *sipgo.DialogServerSession
	inviteTx sip.ServerTransaction // the caller's INVITE
	bdlg     *sipgo.DialogClientSession
	bCallID  string
	media    *relay.Session
	offer    mediaInfo // as forwarded to the callee
	answer   mediaInfo // as returned to the caller
	decision dialplan.Decision
	line     Line
	record   bool // recording wanted
	slot     bool // holds a recording slot
	priority bool
	roaming  bool      // an inside mobile roaming abroad (trusted headers)
	div      diversion // a forwarded incoming call's trusted History-Info/Diversion
	onDemand *onDemand // set for a call of an on-demand line

	reinvite1    chan struct{} // one re-INVITE at a time; others get 491
	provisionals atomic.Int32  // provisional responses from the callee
	ringTimedOut atomic.Bool
	endOnce      sync.Once
	endCh        chan struct{}
	mediaDone    chan struct{}

	mu            sync.Mutex // guards the fields below; never held during I/O
	established   bool
	cause         string
	hungUp        Party
	code          int
	errText       string
	answerAt      time.Time
	guidanceStart time.Time
	rec           *recorder.Recording
	recPath       string
	lastSDP       [2][]byte // the last SDP sent to the caller and the callee
	packets       [2]uint64 // RTP packets received from the caller and the callee
	reinviteAck   pendingAck
	byeReasons    []sip.Header          // Reason headers of the BYE that ended the call
	accepted      sip.ClientTransaction // the last re-INVITE sent, re-ACKing its 2xx

	// recQ is the recording's writer, between the relay and the disk;
	// heldLost counts the packets of each party refused while the
	// recording was being opened; rejected the RTP and RTCP each party's
	// leg dropped for their source.
	recQ     *recordQueue
	heldLost [2]uint64
	rejected [2]uint64
	// recStats is the recorder's part of the metadata of the recording
	// handed to delivery, for EventEnqueued.
	recStats *RecorderStats
	// truncated is why the recording was cut short mid-call (see
	// truncated.go); empty when it was not.
	truncated string

	// announced is the recording's file from the announcement's start
	// until the recorder takes it over (announced.go); recFile is that
	// file once it has, which closeRecording closes. endedInAnnouncement
	// reports an empty recording: the call ended during its announcement.
	announced           *os.File
	recFile             *os.File
	endedInAnnouncement bool
}

func newCall(b *B2BUA, s *side, req *sip.Request) *call {
	ctx, cancel := context.WithCancel(b.ctx)
	src, _ := netip.ParseAddrPort(req.Source())
	start := b.cfg.Clock.Now()
	return &call{
		b: b, in: s, out: b.sides[s.which.other()], callID: req.CallID().Value(),
		id: recordingID(start, b.cfg.InstanceID), src: src, start: start, ctx: ctx, cancel: cancel,
		caller: req.From().Address.User, called: req.Recipient.User,
		reinvite1: make(chan struct{}, 1), endCh: make(chan struct{}), mediaDone: make(chan struct{}),
	}
}

// recordingID returns a new recording ID: the time first, so that IDs sort
// by time, then the instance, if any, then randomness.
func recordingID(t time.Time, instance string) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	id := t.UTC().Format("20060102T150405.000Z") + "-"
	if instance != "" {
		id += instance + "-"
	}
	return id + hex.EncodeToString(r[:])
}

func randomToken() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// hangup asks the call to end; the first cause wins.
func (c *call) hangup(cause string, who Party) { c.hangupWith(cause, who, nil) }

// hangupWith is hangup for a party's BYE, whose Reason headers (RFC 3326)
// go on to the other party with the BYE the B2BUA sends it.
func (c *call) hangupWith(cause string, who Party, reasons []sip.Header) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		if c.cause == "" {
			c.cause, c.hungUp, c.byeReasons = cause, who, reasons
		}
		c.mu.Unlock()
		close(c.endCh)
		c.cancel()
	})
}

// fail records a setup failure: the final response sent to the caller and
// why.
func (c *call) fail(cause string, code int, err error) {
	c.mu.Lock()
	if c.code == 0 {
		c.code = code
	}
	if err != nil && c.errText == "" {
		c.errText = err.Error()
	}
	c.mu.Unlock()
	c.hangup(cause, PartyB2BUA)
}

func (c *call) emit(e Event) {
	e.CallID = c.callID
	if e.Time.IsZero() {
		e.Time = c.b.cfg.Clock.Now()
	}
	c.b.emit(e)
}

// setup runs in the INVITE's handler: decide, forward, relay the callee's
// responses and answer the caller. When the call is established it hands
// over to run; otherwise it finishes the call.
func (c *call) setup(req *sip.Request, tx sip.ServerTransaction) {
	if c.establish(req, tx) {
		go c.run()
		return
	}
	c.finish()
}

// establish takes an INVITE from arrival to an answered call, one step
// after the other; each step answers the caller and fails the call itself
// when it cannot go on. It reports whether the call was established.
func (c *call) establish(req *sip.Request, tx sip.ServerTransaction) bool {
	dtx, ok := c.accept(req, tx)
	if !ok {
		return false
	}
	offer, ok := c.readOffer(req)
	if !ok || !c.decide(req) || !c.reserveRecording() || !c.openMedia(offer) {
		return false
	}
	breq, ok := c.forward(req, offer)
	if !ok {
		return false
	}
	ringCtx, stopRinging := c.ringing(dtx)
	defer stopRinging()
	bdlg, ok := c.ring(ringCtx, breq)
	if !ok {
		return false
	}
	toCaller, ok := c.takeAnswer(bdlg, offer)
	if !ok {
		return false
	}
	return c.answerCaller(dtx, toCaller)
}

// accept opens the caller's dialog and sends 100 Trying, or refuses the
// INVITE when it is malformed or the B2BUA is draining.
func (c *call) accept(req *sip.Request, tx sip.ServerTransaction) (*sipgo.DialogServerSession, bool) {
	dtx, err := c.in.dua.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, sip.StatusBadRequest, "Bad Request", warning(c.in, err.Error()))
		c.fail(CauseBadRequest, sip.StatusBadRequest, err)
		return nil, false
	}
	c.mu.Lock()
	c.a, c.inviteTx = dtx, tx
	c.mu.Unlock()
	_ = dtx.Respond(sip.StatusTrying, "Trying", nil)

	if c.b.isDraining() {
		c.reject(sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(c.b.cfg.RetryAfter),
			warning(c.in, "draining"), reasonHeader(sip.StatusServiceUnavailable, "draining"))
		c.fail(CauseDraining, sip.StatusServiceUnavailable, nil)
		return nil, false
	}
	return dtx, true
}

// readOffer parses the caller's SDP offer, refusing 488 an INVITE without
// one or without a codec we relay, and 400 an offer that does not parse.
func (c *call) readOffer(req *sip.Request) (mediaInfo, bool) {
	offer, err := parseSDP(req.Body())
	if err != nil {
		code, reason := sip.StatusBadRequest, "Bad Request"
		if errors.Is(err, ErrNoCodec) || len(req.Body()) == 0 {
			code, reason = sip.StatusNotAcceptableHere, "Not Acceptable Here"
		}
		if len(req.Body()) == 0 {
			err = fmt.Errorf("%w: INVITE without an SDP offer is not supported", ErrSDP)
		}
		c.reject(code, reason, warning(c.in, err.Error()))
		cause := CauseBadRequest
		if code == sip.StatusNotAcceptableHere {
			cause = CauseNotAcceptable
		}
		c.fail(cause, code, err)
		return mediaInfo{}, false
	}
	return offer, true
}

// reserveRecording takes a recording slot for a call the plan records.
// When none is free, an ordinary call is refused 503 and a priority call
// goes on unrecorded.
func (c *call) reserveRecording() bool {
	if !c.record {
		return true
	}
	b := c.b
	if err := b.takeRecordingSlot(); err != nil {
		if !c.priority {
			b.log.Warn("recording congested: refusing", "call_id", c.callID, "reason", err)
			c.reject(sip.StatusServiceUnavailable, "Service Unavailable",
				retryAfter(b.cfg.RetryAfter), warning(c.in, "recording congested"),
				reasonHeader(sip.StatusServiceUnavailable, "recording congested"))
			c.fail(CauseCongested, sip.StatusServiceUnavailable, err)
			return false
		}
		b.log.Warn("recording congested: priority call connected unrecorded", "call_id", c.callID, "reason", err)
		c.record = false
		return true
	}
	c.mu.Lock()
	c.slot = true
	c.mu.Unlock()
	return true
}

// openMedia opens the call's relay ports and points the caller's side at
// the offer, or refuses 503 when no ports are free.
func (c *call) openMedia(offer mediaInfo) bool {
	media, err := c.b.openMedia(c.priority)
	if err != nil {
		c.reject(sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(c.b.cfg.RetryAfter),
			warning(c.in, "no media ports"))
		c.fail(CauseError, sip.StatusServiceUnavailable, err)
		return false
	}
	c.media = media
	c.guardMedia()
	c.setRemote(relay.Caller, offer)
	return true
}

// forward builds the INVITE toward the callee and registers the call
// under the callee's Call-ID, or refuses the caller when it cannot be
// built (483 when Max-Forwards is exhausted).
func (c *call) forward(req *sip.Request, offer mediaInfo) (*sip.Request, bool) {
	breq, err := c.calleeInvite(req, offer)
	if errors.Is(err, errTooManyHops) {
		c.reject(sip.StatusTooManyHops, "Too Many Hops")
		c.fail(CauseBadRequest, sip.StatusTooManyHops, err)
		return nil, false
	}
	if err != nil {
		c.reject(sip.StatusInternalServerError, "Server Internal Error", warning(c.in, err.Error()))
		c.fail(CauseError, sip.StatusInternalServerError, err)
		return nil, false
	}
	c.offer = offer
	c.b.register(c.out.which, c.bCallID, c)
	return breq, true
}

// ringing returns the context that bounds the wait for the callee's
// answer, and the function that releases it. The context ends on a
// CANCEL from the caller, on shutdown, or after RingTimeout. Before any
// provisional response a CANCEL must not be sent (RFC 3261 §9.1), so the
// wait is then abandoned at once and the INVITE transaction left to time
// out.
func (c *call) ringing(dtx *sipgo.DialogServerSession) (context.Context, func()) {
	ringCtx, cancelRing := context.WithCancelCause(context.Background())
	giveUp := func() {
		if c.provisionals.Load() == 0 {
			cancelRing(sipgo.WaitAnswerForceCancelErr)
			return
		}
		cancelRing(context.Canceled)
	}
	stopCancel := context.AfterFunc(dtx.Context(), giveUp) // CANCEL from the caller
	stopShutdown := context.AfterFunc(c.ctx, giveUp)       // shutdown
	ringTimer := c.b.cfg.Clock.AfterFunc(c.b.cfg.RingTimeout, func() { c.ringTimedOut.Store(true); giveUp() })
	return ringCtx, func() {
		ringTimer.Stop()
		stopShutdown()
		stopCancel()
		cancelRing(nil)
	}
}

// ring sends the INVITE to the next hop and waits, within ringCtx, for
// its answer, relaying provisional responses to the caller. A failure or
// an abandoned wait is passed back to the caller by unanswered.
func (c *call) ring(ringCtx context.Context, breq *sip.Request) (*sipgo.DialogClientSession, bool) {
	bdlg, err := c.out.dua.WriteInvite(ringCtx, breq)
	if err != nil {
		c.b.log.Warn("sending INVITE to the next hop", "call_id", c.callID, "next_hop", c.out.cfg.NextHop, "error", err)
		c.reject(sip.StatusServiceUnavailable, "Service Unavailable", warning(c.in, "next hop unreachable"))
		c.fail(CauseError, sip.StatusServiceUnavailable, err)
		return nil, false
	}
	c.mu.Lock()
	c.bdlg = bdlg
	c.mu.Unlock()
	err = bdlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{
		OnResponse: c.provisional, Username: c.out.cfg.Username, Password: c.out.cfg.Password,
	})
	if err != nil {
		c.dropLateAnswer(bdlg)
		c.unanswered(err)
		return nil, false
	}
	return bdlg, true
}

// dropLateAnswer ends the callee's dialog when its 2xx came after the
// B2BUA gave up on the INVITE: a 200 that crossed the CANCEL of a caller
// who hung up (or of the ring timeout). The callee is connected all the
// same, so it gets its ACK and then a BYE (RFC 3261 §15); without them it
// would retransmit the 200 for 32 s and hold a call nobody is on.
func (c *call) dropLateAnswer(bdlg *sipgo.DialogClientSession) {
	if res := bdlg.InviteResponse; res == nil || !res.IsSuccess() {
		return
	}
	if err := bdlg.Ack(context.Background()); err != nil {
		c.b.log.Warn("ACK to a callee that answered too late failed", "call_id", c.callID, "error", err)
		return
	}
	c.byeCallee()
}

// takeAnswer reads the callee's SDP answer, points the callee's side of
// the relay at it, ACKs the callee and returns the answer to send the
// caller, anchored on our media port. An answer that does not parse ends
// the callee's leg and refuses the caller 488.
func (c *call) takeAnswer(bdlg *sipgo.DialogClientSession, offer mediaInfo) ([]byte, bool) {
	b, media := c.b, c.media
	answer, err := parseSDP(bdlg.InviteResponse.Body())
	if err != nil {
		_ = bdlg.Ack(context.Background())
		c.byeCallee()
		c.reject(sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(c.in, "callee answer: "+err.Error()))
		c.fail(CauseNotAcceptable, sip.StatusNotAcceptableHere, err)
		return nil, false
	}
	c.setRemote(relay.Callee, answer)
	media.Relearn(relay.Caller) // a caller behind NAT may only now start sending
	media.SuspendInactivity(offer.held() || answer.held())
	if c.record {
		// The callee talks from its answer on, and the caller's ACK may
		// take a while: until the guidance, neither hears the other.
		media.SetFilter(relay.Caller, withhold{})
		media.SetFilter(relay.Callee, withhold{})
	}
	if err := bdlg.Ack(context.Background()); err != nil {
		b.log.Warn("ACK to callee failed", "call_id", c.callID, "error", err)
	}
	toCaller, err := anchorSDP(answer, b.cfg.MediaAddr, media.Local(relay.Caller).Port())
	if err != nil {
		c.byeCallee()
		c.reject(sip.StatusInternalServerError, "Server Internal Error")
		c.fail(CauseError, sip.StatusInternalServerError, err)
		return nil, false
	}
	c.answer = answer
	c.mu.Lock()
	c.lastSDP[relay.Caller] = toCaller
	c.mu.Unlock()
	return toCaller, true
}

// answerCaller sends the caller 200 OK with the anchored answer and, once
// the caller ACKs it, marks the call established and emits EventAnswered.
// When the caller never ACKs (or cancelled meanwhile) the callee's leg is
// ended and the call fails.
func (c *call) answerCaller(dtx *sipgo.DialogServerSession, toCaller []byte) bool {
	ok := sip.NewResponseFromRequest(dtx.InviteRequest, sip.StatusOK, "OK", toCaller)
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ok.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	if err := dtx.WriteResponse(ok); err != nil { // returns once the caller ACKs
		c.byeCallee()
		cause := CauseError
		if errors.Is(err, sip.ErrTransactionCanceled) {
			cause = CauseCancelled
		}
		c.fail(cause, 0, fmt.Errorf("answering the caller: %w", err))
		return false
	}
	now := c.b.cfg.Clock.Now()
	c.mu.Lock()
	c.established, c.answerAt = true, now
	c.mu.Unlock()
	c.emit(Event{Kind: EventAnswered, Time: now})
	return true
}

// decide resolves the line, asks the dial plan and answers refusals.
func (c *call) decide(req *sip.Request) bool {
	b := c.b
	var (
		dec dialplan.Decision
		err error
	)
	if c.in.which == Inside {
		fromUser := req.From().Address.User
		c.line, err = b.cfg.Lines.Line(c.ctx, fromUser, c.src)
		if err != nil && !errors.Is(err, ErrUnknownLine) {
			c.lineLookupFailed(fromUser, err)
			return false
		}
		if err != nil {
			b.log.Info("unknown line", "call_id", c.callID, "from", fromUser, "error", err)
			c.reject(sip.StatusForbidden, "Forbidden", warning(c.in, "unknown line"),
				reasonHeader(sip.StatusForbidden, "unknown line"))
			c.fail(CauseRefused, sip.StatusForbidden, err)
			return false
		}
		c.roaming = c.in.trusted(req) && roamingOf(req, b.cfg.HomeNetworkIDs)
		dec, err = b.cfg.Plan.DecideOutgoing(dialplan.OutgoingCall{
			Line:    dialplan.Line{Kind: c.line.Kind, Number: c.line.Number, Mode: c.line.Record},
			Dialled: req.Recipient.User, Roaming: c.roaming,
		})
	} else {
		var lookup *lineLookupError
		if dec, err = c.decideIncoming(req); errors.As(err, &lookup) {
			c.lineLookupFailed(lookup.number, lookup.err)
			return false
		}
	}
	if err != nil && dec.Verdict != dialplan.VerdictInvalid {
		dec.Verdict = dialplan.VerdictInvalid
	}
	if err != nil && dec.Reason == "" {
		dec.Reason = err.Error()
	}
	c.decision = dec
	c.record = dec.Record
	c.priority = b.isPriority(req)
	c.setOnDemand()
	d := dec
	c.emit(Event{Kind: EventDecided, Decision: &d})
	if err == nil && !dec.Refused() {
		return true
	}
	code, reason := refusal(dec.Verdict)
	hdrs := []sip.Header{
		reasonHeader(code, dec.Verdict.String()+": "+dec.Reason),
		warning(c.in, dec.Verdict.String()+": "+dec.Reason),
	}
	if dec.Verdict == dialplan.VerdictEmergency && dec.Destination != "" {
		// Point the PBX at the emergency number without the prefix.
		alt := sip.Uri{Scheme: "sip", User: dec.Destination, Host: req.Recipient.Host, Port: req.Recipient.Port}
		hdrs = append(hdrs, &sip.ContactHeader{Address: alt})
	}
	c.reject(code, reason, hdrs...)
	c.fail(CauseRefused, code, nil)
	return false
}

// refusal maps a refused verdict to the final response sent to the caller.
//
//	not-recordable        403 Forbidden
//	restricted-from-050   403 Forbidden
//	prefix-line-mismatch  403 Forbidden
//	emergency             380 Alternative Service, Contact: the number without the prefix
//	invalid               484 Address Incomplete
func refusal(v dialplan.Verdict) (int, string) {
	switch v {
	case dialplan.VerdictEmergency:
		return 380, "Alternative Service"
	case dialplan.VerdictInvalid:
		return sip.StatusAddressIncomplete, "Address Incomplete"
	default:
		return sip.StatusForbidden, "Forbidden"
	}
}

// calleeInvite builds the INVITE toward the callee: a new dialog (Call-ID,
// tags) so that nothing of the caller's dialog leaks, the destination as
// Request-URI user, and the offer pointed at the anchor.
func (c *call) calleeInvite(req *sip.Request, offer mediaInfo) (*sip.Request, error) {
	b := c.b
	host, portText, _ := net.SplitHostPort(c.out.cfg.NextHop)
	port, _ := strconv.Atoi(portText)
	dest := c.decision.Destination
	if dest == "" {
		dest = req.Recipient.User
	}
	ruri := sip.Uri{Scheme: "sip", User: dest, Host: host, Port: port}
	if c.out.nextTr == "tcp" {
		ruri.UriParams = sip.NewParams()
		ruri.UriParams.Add("transport", "tcp")
	}
	body, err := anchorSDP(offer, b.cfg.MediaAddr, c.media.Local(relay.Callee).Port())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lastSDP[relay.Callee] = body
	c.mu.Unlock()

	breq := sip.NewRequest(sip.INVITE, ruri)
	from := req.From()
	fromHdr := &sip.FromHeader{
		DisplayName: from.DisplayName,
		Address:     sip.Uri{Scheme: "sip", User: from.Address.User, Host: c.out.addr.Addr().String()},
		Params:      sip.NewParams(),
	}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	breq.AppendHeader(fromHdr)
	breq.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: dest, Host: host}, Params: sip.NewParams()})
	c.bCallID = randomToken() + "@" + c.out.addr.Addr().String()
	cid := sip.CallIDHeader(c.bCallID)
	breq.AppendHeader(&cid)
	breq.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	maxFwd := sip.MaxForwardsHeader(70)
	if mf := req.MaxForwards(); mf != nil {
		if mf.Val() <= 1 {
			return nil, errTooManyHops
		}
		maxFwd = sip.MaxForwardsHeader(mf.Val() - 1)
	}
	breq.AppendHeader(&maxFwd)
	for _, name := range []string{"Resource-Priority", "P-Asserted-Identity", "Privacy"} {
		if name == "Privacy" && (c.decision.WithholdCallerID || c.decision.PresentCallerID) {
			continue // the caller's 184/186 decides, below
		}
		for _, h := range req.GetHeaders(name) {
			breq.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	if c.decision.WithholdCallerID {
		// 184: caller ID withheld toward the callee (RFC 3325 §9.3).
		breq.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	breq.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	breq.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	breq.SetBody(body)
	breq.SetTransport(strings.ToUpper(c.out.nextTr))
	breq.SetDestination(c.out.cfg.NextHop)
	c.out.setLaddr(breq)
	return breq, nil
}

// reject sends a final failure response to the caller without waiting for
// its ACK, which the transaction layer absorbs (retransmitting meanwhile):
// a caller that never ACKs does not hold the call's resources for 32 s.
//
// The caller's Call-ID leaves the call table first: a caller may answer a
// failure at once with a new INVITE of the same Call-ID and a higher CSeq
// (overlap dialling after 484, RFC 3578), which is a new call, not a loop.
func (c *call) reject(code int, reason string, hdrs ...sip.Header) {
	c.b.forget(c.in.which, c.callID, c)
	res := sip.NewResponseFromRequest(c.a.InviteRequest, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = c.inviteTx.Respond(res)
}

// isChallenge reports whether res is a digest challenge (RFC 3261 §22.2).
func isChallenge(res *sip.Response) bool {
	return (res.StatusCode == sip.StatusUnauthorized && res.GetHeader("WWW-Authenticate") != nil) ||
		(res.StatusCode == sip.StatusProxyAuthRequired && res.GetHeader("Proxy-Authenticate") != nil)
}

// provisional relays the callee's 180/183 to the caller, with the early
// media's SDP anchored; early media is relayed, not recorded.
func (c *call) provisional(res *sip.Response) error {
	if isChallenge(res) {
		// Answered with credentials in a new INVITE transaction, which may
		// be cancelled only after its own provisional response.
		c.provisionals.Store(0)
	}
	if !res.IsProvisional() {
		return nil
	}
	c.provisionals.Add(1)
	if res.StatusCode == sip.StatusTrying {
		return nil
	}
	var body []byte
	var hdrs []sip.Header
	if len(res.Body()) > 0 {
		if early, err := parseSDP(res.Body()); err == nil {
			c.setRemote(relay.Callee, early)
			if b, err := anchorSDP(early, c.b.cfg.MediaAddr, c.media.Local(relay.Caller).Port()); err == nil {
				body = b
				hdrs = append(hdrs, sip.NewHeader("Content-Type", "application/sdp"))
			}
		}
	}
	c.emit(Event{Kind: EventRinging, Code: res.StatusCode})
	_ = c.a.Respond(res.StatusCode, res.Reason, body, hdrs...)
	return nil
}

// unanswered handles an INVITE toward the callee that did not succeed:
// a failure response is passed back with its cause, a CANCEL from the
// caller was already answered 487 by the transaction layer.
func (c *call) unanswered(err error) {
	var dr *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr) && isChallenge(dr.Res):
		// The challenge is for the B2BUA's own hop, with the Request-URI
		// it sent: the caller could not answer it, so a 401/407 passed back
		// would only make it retry in vain. 403: authorization will not help.
		res := dr.Res
		text := "next hop requires authentication: no credentials configured"
		if c.out.cfg.Password != "" {
			text = "next hop refused the configured credentials"
		}
		c.reject(sip.StatusForbidden, "Forbidden", reasonHeader(res.StatusCode, res.Reason), warning(c.in, text))
		c.fail(CauseRejected, sip.StatusForbidden, fmt.Errorf("%d %s from %s: %s", res.StatusCode, res.Reason, c.out.cfg.NextHop, text))
	case errors.As(err, &dr):
		res := dr.Res
		hdrs := []sip.Header{}
		for _, h := range res.GetHeaders("Reason") {
			hdrs = append(hdrs, sip.NewHeader("Reason", h.Value()))
		}
		if len(hdrs) == 0 {
			hdrs = append(hdrs, reasonHeader(res.StatusCode, res.Reason))
		}
		for _, name := range []string{"Retry-After", "Warning"} {
			for _, h := range res.GetHeaders(name) {
				hdrs = append(hdrs, sip.NewHeader(name, h.Value()))
			}
		}
		c.reject(res.StatusCode, res.Reason, hdrs...)
		c.fail(CauseRejected, res.StatusCode, nil)
	case c.a.Context().Err() != nil:
		c.b.forget(c.in.which, c.callID, c) // answered 487 already
		c.fail(CauseCancelled, sip.StatusRequestTerminated, nil)
		c.setHungUp(PartyCaller)
	case c.b.ctx.Err() != nil:
		c.reject(sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(c.b.cfg.RetryAfter))
		c.fail(CauseShutdown, sip.StatusServiceUnavailable, nil)
	case c.ringTimedOut.Load():
		c.reject(sip.StatusRequestTimeout, "Request Timeout", reasonHeader(sip.StatusRequestTimeout, "no answer"))
		c.fail(CauseRingTimeout, sip.StatusRequestTimeout, errNoAnswer)
	default:
		c.reject(sip.StatusRequestTimeout, "Request Timeout", reasonHeader(sip.StatusRequestTimeout, "no response from next hop"))
		c.fail(CauseError, sip.StatusRequestTimeout, err)
	}
}

func (c *call) setHungUp(p Party) {
	c.mu.Lock()
	c.hungUp = p
	c.mu.Unlock()
}

// run owns an established call until it ends.
func (c *call) run() {
	defer c.finish()
	switch {
	case c.record:
		go c.runMedia()
	case c.onDemand != nil:
		go c.runOnDemand()
	default:
		close(c.mediaDone)
	}
	var maxTimer relay.Timer
	if d := c.b.cfg.MaxCallDuration; d > 0 {
		maxTimer = c.b.cfg.Clock.AfterFunc(d, func() { c.hangup(CauseMaxDuration, PartyB2BUA) })
	}
	select {
	case <-c.endCh:
	case <-c.media.Inactive():
		c.hangup(CauseRTPTimeout, PartyB2BUA)
	}
	if maxTimer != nil {
		maxTimer.Stop()
	}
	c.mu.Lock()
	who := c.hungUp
	c.mu.Unlock()
	var wg sync.WaitGroup
	if who != PartyCaller {
		wg.Go(c.byeCaller)
	}
	if who != PartyCallee {
		wg.Go(c.byeCallee)
	}
	wg.Wait()
}

func (c *call) byeCaller() {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	bye := sip.NewRequest(sip.BYE, c.a.InviteRequest.Contact().Address)
	bye.SetTransport(c.a.InviteRequest.Transport())
	c.addByeReasons(bye)
	c.in.setLaddr(bye)
	if err := c.a.WriteBye(ctx, bye); err != nil {
		c.b.log.Debug("BYE to caller", "call_id", c.callID, "error", err)
	}
}

func (c *call) byeCallee() {
	_, bdlg := c.dialogs()
	if bdlg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if bdlg.InviteResponse == nil {
		return // nothing answered: no dialog to end
	}
	// As sipgo's Bye builds it (remote target from the 2xx's Contact),
	// with the other party's Reason headers added.
	target := bdlg.InviteRequest.Recipient
	if ct := bdlg.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	bye := sip.NewRequest(sip.BYE, *target.Clone())
	c.addByeReasons(bye)
	c.out.setLaddr(bye)
	if err := bdlg.WriteBye(ctx, bye); err != nil {
		c.b.log.Debug("BYE to callee", "call_id", c.callID, "error", err)
	}
}

// addByeReasons passes the Reason headers of the BYE that ended the call
// on to the other party.
func (c *call) addByeReasons(bye *sip.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.byeReasons {
		bye.AppendHeader(sip.HeaderClone(h))
	}
}

// reasonsOf copies req's Reason headers.
func reasonsOf(req *sip.Request) []sip.Header {
	var out []sip.Header
	for _, h := range req.GetHeaders("Reason") {
		out = append(out, sip.NewHeader("Reason", h.Value()))
	}
	return out
}

// dialogs returns the caller's and the callee's dialogs, nil until set.
func (c *call) dialogs() (*sipgo.DialogServerSession, *sipgo.DialogClientSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.a, c.bdlg
}

func (c *call) readBye(w Side, req *sip.Request, tx sip.ServerTransaction) {
	a, bdlg := c.dialogs()
	var err error
	switch {
	case w == c.in.which && a != nil:
		if err = a.ReadBye(req, tx); err == nil {
			c.hangupWith(CauseBye, PartyCaller, reasonsOf(req))
			return
		}
	case w == c.out.which && bdlg != nil:
		if err = bdlg.ReadBye(req, tx); err == nil {
			c.hangupWith(CauseBye, PartyCallee, reasonsOf(req))
			return
		}
	}
	respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (c *call) readAck(w Side, req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	p := c.reinviteAck
	var offer *pendingOffer
	if p.acked != nil && p.side == w && req.CSeq() != nil && req.CSeq().SeqNo == p.cseq {
		close(p.acked) // stops respondSDP's retransmissions
		c.reinviteAck = pendingAck{}
		offer = p.offer
	}
	c.mu.Unlock()
	if offer != nil {
		c.answerInAck(offer, req.Body())
	}
	if a, _ := c.dialogs(); w == c.in.which && a != nil {
		_ = a.ReadAck(req, tx) // confirms the dialog; another CSeq is ignored
	}
}

// finish releases everything the call holds, enqueues its recording,
// reports the end and writes the CDR.
func (c *call) finish() {
	b := c.b
	c.hangup(CauseError, PartyB2BUA) // no-op when a cause is set
	<-c.waitMedia()
	if c.media != nil {
		st := c.media.Stats()
		if err := c.media.Close(); err != nil {
			b.log.Debug("closing media", "call_id", c.callID, "error", err)
		}
		c.mu.Lock()
		c.packets = [2]uint64{st.Caller.Received, st.Callee.Received}
		c.rejected = [2]uint64{st.Caller.Rejected + st.Caller.RTCPRejected, st.Callee.Rejected + st.Callee.RTCPRejected}
		c.mu.Unlock()
	}
	c.mu.Lock()
	accepted := c.accepted
	c.mu.Unlock()
	if accepted != nil {
		accepted.Terminate()
	}
	end := b.cfg.Clock.Now()
	recID := c.closeRecording(end)
	c.mu.Lock()
	cdr := CDR{
		CallID: c.callID, Direction: c.direction(), Side: c.in.which.String(),
		Caller: c.caller, Called: c.called, Verdict: c.decision.Verdict.String(), Reason: c.decision.Reason,
		Destination: c.decision.Destination, LineNumber: c.line.Number, Recorded: c.rec != nil || c.endedInAnnouncement,
		Priority: c.priority, Start: c.start, Answer: c.answerAt, End: end, Code: c.code,
		DivertedFrom: c.decision.ForwardedFrom, DiversionReason: c.div.reason, Roaming: c.roaming,
		OnDemand: c.onDemand != nil,
		Cause:    c.cause, HungUp: c.hungUp, RecordingID: recID, Error: c.errText,
		CallerPackets: c.packets[0], CalleePackets: c.packets[1],
		CallerRejected: c.rejected[0], CalleeRejected: c.rejected[1],
		RecordingTruncated: c.truncated != "", TruncatedReason: c.truncated,
		EndedDuringAnnouncement: c.endedInAnnouncement,
	}
	cdr.BillingStart = c.guidanceStart
	if cdr.BillingStart.IsZero() {
		cdr.BillingStart = c.answerAt
	}
	recStats := c.recStats
	c.mu.Unlock()
	if recID != "" {
		c.emit(Event{Kind: EventEnqueued, RecordingID: recID, Recorder: recStats,
			EndedDuringAnnouncement: cdr.EndedDuringAnnouncement})
	}
	c.emit(Event{Kind: EventEnded, Time: end, Cause: cdr.Cause, HungUp: cdr.HungUp, Code: cdr.Code,
		CallerRejected: cdr.CallerRejected, CalleeRejected: cdr.CalleeRejected})
	b.writeCDR(cdr)
	b.unregister(c)
	b.wg.Done()
}

// direction is "outgoing" for a call from the inside, "incoming" otherwise.
func (c *call) direction() delivery.Direction {
	if c.in.which == Inside {
		return delivery.Outgoing
	}
	return delivery.Incoming
}

func (c *call) waitMedia() <-chan struct{} {
	c.mu.Lock()
	est := c.established
	c.mu.Unlock()
	if !est {
		done := make(chan struct{})
		close(done)
		return done
	}
	return c.mediaDone
}
