package sipadapter

import (
	"context"
	"errors"
	"time"

	"github.com/callrec/callrec/sipadapter/relay"
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
// session refresh) is answered locally with the last SDP sent to that
// party. Overlapping re-INVITEs get 491 (RFC 3261 §14.2).
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
		c.respondSDP(tx, req, s, body)
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
	c.media.SetRemote(from, offer.addr)
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
	res, err := c.transact(ctx, other, out)
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
	if err := other.write(ack); err != nil {
		c.b.log.Warn("ACK of re-INVITE", "call_id", c.callID, "error", err)
	}
	answer, err := parseSDP(res.Body())
	if err != nil {
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(s, err.Error()))
		return
	}
	c.media.SetRemote(to, answer.addr)
	c.media.SuspendInactivity(offer.held() || answer.held())
	back, err := anchorSDP(answer, c.b.cfg.MediaAddr, c.media.Local(from).Port())
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	c.mu.Lock()
	c.lastSDP[to], c.lastSDP[from] = fwd, back
	c.mu.Unlock()
	c.respondSDP(tx, req, s, back)
}

// respondSDP answers a re-INVITE with 200 and body. The UAS core, not the
// transaction, retransmits a 2xx to an INVITE (RFC 3261 §13.3.1.4, RFC
// 6026): over UDP the 200 is sent again at T1, doubling up to T2, until the
// party's ACK arrives, for at most 64×T1 or until the call ends.
func (c *call) respondSDP(tx sip.ServerTransaction, req *sip.Request, s *side, body []byte) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ct := s.dua.ContactHDR
	res.AppendHeader(&ct)
	acked := make(chan struct{})
	c.mu.Lock()
	c.reinviteAck = pendingAck{side: s.which, cseq: req.CSeq().SeqNo, acked: acked}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinviteAck = pendingAck{}
		c.mu.Unlock()
	}()
	if err := tx.Respond(res); err != nil || sip.IsReliable(req.Transport()) {
		return
	}
	interval := sip.T1
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-acked:
			return
		case <-giveUp.C:
			return
		case <-c.ctx.Done():
			return
		case <-time.After(interval):
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
}

// transact sends req in the other leg's dialog and waits for its final
// response.
func (c *call) transact(ctx context.Context, other leg, req *sip.Request) (*sip.Response, error) {
	tx, err := other.do(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
