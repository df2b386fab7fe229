package relay_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/internal/fakeclock"
	"github.com/callrec/callrec/sipadapter/relay"
)

// BenchmarkRelayRecordLoopback relays and records one call end to end
// through real loopback sockets: the caller and the callee each send a
// 20 ms PCMU packet per op to the relay, the relay forwards it to the other
// party and taps it into a stereo WAV recording on disk in b.TempDir(). One
// op is one packet each way; ns/packet is the cost of one relayed and
// recorded packet, measured round trip from the sending socket to the
// receiving one. Allocations are counted process-wide (relay goroutines
// and recorder included). The relay's clock advances 10 ms per packet, so
// the recording sees the arrivals of a real 20 ms call and decodes every
// packet, which the benchmark checks at the end.
func BenchmarkRelayRecordLoopback(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := fakeclock.New(start)
	a := newTestAnchor(b, 4, clk)
	s, err := a.Open()
	require.NoError(b, err)
	defer s.Close()
	rec, err := recorder.New(recorder.Config{Path: filepath.Join(b.TempDir(), "call.wav"), Clock: clk.Now})
	require.NoError(b, err)
	caller, callee := newPeer(b), newPeer(b)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())
	s.SetTap(relay.Caller, rec.Caller())
	s.SetTap(relay.Callee, rec.Callee())
	require.NoError(b, caller.conn.SetReadDeadline(time.Time{}))
	require.NoError(b, callee.conn.SetReadDeadline(time.Time{}))

	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xFF // PCMU silence
	}
	pkts := [2]rtp.Packet{
		{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0xCA110001}, Payload: silence},
		{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0xCA110002}, Payload: silence},
	}
	raw := make([]byte, 1500)
	rbuf := make([]byte, 1500)
	send := func(from, to *peer, dst netip.AddrPort, p *rtp.Packet) {
		n, err := p.MarshalTo(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := from.conn.WriteToUDPAddrPort(raw[:n], dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := to.conn.ReadFromUDPAddrPort(rbuf); err != nil {
			b.Fatal(err)
		}
	}
	toCaller, toCallee := s.Local(relay.Caller), s.Local(relay.Callee)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for side := range pkts {
			p := &pkts[side]
			p.SequenceNumber, p.Timestamp = uint16(i), uint32(i)*160
			clk.Advance(10 * time.Millisecond)
			if side == 0 {
				send(caller, callee, toCaller, p)
			} else {
				send(callee, caller, toCallee, p)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/packet")
	require.NoError(b, s.Close())
	res, err := rec.Close(context.Background())
	require.NoError(b, err)
	require.Equal(b, uint64(b.N), res.Caller.Decoded, "caller packets recorded")
	require.Equal(b, uint64(b.N), res.Callee.Decoded, "callee packets recorded")
}
