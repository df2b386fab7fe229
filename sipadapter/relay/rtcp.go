package relay

import (
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// rewrite is how a [Filter] rewrote the RTP toward one party: the SSRC it
// replaced and the one the party sees, and the offsets it added to the
// sequence numbers and timestamps. The relay learns it from the packets it
// forwards, so that RTCP toward the party can be made to agree with the
// RTP the party actually receives.
type rewrite struct {
	ssrcs   atomic.Uint64 // in<<32 | out
	offsets atomic.Uint64 // ts<<32 | seq<<16 | 1 when valid
}

// note records the rewrite between the packet as the party sent it and as
// it is forwarded. It stores only on a change, so the steady state writes
// no shared cache line.
func (r *rewrite) note(inSSRC uint32, inSeq uint16, inTS uint32, out *rtp.Header) {
	ssrcs := uint64(inSSRC)<<32 | uint64(out.SSRC)
	offsets := uint64(out.Timestamp-inTS)<<32 | uint64(out.SequenceNumber-inSeq)<<16 | 1
	if r.ssrcs.Load() != ssrcs {
		r.ssrcs.Store(ssrcs)
	}
	if r.offsets.Load() != offsets {
		r.offsets.Store(offsets)
	}
}

// load returns the rewrite; ok is false when no rewritten packet has been
// forwarded, in which case RTCP goes through unchanged.
func (r *rewrite) load() (in, out, tsDelta uint32, seqDelta uint16, ok bool) {
	o := r.offsets.Load()
	if o&1 == 0 {
		return 0, 0, 0, 0, false
	}
	s := r.ssrcs.Load()
	return uint32(s >> 32), uint32(s), uint32(o >> 32), uint16(o >> 16), true
}

// rewriteRTCP makes the compound RTCP packet raw, sent by the party facing
// src, agree with the rewritten RTP: a sender report about src's stream
// takes the SSRC and the RTP timestamp the other party sees, and the
// packet and octet counts the relay sent it; reception reports about the
// other party's stream, which src received rewritten, are mapped back to
// the SSRC and sequence numbers that party sent. It returns raw unchanged
// when nothing is rewritten in either direction or the packet does not
// parse.
func rewriteRTCP(raw []byte, src, dst *leg) []byte {
	fwdIn, fwdOut, tsDelta, _, fwd := dst.rewrite.load()  // src's stream, as dst's party sees it
	revIn, revOut, _, seqDelta, rev := src.rewrite.load() // dst's party's stream, as src's party sees it
	if !fwd && !rev {
		return raw
	}
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		return raw
	}
	mapReports := func(rr []rtcp.ReceptionReport) {
		if !rev {
			return
		}
		for i := range rr {
			if rr[i].SSRC != revOut {
				continue
			}
			rr[i].SSRC = revIn
			// The extended highest sequence number: its low 16 bits are
			// the rewritten sequence number, the cycles are kept.
			seq := uint16(rr[i].LastSequenceNumber) - seqDelta
			rr[i].LastSequenceNumber = rr[i].LastSequenceNumber&^0xFFFF | uint32(seq)
		}
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			if fwd && p.SSRC == fwdIn {
				p.SSRC = fwdOut
				p.RTPTime += tsDelta
				p.PacketCount = uint32(src.c.forwarded.Load() + dst.c.injected.Load())
				p.OctetCount = uint32(src.c.forwardedOctets.Load() + dst.c.injectedOctets.Load())
			}
			mapReports(p.Reports)
		case *rtcp.ReceiverReport:
			if fwd && p.SSRC == fwdIn {
				p.SSRC = fwdOut
			}
			mapReports(p.Reports)
		case *rtcp.SourceDescription:
			for i := range p.Chunks {
				if fwd && p.Chunks[i].Source == fwdIn {
					p.Chunks[i].Source = fwdOut
				}
			}
		}
	}
	out, err := rtcp.Marshal(pkts)
	if err != nil {
		return raw
	}
	return out
}
