package sipadapter

import (
	"context"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

const strangerHz = 1700.0 // a hijacker's tone: must never be heard or recorded

// stranger is a socket spraying RTP and RTCP at a call's ports and keeping
// count of anything sent back to it.
type stranger struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  int
	done chan struct{}
}

func newStranger(t *testing.T, addr string) *stranger {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", addr, err)
	}
	s := &stranger{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			s.mu.Lock()
			s.got++
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); <-s.done })
	return s
}

func (s *stranger) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// spray sends n RTP packets of the stranger's tone to rtpAddr and n RTCP
// receiver reports to the next port.
func (s *stranger) spray(t *testing.T, rtpAddr netip.AddrPort, n int) {
	t.Helper()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 0xBAD}, Payload: make([]byte, 160)}
	for i := range pkt.Payload {
		pkt.Payload[i] = g711.EncodeUlawFrame(int16(6000 * math.Sin(2*math.Pi*strangerHz*float64(i)/8000)))
	}
	rtcpAddr := netip.AddrPortFrom(rtpAddr.Addr(), rtpAddr.Port()+1)
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0x0B, 0xAD} // empty RR
	for i := range n {
		pkt.SequenceNumber, pkt.Timestamp = uint16(i), uint32(i*160)
		b, err := pkt.Marshal()
		require.NoError(t, err)
		_, err = s.conn.WriteToUDPAddrPort(b, rtpAddr)
		require.NoError(t, err)
		_, err = s.conn.WriteToUDPAddrPort(rr, rtcpAddr)
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond)
	}
}

// recordedShares returns the share of strangerHz and of want in each
// channel of the delivered recording.
func recordedShares(t *testing.T, e *env, want [2]float64) (stranger, real [2]float64) {
	t.Helper()
	wavs, _ := e.delivered(t)
	require.Len(t, wavs, 1)
	ch := readWAV(t, wavs[0])
	require.Len(t, ch, 2)
	for i := range 2 {
		stranger[i], _ = toneShare(ch[i], strangerHz)
		real[i], _ = toneShare(ch[i], want[i])
	}
	return stranger, real
}

// TestStrangersCannotHijackMedia: after the ACK and before the callee
// speaks, a stranger on the callee's host with another port and one on
// another loopback address send RTP and RTCP to the callee-facing ports.
// Neither receives a single packet, the real callee gets the caller's
// audio, the recording holds only the real parties, and the rejects are
// counted.
func TestStrangersCannotHijackMedia(t *testing.T) {
	e := newEnv(t, nil)
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz, muted) // silent until told
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	calleeCall := callee.answeredCall(t)
	calleeFacing := calleeCall.RemoteRTP()
	require.True(t, calleeFacing.IsValid())

	strangers := []*stranger{newStranger(t, "127.0.0.1:0"), newStranger(t, "127.0.0.2:0")}
	for _, s := range strangers {
		s.spray(t, calleeFacing, 5)
	}
	calleeCall.Mute(false)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)

	for i, s := range strangers {
		assert.Zero(t, s.received(), "stranger %d received media", i)
	}
	assert.Greater(t, heardAfterGuidance(callee, callerHz), 20, "the callee hears the caller")
	assert.Greater(t, heardAfterGuidance(caller, calleeHz), 20, "the caller hears the callee")
	for _, k := range caller.heardTones(strangerHz) {
		require.Equal(t, -1, k, "the caller heard a stranger")
	}
	str, real := recordedShares(t, e, [2]float64{callerHz, calleeHz})
	t.Logf("recorded share of the stranger's tone %.3f/%.3f, of the parties' %.3f/%.3f", str[0], str[1], real[0], real[1])
	assert.Less(t, str[1], 0.05, "the callee channel holds the stranger")
	assert.Greater(t, real[1], 0.6, "the callee channel holds the callee")
	assert.Greater(t, real[0], 0.6, "the caller channel holds the caller")

	cdr := e.lastCDR(t, 1)
	assert.EqualValues(t, 20, cdr.CalleeRejected, "5 RTP and 5 RTCP from each stranger")
	assert.Zero(t, cdr.CallerRejected)
	ended := e.events.wait(t, EventEnded, 1, time.Second)[0]
	assert.EqualValues(t, 20, ended.CalleeRejected)
}

// TestNATSideLatchesAndRejectsLateStranger: on a side configured with NAT,
// a callee whose SDP names another port than it sends from is latched and
// recorded, and a stranger arriving after the learning window is refused.
func TestNATSideLatchesAndRejectsLateStranger(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Outside.NAT = true })
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz, behindNAT(9)) // a private port it never sends from
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	calleeFacing := callee.answeredCall(t).RemoteRTP()
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(2500 * time.Millisecond) // past the 2 s learning window after the answer
	s := newStranger(t, "127.0.0.2:0")
	s.spray(t, calleeFacing, 5)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)

	assert.Zero(t, s.received())
	assert.Greater(t, heardAfterGuidance(callee, callerHz), 20, "the latched callee hears the caller")
	assert.Greater(t, heardAfterGuidance(caller, calleeHz), 20, "the caller hears the latched callee")
	str, real := recordedShares(t, e, [2]float64{callerHz, calleeHz})
	assert.Less(t, str[1], 0.05)
	assert.Greater(t, real[1], 0.6, "the latched callee is recorded")
	assert.EqualValues(t, 10, e.lastCDR(t, 1).CalleeRejected)
}
