package relay_test

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/sipadapter/internal/fakeclock"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peerOn is a peer bound to addr (port 0 picks one).
func peerOn(t testing.TB, addr netip.AddrPort) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Skipf("cannot bind %v on this host: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &peer{t: t, conn: conn}
}

func rtcpOf(p netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(p.Addr(), p.Port()+1) }

// TestStrictRejectsStrangers: in the default mode a stranger on the
// party's own host with another port, and one on another loopback address,
// are refused on both the RTP and the RTCP socket, and the first reject is
// reported with its source.
func TestStrictRejectsStrangers(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	var mu sync.Mutex
	var rejects []relay.Reject
	s.OnReject(func(r relay.Reject) { mu.Lock(); rejects = append(rejects, r); mu.Unlock() })
	caller, callee := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())

	samePort := newPeer(t) // 127.0.0.1, another port
	otherHost := peerOn(t, netip.MustParseAddrPort("127.0.0.2:0"))
	for _, stranger := range []*peer{samePort, otherHost} {
		stranger.send(s.Local(relay.Callee), packet(1, "evil"))
		_, err := stranger.conn.WriteToUDPAddrPort([]byte{0x80, 200, 0, 1, 0, 0, 0, 1}, rtcpOf(s.Local(relay.Callee)))
		require.NoError(t, err)
	}
	assert.Eventually(t, func() bool {
		st := s.Stats().Callee
		return st.Rejected == 2 && st.RTCPRejected == 2
	}, 2*time.Second, time.Millisecond)
	caller.expectNothing()

	// The real callee is relayed from its first packet on, both ways.
	callee.send(s.Local(relay.Callee), packet(2, "real"))
	got, _ := caller.recv()
	assert.Equal(t, "real", string(got.Payload))
	caller.send(s.Local(relay.Caller), packet(3, "to-callee"))
	got, _ = callee.recv()
	assert.Equal(t, "to-callee", string(got.Payload))
	samePort.expectNothing()
	otherHost.expectNothing()

	st := s.Stats()
	assert.EqualValues(t, 1, st.Callee.Received)
	assert.False(t, st.Callee.Latched.IsValid(), "strict mode never latches")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, rejects, 1, "only the first reject is reported")
	// The RTP and the RTCP socket race for the first.
	want := relay.Reject{Party: relay.Callee, Source: samePort.addr(), Expected: callee.addr()}
	if rejects[0].RTCP {
		want.RTCP, want.Expected = true, rtcpOf(callee.addr())
	}
	assert.Equal(t, want, rejects[0])
}

// TestStrictWithoutSDPRejects: before a party's SDP is known, nothing from
// it is accepted.
func TestStrictWithoutSDPRejects(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	callee.send(s.Local(relay.Callee), packet(1, "early"))
	assert.Eventually(t, func() bool { return s.Stats().Callee.Rejected == 1 }, 2*time.Second, time.Millisecond)
	caller.expectNothing()
}

// TestNATLearning: a NAT party whose SDP names another port is latched
// within the learning window; a stranger after the window is refused; the
// SDP address takes the leg back; a party that starts sending only after
// the window is refused until Relearn opens a new one.
func TestNATLearning(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_700_000_000, 0))
	a := newTestAnchor(t, 4, clock)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, natted := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetMode(relay.Callee, relay.NAT)
	sdp := netip.AddrPortFrom(loopback, 9) // the private address it names
	s.SetRemote(relay.Callee, sdp)

	clock.Advance(time.Second)
	natted.send(s.Local(relay.Callee), packet(1, "from-nat"))
	got, _ := caller.recv()
	assert.Equal(t, "from-nat", string(got.Payload))
	remote, latched := s.Remote(relay.Callee)
	assert.True(t, latched)
	assert.Equal(t, natted.addr(), remote)
	caller.send(s.Local(relay.Caller), packet(2, "to-nat"))
	got, _ = natted.recv()
	assert.Equal(t, "to-nat", string(got.Payload))

	clock.Advance(2 * time.Second) // past the window
	stranger := peerOn(t, netip.MustParseAddrPort("127.0.0.2:0"))
	stranger.send(s.Local(relay.Callee), packet(3, "evil"))
	caller.expectNothing()
	assert.EqualValues(t, 1, s.Stats().Callee.Rejected)
	assert.Equal(t, natted.addr(), s.Stats().Callee.Latched)

	// A stranger within a fresh window is refused too: the leg latched.
	s.Relearn(relay.Callee)
	stranger.send(s.Local(relay.Callee), packet(4, "evil"))
	caller.expectNothing()
	assert.EqualValues(t, 2, s.Stats().Callee.Rejected)

	// A party that stays silent through the window latches only once
	// Relearn re-opens it (the B2BUA does at answer).
	s2, err := a.Open()
	require.NoError(t, err)
	defer s2.Close()
	s2.SetRemote(relay.Caller, caller.addr())
	s2.SetMode(relay.Callee, relay.NAT)
	s2.SetRemote(relay.Callee, sdp)
	clock.Advance(3 * time.Second)
	natted.send(s2.Local(relay.Callee), packet(5, "late"))
	caller.expectNothing()
	s2.Relearn(relay.Callee)
	natted.send(s2.Local(relay.Callee), packet(6, "after-relearn"))
	got, _ = caller.recv()
	assert.Equal(t, "after-relearn", string(got.Payload))
}

// TestNATSDPAddressTakesBack: packets from exactly the SDP address are
// accepted after a latch and move the target back.
func TestNATSDPAddressTakesBack(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee, natted := newPeer(t), newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetMode(relay.Callee, relay.NAT)
	s.SetRemote(relay.Callee, callee.addr())
	natted.send(s.Local(relay.Callee), packet(1, "nat"))
	caller.recv()
	callee.send(s.Local(relay.Callee), packet(2, "sdp"))
	got, _ := caller.recv()
	assert.Equal(t, "sdp", string(got.Payload))
	remote, latched := s.Remote(relay.Callee)
	assert.False(t, latched)
	assert.Equal(t, callee.addr(), remote)
	natted.send(s.Local(relay.Callee), packet(3, "nat-again"))
	caller.expectNothing()
}
