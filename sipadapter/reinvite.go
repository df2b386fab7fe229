package sipadapter

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// leg is the B2BUA's view of one party's dialog, for requests it forwards
// into it.
type leg struct {
	side   *side
	target sip.Uri
	// do sends an in-dialog request and returns the transaction.
	do func(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error)
	// write sends an in-dialog request without a transaction (ACK).
	write func(req *sip.Request) error
}

func (c *call) leg(p relay.Party) leg {
	if p == relay.Caller {
		return leg{side: c.in, target: c.a.InviteRequest.Contact().Address, do: c.a.TransactionRequest, write: c.a.WriteRequest}
	}
	target := c.bdlg.InviteRequest.Recipient
	if ct := c.bdlg.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	return leg{side: c.out, target: target, do: c.bdlg.TransactionRequest, write: c.bdlg.WriteRequest}
}

// reinvite forwards a re-INVITE (hold, resume, a new address) from one
// party to the other, anchoring both SDPs. A re-INVITE without an offer (a
// session refresh, or a party asking for an offer) is answered locally: the
// 200 carries the last SDP sent to that party, unchanged and with the same
// o= version, as the B2BUA's offer (RFC 3264 §8), and the party's answer
// in its ACK is applied to the relay (readAck). Overlapping re-INVITEs get
// 491 (RFC 3261 §14.2).
func (c *call) reinvite(w Side, req *sip.Request, tx sip.ServerTransaction) {
	select {
	case c.reinvite1 <- struct{}{}:
		defer func() { <-c.reinvite1 }()
	default:
		respond(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	c.mu.Lock()
	established := c.established && c.cause == ""
	c.mu.Unlock()
	if !established {
		respond(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	from := relay.Callee
	if w == c.in.which {
		from = relay.Caller
	}
	to := from.Other()
	s := c.leg(from).side
	if len(req.Body()) == 0 {
		c.mu.Lock()
		body := c.lastSDP[from]
		c.mu.Unlock()
		offer, err := parseSDP(body)
		if err != nil { // never: the B2BUA built it
			respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
			return
		}
		c.respondSDP(tx, req, s, body, &pendingOffer{party: from, held: offer.held()})
		return
	}
	offer, err := parseSDP(req.Body())
	if err != nil {
		code, reason := sip.StatusBadRequest, "Bad Request"
		if errors.Is(err, ErrNoCodec) {
			code, reason = sip.StatusNotAcceptableHere, "Not Acceptable Here"
		}
		respond(tx, req, code, reason, warning(s, err.Error()))
		return
	}
	c.setRemote(from, offer)
	fwd, err := anchorSDP(offer, c.b.cfg.MediaAddr, c.media.Local(to).Port())
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	other := c.leg(to)
	out := sip.NewRequest(sip.INVITE, *other.target.Clone())
	out.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	out.SetBody(fwd)
	other.side.setLaddr(out)
	ctx, cancel := context.WithTimeout(c.ctx, byeTimeout)
	defer cancel()
	res, otx, err := c.transact(ctx, other, out)
	if err != nil {
		respond(tx, req, sip.StatusRequestTimeout, "Request Timeout", reasonHeader(sip.StatusRequestTimeout, "no answer to re-INVITE"))
		return
	}
	if !res.IsSuccess() {
		hdrs := []sip.Header{reasonHeader(res.StatusCode, res.Reason)}
		if res.StatusCode == sip.StatusRequestPending {
			// Glare on the other leg: the party retries after a random delay.
			hdrs = nil
		}
		respond(tx, req, res.StatusCode, res.Reason, hdrs...)
		return
	}
	ack := sip.NewRequest(sip.ACK, *other.target.Clone())
	other.side.setLaddr(ack)
	if err := c.ackAccepted(otx, other, ack); err != nil {
		c.b.log.Warn("ACK of re-INVITE", "call_id", c.callID, "error", err)
	}
	answer, err := parseSDP(res.Body())
	if err != nil {
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(s, err.Error()))
		return
	}
	c.setRemote(to, answer)
	c.media.SuspendInactivity(offer.held() || answer.held())
	back, err := anchorSDP(answer, c.b.cfg.MediaAddr, c.media.Local(from).Port())
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	c.mu.Lock()
	c.lastSDP[to], c.lastSDP[from] = fwd, back
	c.mu.Unlock()
	c.respondSDP(tx, req, s, back, nil)
}

// respondSDP answers a re-INVITE with 200 and body, an answer, or an offer
// when offer is set, whose answer the ACK brings. The UAS core, not the
// transaction, retransmits a 2xx to an INVITE (RFC 3261 §13.3.1.4, RFC
// 6026): over UDP the 200 is sent again at T1, doubling up to T2, until the
// party's ACK arrives, for at most 64×T1 or until the call ends.
func (c *call) respondSDP(tx sip.ServerTransaction, req *sip.Request, s *side, body []byte, offer *pendingOffer) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ct := s.dua.ContactHDR
	res.AppendHeader(&ct)
	acked := make(chan struct{})
	c.mu.Lock()
	c.reinviteAck = pendingAck{side: s.which, cseq: req.CSeq().SeqNo, acked: acked, offer: offer}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinviteAck = pendingAck{}
		c.mu.Unlock()
	}()
	if err := tx.Respond(res); err != nil {
		return
	}
	// Over TCP nothing is retransmitted, but the wait for the ACK stays:
	// it may carry the answer to our offer, and no other re-INVITE may
	// start before it (RFC 3264 §4).
	reliable := sip.IsReliable(req.Transport())
	interval := sip.T1
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		var retransmit <-chan time.Time
		if !reliable {
			retransmit = time.After(interval)
		}
		select {
		case <-acked:
			return
		case <-giveUp.C:
			return
		case <-c.ctx.Done():
			return
		case <-retransmit:
			if tx.Respond(res) != nil {
				return
			}
			interval = min(2*interval, sip.T2)
		}
	}
}

// pendingAck is the re-INVITE 2xx waiting for its ACK.
type pendingAck struct {
	side  Side
	cseq  uint32
	acked chan struct{}
	offer *pendingOffer // the 2xx carried an offer: the ACK has the answer
}

// pendingOffer is an offer the B2BUA made in a 2xx to a re-INVITE without
// SDP: to party, on hold or not.
type pendingOffer struct {
	party relay.Party
	held  bool
}

// answerInAck applies the answer a party put in its ACK to the B2BUA's
// offer: its media address (re-arming latching when it moved) and hold.
// A missing or unusable answer breaks RFC 3261 §13.2.2.4; the session
// then stays as it was, since ending a call for it would lose more than
// it protects.
func (c *call) answerInAck(o *pendingOffer, body []byte) {
	if len(body) == 0 {
		c.b.log.Warn("ACK without the answer to the offer in our 2xx: media unchanged", "call_id", c.callID, "party", o.party)
		return
	}
	answer, err := parseSDP(body)
	if err != nil {
		c.b.log.Warn("ACK with an unusable answer: media unchanged", "call_id", c.callID, "party", o.party, "error", err)
		return
	}
	c.setRemote(o.party, answer)
	c.media.SuspendInactivity(o.held || answer.held())
}

// transact sends req in the other leg's dialog and waits for its final
// response. The transaction is returned live after a 2xx, for ackAccepted, and
// terminated otherwise.
func (c *call) transact(ctx context.Context, other leg, req *sip.Request) (*sip.Response, sip.ClientTransaction, error) {
	tx, err := other.do(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if !res.IsSuccess() {
				tx.Terminate()
			}
			return res, tx, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, nil, err
			}
			return nil, nil, context.DeadlineExceeded
		case <-ctx.Done():
			tx.Terminate()
			return nil, nil, ctx.Err()
		}
	}
}

// ackAccepted sends the ACK of the 2xx to a re-INVITE the B2BUA sent, and
// the same ACK again for every retransmission of that 2xx, as the UAC core
// must (RFC 3261 §13.2.2.4): over UDP a lost ACK would otherwise leave the
// party retransmitting for 32 s and then ending the call. The transaction
// absorbs the retransmissions in its Accepted state (RFC 6026) until its
// Timer M, or until the next re-INVITE or the end of the call terminates it.
func (c *call) ackAccepted(tx sip.ClientTransaction, other leg, ack *sip.Request) error {
	var mu sync.Mutex
	var sent *sip.Request // the ACK as the dialog built it
	// The hook goes in before the first ACK leaves. A retransmission seen
	// before that is answered by the first ACK itself; one seen while it
	// is being sent waits for it and is answered again.
	tx.OnRetransmission(func(r *sip.Response) {
		mu.Lock()
		tmpl := sent
		mu.Unlock()
		if !r.IsSuccess() || tmpl == nil {
			return
		}
		again := tmpl.Clone()
		other.side.setLaddr(again)
		// Sent as built: rebuilding would take the dialog's current CSeq.
		if err := other.side.cli.WriteRequest(again, func(*sipgo.Client, *sip.Request) error { return nil }); err != nil {
			c.b.log.Debug("ACK retransmission", "call_id", c.callID, "error", err)
		}
	})
	mu.Lock()
	err := other.write(ack)
	sent = ack.Clone()
	mu.Unlock()
	c.mu.Lock()
	prev := c.accepted
	c.accepted = tx
	c.mu.Unlock()
	if prev != nil {
		prev.Terminate()
	}
	return err
}
