package sipua

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Direction says which UA placed a [Call].
type Direction uint8

// Directions of a call as seen by the UA holding it.
const (
	Outbound Direction = iota // placed by this UA with [UA.Dial]
	Inbound                   // answered by this UA, from [UA.Accept]
)

// String returns "outbound" or "inbound".
func (d Direction) String() string {
	if d == Inbound {
		return "inbound"
	}
	return "outbound"
}

// Party says who ended a call, in [End].
type Party uint8

// Parties that end a call.
const (
	Local  Party = iota + 1 // this UA sent BYE (or the call failed here)
	Remote                  // the peer sent BYE
)

// String returns "local" or "remote".
func (p Party) String() string {
	switch p {
	case Local:
		return "local"
	case Remote:
		return "remote"
	}
	return "none"
}

// End tells how a call ended.
type End struct {
	// By is the party that hung up.
	By Party
	// Time is when the call ended.
	Time time.Time
	// Reason is the Reason header (RFC 3326) of the peer's BYE, empty when
	// it had none or the call ended otherwise.
	Reason string
}

// Call is one established call of a [UA]: its dialog and its media. It
// sends the UA's [Source] from its answer on and keeps what it receives.
// Its methods are safe for concurrent use.
type Call struct {
	ua        *UA
	dir       Direction
	media     *media
	sessionID uint64
	version   atomic.Uint64

	// Set before the call is shared.
	id, from, to, target string
	client               *sipgo.DialogClientSession
	server               *sipgo.DialogServerSession

	mu       sync.Mutex
	codec    Codec
	ringing  time.Time
	answered time.Time
	end      End

	done    chan struct{}
	endOnce sync.Once
}

func newCall(u *UA, dir Direction, m *media) *Call {
	return &Call{ua: u, dir: dir, media: m, sessionID: rand.Uint64() >> 1, done: make(chan struct{})}
}

func (c *Call) nextVersion() uint64 { return c.version.Add(1) }

// setRequest records the INVITE's identifying headers.
func (c *Call) setRequest(req *sip.Request) {
	if cid := req.CallID(); cid != nil {
		c.id = cid.Value()
	}
	if f := req.From(); f != nil {
		c.from = f.Address.User
	}
	if t := req.To(); t != nil {
		c.to = t.Address.User
	}
	c.target = req.Recipient.User
}

// ID returns the call's Call-ID.
func (c *Call) ID() string { return c.id }

// Direction reports whether this UA placed or answered the call.
func (c *Call) Direction() Direction { return c.dir }

// From returns the user part of the INVITE's From header: the caller.
func (c *Call) From() string { return c.from }

// To returns the user part of the INVITE's To header.
func (c *Call) To() string { return c.to }

// Target returns the user part of the INVITE's Request-URI: the number
// dialled, as this UA saw it.
func (c *Call) Target() string { return c.target }

// Codec returns the codec the call sends and expects.
func (c *Call) Codec() Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec
}

// Ringing returns when the call first rang: the first 180 or 183 an
// outbound call received, the 180 an inbound call sent.
func (c *Call) Ringing() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ringing
}

// Answered returns when the call was answered.
func (c *Call) Answered() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// LocalRTP returns the address the call receives RTP on.
func (c *Call) LocalRTP() netip.AddrPort { return c.media.addr }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// End returns how the call ended; its By is zero while the call runs.
func (c *Call) End() End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

// Received returns a copy of the audio received so far, decoded to 8 kHz
// linear samples: every packet's audio after the previous one's, with
// silence for the timestamps loss or silence suppression skipped.
func (c *Call) Received() []int16 { return c.media.received() }

// Stats returns the call's RTP counters.
func (c *Call) Stats() MediaStats { return c.media.snapshot() }

// Hangup ends the call with BYE and waits for its answer, bounded by ctx.
// The BYE carries hdrs in addition to its own, for example a Reason. The
// call is over when Hangup returns, whatever the error; hanging up an
// ended call does nothing.
func (c *Call) Hangup(ctx context.Context, hdrs ...sip.Header) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	var err error
	switch {
	case len(hdrs) > 0:
		bye := sip.NewRequest(sip.BYE, c.RemoteTarget())
		for _, h := range hdrs {
			bye.AppendHeader(h)
		}
		if c.client != nil {
			err = c.client.WriteBye(ctx, bye)
		} else {
			err = c.server.WriteBye(ctx, bye)
		}
	case c.client != nil:
		err = c.client.Bye(ctx)
	default:
		err = c.server.Bye(ctx)
	}
	c.finish(Local, "")
	return err
}

// Mute stops the call's audio, or resumes it: a muted call sends no RTP
// at all.
func (c *Call) Mute(muted bool) { c.media.setMuted(muted) }

// RemoteRTP returns where the call sends its RTP: the address of the
// peer's last session description.
func (c *Call) RemoteRTP() netip.AddrPort { return c.media.remoteAddr() }

// RemoteTarget returns the peer's Contact: the Request-URI of the
// requests the UA sends within the call.
func (c *Call) RemoteTarget() sip.Uri {
	if c.client != nil {
		return *c.client.InviteResponse.Contact().Address.Clone()
	}
	return *c.server.InviteRequest.Contact().Address.Clone()
}

// SendRTP sends pkt from the call's RTP socket to [Call.RemoteRTP],
// beside the paced audio: for a test that builds its own packets, such as
// telephone events.
func (c *Call) SendRTP(pkt *rtp.Packet) error {
	raw, err := pkt.Marshal()
	if err != nil {
		return err
	}
	return c.media.write(raw)
}

// Hold puts the call on hold, or takes it off hold, with a re-INVITE: on
// hold the UA offers a=sendonly (RFC 6337) and sends no audio, as a phone
// without music on hold does; the peer's answer stops its audio too. Off
// hold it offers a=sendrecv and both resume. A failure response is
// returned as a [*StatusError] and leaves the call as it was.
func (c *Call) Hold(ctx context.Context, hold bool) error {
	dir := sdp.DirectionSendRecv
	if hold {
		dir = sdp.DirectionSendOnly
	}
	codec := c.Codec()
	body, err := buildSDP(c.sessionID, c.nextVersion(), c.media.sdpAddr, []Codec{codec}, true, dir)
	if err != nil {
		return fmt.Errorf("sipua: offer: %w", err)
	}
	var (
		target sip.Uri
		do     func(context.Context, *sip.Request) (*sip.Response, error)
		write  func(*sip.Request) error
	)
	if c.client != nil {
		target, do, write = c.client.InviteResponse.Contact().Address, c.client.Do, c.client.WriteRequest
	} else {
		target, do, write = c.server.InviteRequest.Contact().Address, c.server.Do, c.server.WriteRequest
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := do(ctx, req)
	if err != nil {
		return fmt.Errorf("sipua: re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return statusError(res)
	}
	// The ACK of a 2xx is its own transaction, with the re-INVITE's CSeq.
	ack := sip.NewRequest(sip.ACK, target)
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
	if err := write(ack); err != nil {
		return fmt.Errorf("sipua: ACK: %w", err)
	}
	oa, err := parseSDP(res.Body())
	if err != nil {
		return err
	}
	c.media.start(oa.addr, codec, !hold && sends(answerDirection(oa.dir)))
	return nil
}

// finish ends the call once: stops its media and forgets it.
func (c *Call) finish(by Party, reason string) {
	c.endOnce.Do(func() {
		c.media.close()
		c.ua.unregister(c)
		c.mu.Lock()
		c.end = End{By: by, Time: time.Now(), Reason: reason}
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *Call) readBye(req *sip.Request, tx sip.ServerTransaction) {
	var err error
	if c.client != nil {
		err = c.client.ReadBye(req, tx)
	} else {
		err = c.server.ReadBye(req, tx)
	}
	if errors.Is(err, sipgo.ErrDialogInvalidCseq) {
		// Not this dialog's BYE (its CSeq is older than the INVITE's): the
		// call goes on.
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if err != nil {
		c.ua.log.Debug("answering BYE", "call_id", c.id, "error", err)
	}
	var reason string
	if h := req.GetHeader("Reason"); h != nil {
		reason = h.Value()
	}
	c.finish(Remote, reason)
}

// onProgress notes provisional responses of an outbound call; early media
// of a 183 is received (not answered with media).
func (c *Call) onProgress(res *sip.Response) error {
	if res.StatusCode != sip.StatusRinging && res.StatusCode != sip.StatusSessionInProgress {
		return nil
	}
	c.mu.Lock()
	if c.ringing.IsZero() {
		c.ringing = time.Now()
	}
	c.mu.Unlock()
	return nil
}

// established completes an answered outbound call: reads the answer,
// acknowledges and starts sending.
func (c *Call) established(ctx context.Context, answer []byte) error {
	c.mu.Lock()
	c.answered = time.Now() // the 200's arrival, before the ACK
	c.mu.Unlock()
	oa, err := parseSDP(answer)
	if err == nil && len(oa.codecs) == 0 {
		err = ErrSDP
	}
	if ackErr := c.client.Ack(ctx); ackErr != nil {
		return errors.Join(err, ackErr)
	}
	if err != nil {
		_ = c.client.Bye(ctx)
		return err
	}
	c.mu.Lock()
	c.codec = oa.codecs[0]
	c.mu.Unlock()
	c.media.start(oa.addr, oa.codecs[0], sends(answerDirection(oa.dir)))
	return nil
}

// answer rings an inbound call, answers it with SDP and waits for the ACK.
// With [Config.EarlyMedia] it rings with 183 and the answer's SDP, and its
// audio starts then.
func (c *Call) answer(oa offerAnswer, codec Codec) error {
	u := c.ua
	dir := answerDirection(oa.dir)
	body, err := buildSDP(c.sessionID, c.nextVersion(), c.media.sdpAddr, []Codec{codec}, oa.events, dir)
	if err != nil {
		_ = c.server.Respond(sip.StatusInternalServerError, "Server Internal Error", nil)
		return err
	}
	if u.cfg.EarlyMedia {
		err = c.server.Respond(sip.StatusSessionInProgress, "Session Progress", body,
			sip.NewHeader("Content-Type", "application/sdp"))
		c.media.start(oa.addr, codec, sends(dir))
	} else {
		err = c.server.Respond(sip.StatusRinging, "Ringing", nil)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.ringing = time.Now()
	c.mu.Unlock()
	if u.cfg.RingTime > 0 {
		t := time.NewTimer(u.cfg.RingTime)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.server.Context().Done():
			return context.Cause(c.server.Context()) // cancelled
		case <-u.ctx.Done():
			_ = c.server.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
			return ErrClosed
		}
	}
	c.mu.Lock()
	c.codec = codec
	c.answered = time.Now()
	c.mu.Unlock()
	c.media.start(oa.addr, codec, sends(dir))
	// RespondSDP retransmits the 200 until the ACK arrives (RFC 6026).
	return c.server.RespondSDP(body)
}

// reinvite answers an in-dialog INVITE: hold, resume or a new address.
func (c *Call) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	oa, err := parseSDP(req.Body())
	if err != nil {
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	codec := c.Codec()
	dir := answerDirection(oa.dir)
	body, err := buildSDP(c.sessionID, c.nextVersion(), c.media.sdpAddr, []Codec{codec}, oa.events, dir)
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	c.media.start(oa.addr, codec, sends(dir))
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(&c.ua.dua.ContactHDR)
	_ = tx.Respond(res)
}

// sends reports whether a stream in direction d (ours) carries our audio.
func sends(d sdp.Direction) bool {
	return d == sdp.DirectionSendRecv || d == sdp.DirectionSendOnly
}
