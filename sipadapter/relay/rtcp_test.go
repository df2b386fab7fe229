package relay_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shift rewrites the RTP toward a party as the guidance stream does: its
// own SSRC, and sequence numbers and timestamps continuing its own.
type shift struct {
	ssrc uint32
	seq  uint16
	ts   uint32
}

func (s shift) Relay(p *rtp.Packet) bool {
	p.SSRC, p.SequenceNumber, p.Timestamp = s.ssrc, p.SequenceNumber+s.seq, p.Timestamp+s.ts
	return true
}

func (p *peer) sendRTCP(to netip.AddrPort, pkts ...rtcp.Packet) {
	p.t.Helper()
	raw, err := rtcp.Marshal(pkts)
	require.NoError(p.t, err)
	_, err = p.conn.WriteToUDPAddrPort(raw, to)
	require.NoError(p.t, err)
}

func (p *peer) recvRTCP() []rtcp.Packet {
	p.t.Helper()
	buf := make([]byte, 1500)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	require.NoError(p.t, err)
	pkts, err := rtcp.Unmarshal(buf[:n])
	require.NoError(p.t, err)
	return pkts
}

// TestRTCPAgreesWithRewrittenRTP: with filters rewriting SSRC, sequence
// numbers and timestamps both ways, each party's sender report arrives
// with the SSRC and the RTP timestamp of the stream the other party
// receives, and with the packet count it received; reception reports are
// mapped back to the SSRC and sequence numbers their subject sent.
func TestRTCPAgreesWithRewrittenRTP(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee := newPeer(t), newPeer(t)
	callerRTCP, calleeRTCP := newPeer(t), newPeer(t)
	s.SetRemotes(relay.Caller, caller.addr(), callerRTCP.addr())
	s.SetRemotes(relay.Callee, callee.addr(), calleeRTCP.addr())
	s.SetFilter(relay.Callee, shift{ssrc: 0x5EED, seq: 1000, ts: 50000})
	s.SetFilter(relay.Caller, shift{ssrc: 0x7777, seq: 60000, ts: 7})

	var last *rtp.Packet
	for seq := uint16(1); seq <= 5; seq++ {
		caller.send(s.Local(relay.Caller), packet(seq, "voice"))
		last, _ = callee.recv()
	}
	// Counted once the write returned, perhaps after the callee read it.
	require.Eventually(t, func() bool { return s.Stats().Caller.Forwarded == 5 }, time.Second, time.Millisecond)
	const callerSSRC = 0xCA110000
	rtcpOf := func(p relay.Party) netip.AddrPort { return netip.AddrPortFrom(s.Local(p).Addr(), s.Local(p).Port()+1) }
	// The caller reports on its stream as it sent it.
	callerRTCP.sendRTCP(rtcpOf(relay.Caller), &rtcp.SenderReport{
		SSRC: callerSSRC, NTPTime: 1 << 32, RTPTime: 5 * 160, PacketCount: 5, OctetCount: 25,
	})
	got := calleeRTCP.recvRTCP()
	require.Len(t, got, 1)
	sr, ok := got[0].(*rtcp.SenderReport)
	require.True(t, ok)
	assert.Equal(t, last.SSRC, sr.SSRC, "the SR names the SSRC the callee receives")
	assert.InDelta(t, float64(last.Timestamp), float64(sr.RTPTime), 160, "the SR's RTP time is on the callee's timeline")
	assert.EqualValues(t, 5, sr.PacketCount)
	assert.EqualValues(t, 25, sr.OctetCount)

	// The callee reports on what it received: the rewritten stream.
	callee.send(s.Local(relay.Callee), packet(9, "back"))
	fromCallee, _ := caller.recv()
	calleeRTCP.sendRTCP(rtcpOf(relay.Callee), &rtcp.ReceiverReport{SSRC: callerSSRC, Reports: []rtcp.ReceptionReport{{
		SSRC: last.SSRC, LastSequenceNumber: 1<<16 | uint32(last.SequenceNumber),
	}}})
	got = callerRTCP.recvRTCP()
	require.Len(t, got, 1)
	rr, ok := got[0].(*rtcp.ReceiverReport)
	require.True(t, ok)
	assert.Equal(t, fromCallee.SSRC, rr.SSRC, "the RR's sender is named as the caller sees the callee")
	require.Len(t, rr.Reports, 1)
	assert.EqualValues(t, callerSSRC, rr.Reports[0].SSRC, "the report is about the caller's own SSRC")
	assert.EqualValues(t, 1<<16|5, rr.Reports[0].LastSequenceNumber, "mapped back to the caller's sequence numbers")
}
