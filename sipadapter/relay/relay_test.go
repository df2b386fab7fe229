package relay_test

import (
	"errors"
	"github.com/callrec/callrec/sipadapter/internal/fakeclock"
	"github.com/callrec/callrec/sipadapter/relay"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// peer is a UDP socket standing in for a party's RTP endpoint.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &peer{t: t, conn: conn}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(to netip.AddrPort, pkt *rtp.Packet) {
	p.t.Helper()
	b, err := pkt.Marshal()
	require.NoError(p.t, err)
	_, err = p.conn.WriteToUDPAddrPort(b, to)
	require.NoError(p.t, err)
}

func (p *peer) recv() (*rtp.Packet, netip.AddrPort) {
	p.t.Helper()
	buf := make([]byte, 2048)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, src, err := p.conn.ReadFromUDPAddrPort(buf)
	require.NoError(p.t, err)
	var pkt rtp.Packet
	require.NoError(p.t, pkt.Unmarshal(buf[:n]))
	return &pkt, src
}

func (p *peer) expectNothing() {
	p.t.Helper()
	buf := make([]byte, 2048)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, _, err := p.conn.ReadFromUDPAddrPort(buf)
	var ne net.Error
	require.True(p.t, errors.As(err, &ne) && ne.Timeout(), "expected no packet, got err=%v", err)
}

func packet(seq uint16, payload string) *rtp.Packet {
	return &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xCA110000},
		Payload: []byte(payload),
	}
}

func freeEvenRange(t testing.TB, pairs int) (int, int) {
	t.Helper()
	// Probe for a run of free ports; the OS assigns ephemeral ports high, so
	// pick from a randomised mid range and let allocate skip busy ports.
	base := 30000 + 2*(int(time.Now().UnixNano()/1000)%5000)
	return base, base + 2*(pairs-1)
}

func newTestAnchor(t testing.TB, pairs int, clock relay.Clock) *relay.Anchor {
	t.Helper()
	min, max := freeEvenRange(t, pairs)
	a, err := relay.New(relay.Config{Addr: loopback, PortMin: min, PortMax: max, Clock: clock, InactivityTimeout: 5 * time.Second})
	require.NoError(t, err)
	return a
}

func TestConfigValidation(t *testing.T) {
	tests := map[string]struct {
		cfg   relay.Config
		field string
	}{
		"odd min":       {relay.Config{PortMin: 20001, PortMax: 20010}, "PortMin"},
		"negative min":  {relay.Config{PortMin: -2, PortMax: 20010}, "PortMin"},
		"odd max":       {relay.Config{PortMin: 20000, PortMax: 20011}, "PortMax"},
		"max below min": {relay.Config{PortMin: 20010, PortMax: 20000}, "PortMax"},
		"max too high":  {relay.Config{PortMin: 20000, PortMax: 65536}, "PortMax"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := relay.New(tc.cfg)
			require.ErrorIs(t, err, relay.ErrConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
	_, err := relay.New(relay.Config{})
	require.NoError(t, err, "the zero relay.Config is valid")
}

func TestRelayBothWaysWithLatching(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()

	caller, callee := newPeer(t), newPeer(t)
	// The callee's SDP address is known; the caller's is a NAT-private
	// address it never sends from: latching must learn the real one.
	s.SetMode(relay.Caller, relay.NAT)
	s.SetRemote(relay.Callee, callee.addr())
	s.SetRemote(relay.Caller, netip.MustParseAddrPort("10.255.255.1:4000"))

	caller.send(s.Local(relay.Caller), packet(1, "hello"))
	got, src := callee.recv()
	assert.Equal(t, "hello", string(got.Payload))
	assert.Equal(t, s.Local(relay.Callee), src, "media must come from the socket facing the callee")

	// Same SSRC in the other direction: legs are kept apart by socket.
	callee.send(s.Local(relay.Callee), packet(7, "world"))
	got, src = caller.recv()
	assert.Equal(t, "world", string(got.Payload))
	assert.Equal(t, s.Local(relay.Caller), src)

	remote, latched := s.Remote(relay.Caller)
	assert.True(t, latched)
	assert.Equal(t, caller.addr(), remote)

	// A third party spraying packets at the caller-facing port is rejected.
	intruder := newPeer(t)
	intruder.send(s.Local(relay.Caller), packet(2, "evil"))
	callee.expectNothing()

	st := s.Stats()
	assert.EqualValues(t, 1, st.Caller.Received)
	assert.EqualValues(t, 1, st.Caller.Forwarded)
	assert.EqualValues(t, 1, st.Caller.Rejected)
	assert.EqualValues(t, 1, st.Callee.Forwarded)
	assert.Equal(t, caller.addr(), st.Caller.Latched)
}

func TestRTCPRelayed(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee := newPeer(t), newPeer(t)
	// The callee's RTCP port is its RTP port + 1: give it a socket there by
	// declaring the RTCP peer's port minus one as the RTP address. The
	// caller names its RTCP socket with a=rtcp.
	s.SetRemote(relay.Callee, netip.AddrPortFrom(loopback, callee.addr().Port()-1))
	s.SetRemotes(relay.Caller, netip.AddrPortFrom(loopback, 9), caller.addr())
	rtcpLocal := netip.AddrPortFrom(loopback, s.Local(relay.Caller).Port()+1)
	_, err = caller.conn.WriteToUDPAddrPort([]byte{0x80, 200, 0, 1, 0, 0, 0, 1}, rtcpLocal)
	require.NoError(t, err)
	buf := make([]byte, 64)
	require.NoError(t, callee.conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, src, err := callee.conn.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x80, 200, 0, 1, 0, 0, 0, 1}, buf[:n])
	assert.Equal(t, s.Local(relay.Callee).Port()+1, src.Port())
	// The relay counts a packet once its write returned, which may be
	// after the callee read it.
	assert.Eventually(t, func() bool { return s.Stats().Caller.RTCPForwarded == 1 }, time.Second, time.Millisecond)
}

type recordingTap struct {
	mu       sync.Mutex
	payloads []string
	arrivals []time.Time
}

func (r *recordingTap) WriteRTP(p *rtp.Packet, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.payloads = append(r.payloads, string(p.Payload))
	r.arrivals = append(r.arrivals, at)
	return nil
}

type dropAll struct{}

func (dropAll) Relay(*rtp.Packet) bool { return false }

type rewriteSSRC uint32

func (r rewriteSSRC) Relay(p *rtp.Packet) bool {
	p.SSRC = uint32(r)
	p.SequenceNumber += 1000
	return true
}

func TestHooks(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_700_000_000, 0))
	a := newTestAnchor(t, 4, clock)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())

	tap := &recordingTap{}
	s.SetTap(relay.Caller, tap)
	s.SetFilter(relay.Callee, dropAll{})
	caller.send(s.Local(relay.Caller), packet(1, "during-guidance"))
	callee.expectNothing()

	// Guidance injects toward the callee through the writer meanwhile.
	require.NoError(t, s.Writer(relay.Callee).WriteRTP(packet(50, "prompt")))
	got, _ := callee.recv()
	assert.Equal(t, "prompt", string(got.Payload))

	s.SetFilter(relay.Callee, rewriteSSRC(0x1234))
	caller.send(s.Local(relay.Caller), packet(2, "after"))
	got, _ = callee.recv()
	assert.Equal(t, "after", string(got.Payload))
	assert.EqualValues(t, 0x1234, got.SSRC)
	assert.EqualValues(t, 1002, got.SequenceNumber)

	s.SetFilter(relay.Callee, nil)
	s.SetTap(relay.Caller, nil)
	caller.send(s.Local(relay.Caller), packet(3, "plain"))
	got, _ = callee.recv()
	assert.EqualValues(t, 0xCA110000, got.SSRC)

	tap.mu.Lock()
	assert.Equal(t, []string{"during-guidance", "after"}, tap.payloads, "the tap sees packets before the filter")
	assert.Equal(t, clock.Now(), tap.arrivals[0])
	tap.mu.Unlock()
	st := s.Stats()
	assert.EqualValues(t, 1, st.Caller.Filtered)
	assert.EqualValues(t, 1, st.Callee.Injected)
	assert.EqualValues(t, 3, st.Caller.Received)
}

func TestWriterErrors(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	require.ErrorIs(t, s.Writer(relay.Caller).WriteRTP(packet(1, "x")), relay.ErrNoTarget)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	require.ErrorIs(t, s.Writer(relay.Caller).WriteRTP(packet(1, "x")), relay.ErrClosed)
}

func TestInactivity(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_700_000_000, 0))
	a := newTestAnchor(t, 4, clock) // 5 s timeout
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())

	clock.Advance(3 * time.Second)
	caller.send(s.Local(relay.Caller), packet(1, "x"))
	callee.recv() // the packet was processed: lastRTP is now t0+3s
	clock.Advance(3 * time.Second)
	assertOpen(t, s.Inactive(), "6 s after start but only 3 s after the last packet")

	s.SuspendInactivity(true)
	clock.Advance(30 * time.Second)
	assertOpen(t, s.Inactive(), "suspended for hold")
	s.SuspendInactivity(false)
	clock.Advance(4 * time.Second)
	assertOpen(t, s.Inactive(), "resumed 4 s ago")
	clock.Advance(2 * time.Second)
	select {
	case <-s.Inactive():
	default:
		t.Fatal("inactivity not signalled after 6 s without RTP")
	}
}

func assertOpen(t *testing.T, ch <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("inactive too early: %s", why)
	default:
	}
}

func TestPortsExhaustedAndReleased(t *testing.T) {
	a := newTestAnchor(t, 4, nil) // four pairs: two sessions
	var sessions []*relay.Session
	seen := map[uint16]bool{}
	for range 2 {
		s, err := a.Open()
		require.NoError(t, err)
		sessions = append(sessions, s)
		for _, p := range []relay.Party{relay.Caller, relay.Callee} {
			port := s.Local(p).Port()
			assert.Zero(t, port%2, "RTP port must be even")
			assert.False(t, seen[port], "port handed out twice")
			seen[port] = true
		}
	}
	assert.Equal(t, 4, a.PairsInUse())
	_, err := a.Open()
	require.ErrorIs(t, err, relay.ErrPortsExhausted)
	assert.Equal(t, 4, a.PairsInUse(), "a failed Open must not leak a pair")
	require.NoError(t, sessions[0].Close())
	assert.Equal(t, 2, a.PairsInUse())
	s, err := a.Open()
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, sessions[1].Close())
	assert.Zero(t, a.PairsInUse())
}

func TestPortBusyElsewhereIsSkipped(t *testing.T) {
	min, _ := freeEvenRange(t, 2)
	busy, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(min+1))))
	require.NoError(t, err)
	defer busy.Close()
	a, err := relay.New(relay.Config{Addr: loopback, PortMin: min, PortMax: min + 4})
	require.NoError(t, err)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	assert.NotEqual(t, uint16(min), s.Local(relay.Caller).Port())
	assert.NotEqual(t, uint16(min), s.Local(relay.Callee).Port())
}

func TestNoGoroutineLeak(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	before := runtime.NumGoroutine()
	for range 50 {
		s, err := a.Open()
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
	assert.Zero(t, a.PairsInUse())
}

type nopTap struct{}

func (nopTap) WriteRTP(*rtp.Packet, time.Time) error { return nil }

type passFilter struct{}

func (passFilter) Relay(p *rtp.Packet) bool { p.SequenceNumber++; return true }

// BenchmarkRelay measures one packet caller→relay→callee with a tap and a
// rewriting filter installed (the recording steady state); record-filter
// gates the tap with a RecordFilter, the wiring of a recorded call after
// its guidance. Allocations are counted process-wide, so they include the
// relay goroutine.
func BenchmarkRelay(b *testing.B) {
	for name, filter := range map[string]relay.Filter{"filter": passFilter{}, "record-filter": openGate{}} {
		b.Run(name, func(b *testing.B) { benchmarkRelay(b, filter) })
	}
}

func benchmarkRelay(b *testing.B, filter relay.Filter) {
	a := newTestAnchor(b, 4, nil)
	s, err := a.Open()
	require.NoError(b, err)
	defer s.Close()
	caller, callee := newPeer(b), newPeer(b)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())
	s.SetTap(relay.Caller, nopTap{})
	s.SetFilter(relay.Callee, filter)
	raw, err := packet(1, string(make([]byte, 160))).Marshal()
	require.NoError(b, err)
	dst := s.Local(relay.Caller)
	buf := make([]byte, 2048)
	require.NoError(b, callee.conn.SetReadDeadline(time.Time{}))
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for range b.N {
		if _, err := caller.conn.WriteToUDPAddrPort(raw, dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := callee.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNewSDPAddressRearmsLatching: in NAT mode a re-INVITE moving a
// party's media to a new address replaces the latched one, and the next
// packet latches again.
func TestNewSDPAddressRearmsLatching(t *testing.T) {
	a := newTestAnchor(t, 4, nil)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee, moved := newPeer(t), newPeer(t), newPeer(t)
	s.SetMode(relay.Caller, relay.NAT)
	s.SetRemote(relay.Caller, netip.AddrPortFrom(loopback, 9)) // behind NAT
	s.SetRemote(relay.Callee, callee.addr())
	caller.send(s.Local(relay.Caller), packet(1, "first"))
	callee.recv()
	remote, latched := s.Remote(relay.Caller)
	require.True(t, latched)
	require.Equal(t, caller.addr(), remote)

	s.SetRemote(relay.Caller, netip.AddrPortFrom(loopback, 9)) // the same SDP again (hold): the latch stays
	_, latched = s.Remote(relay.Caller)
	assert.True(t, latched)

	s.SetRemote(relay.Caller, netip.AddrPortFrom(loopback, 11)) // a new address, behind NAT again
	remote, latched = s.Remote(relay.Caller)
	assert.False(t, latched)
	assert.Equal(t, netip.AddrPortFrom(loopback, 11), remote)
	moved.send(s.Local(relay.Caller), packet(3, "from-moved"))
	got, _ := callee.recv()
	assert.Equal(t, "from-moved", string(got.Payload))
	callee.send(s.Local(relay.Callee), packet(2, "to-moved"))
	got, _ = moved.recv()
	assert.Equal(t, "to-moved", string(got.Payload))
	caller.send(s.Local(relay.Caller), packet(4, "stale"))
	callee.expectNothing()
}

// gate is a RecordFilter: closed it drops nothing and records nothing; open
// it records what it relays. It rewrites the header and the payload of what
// it relays, as the guidance stream does, and drops packets whose payload is
// "drop".
type gate struct {
	mu   sync.Mutex
	open bool
}

func (g *gate) Relay(p *rtp.Packet) bool { r, _ := g.RelayRecord(p); return r }

func (g *gate) RelayRecord(p *rtp.Packet) (relay, record bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if string(p.Payload) == "drop" {
		return false, false
	}
	p.SSRC, p.SequenceNumber = 0x1234, p.SequenceNumber+1000
	copy(p.Payload, "X") // a beep mixed in place
	return true, g.open
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	g.open = open
	g.mu.Unlock()
}

// TestRecordFilterGatesTap: with a RecordFilter toward the callee, the
// caller's tap receives exactly the packets it relays and marks for
// recording, as the caller sent them, while the callee gets the rewritten
// ones.
func TestRecordFilterGatesTap(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_700_000_000, 0))
	a := newTestAnchor(t, 4, clock)
	s, err := a.Open()
	require.NoError(t, err)
	defer s.Close()
	caller, callee := newPeer(t), newPeer(t)
	s.SetRemote(relay.Caller, caller.addr())
	s.SetRemote(relay.Callee, callee.addr())
	tap := &recordingTap{}
	g := &gate{}
	s.SetTap(relay.Caller, tap)
	s.SetFilter(relay.Callee, g)

	caller.send(s.Local(relay.Caller), packet(1, "before"))
	got, _ := callee.recv()
	assert.Equal(t, "Xefore", string(got.Payload), "relayed while the gate is closed")
	g.set(true)
	caller.send(s.Local(relay.Caller), packet(2, "drop"))
	callee.expectNothing()
	caller.send(s.Local(relay.Caller), packet(3, "after"))
	got, _ = callee.recv()
	assert.Equal(t, "Xfter", string(got.Payload))
	assert.EqualValues(t, 0x1234, got.SSRC)
	assert.EqualValues(t, 1003, got.SequenceNumber)

	tap.mu.Lock()
	assert.Equal(t, []string{"after"}, tap.payloads, "the tap gets exactly the relayed, recordable packets, unmodified")
	assert.Equal(t, []time.Time{clock.Now()}, tap.arrivals)
	tap.mu.Unlock()

	// A tap seeing the original header: capture it.
	hdr := &headerTap{}
	s.SetTap(relay.Caller, hdr)
	caller.send(s.Local(relay.Caller), packet(4, "seq4"))
	callee.recv()
	hdr.mu.Lock()
	assert.Equal(t, []uint16{4}, hdr.seqs)
	assert.Equal(t, []uint32{0xCA110000}, hdr.ssrcs)
	hdr.mu.Unlock()
	assert.EqualValues(t, 1, s.Stats().Caller.Filtered)
	// Counted once the write returned, perhaps after the callee read it.
	assert.Eventually(t, func() bool { return s.Stats().Caller.Forwarded == 3 }, time.Second, time.Millisecond)
}

type headerTap struct {
	mu    sync.Mutex
	seqs  []uint16
	ssrcs []uint32
}

func (h *headerTap) WriteRTP(p *rtp.Packet, _ time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seqs = append(h.seqs, p.SequenceNumber)
	h.ssrcs = append(h.ssrcs, p.SSRC)
	return nil
}

type openGate struct{}

func (openGate) Relay(p *rtp.Packet) bool { p.SequenceNumber++; return true }
func (openGate) RelayRecord(p *rtp.Packet) (bool, bool) {
	p.SequenceNumber++
	return true, true
}
