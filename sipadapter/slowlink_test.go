package sipadapter

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delayLink stands between the B2BUA and a SIP peer: it relays what the
// B2BUA sends to peer at once, and what peer sends back after delay, as a
// link (or a busy B2BUA) whose round trip exceeds SIP's T1 would.
type delayLink struct {
	conn    *net.UDPConn
	wg      sync.WaitGroup // the reader and every held datagram
	invites atomic.Int32   // INVITEs relayed toward peer
}

func startDelayLink(t *testing.T, listen, peer netip.AddrPort, delay time.Duration) *delayLink {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(listen))
	require.NoError(t, err)
	l := &delayLink{conn: conn}
	l.wg.Go(func() {
		var from netip.AddrPort // the B2BUA
		buf := make([]byte, 65536)
		for {
			n, src, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if src != peer {
				from = src
				if strings.HasPrefix(string(buf[:n]), "INVITE ") {
					l.invites.Add(1)
				}
				_, _ = conn.WriteToUDPAddrPort(buf[:n], peer)
				continue
			}
			msg, to := append([]byte(nil), buf[:n]...), from
			l.wg.Add(1)
			time.AfterFunc(delay, func() {
				defer l.wg.Done()
				_, _ = conn.WriteToUDPAddrPort(msg, to)
			})
		}
	})
	t.Cleanup(func() {
		_ = conn.Close()
		l.wg.Wait()
	})
	return l
}

// TestCalleeSlowerThanT1 connects a recorded call to a callee whose
// responses take 700 ms to come back, longer than T1 (500 ms): the B2BUA
// retransmits its INVITE before it hears the 180, and the callee its 200
// before it hears the ACK, as RFC 3261 has them do. This is also how a
// B2BUA that falls behind on a busy host looks to its callee. The call
// must connect, the callee get its ACK and the recording be delivered.
//
// The SIPp callee (uas_answer.xml) absorbs a retransmitted INVITE that
// arrives after its 200 by sending the 200 again, as an RFC 3261 UAS
// does: SIPp 3.6.1 recognises a retransmission only of a request it has
// answered with one message, not with a 180 and a 200, and otherwise
// aborts the call ("Dead call … aborted" under load, the flake of
// TestSIPpLoad).
func TestCalleeSlowerThanT1(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	calleeAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(testenv.FreePort(t)))
	link := startDelayLink(t, e.outsideHop, calleeAddr, 700*time.Millisecond)
	uas := startSIPp(t, bin, dir, "-sf", "uas_answer.xml", "-p", portArg(int(calleeAddr.Port())),
		"-mp", portArg(freeMediaPort(t)), "-m", "1")
	time.Sleep(200 * time.Millisecond)
	uac := startSIPp(t, bin, dir, e.b.Addr(Inside).String(), "-sf", "uac_call.xml", "-s", "0077270312345678",
		"-key", "caller", lineFixed, "-p", portArg(testenv.FreePort(t)), "-mp", portArg(freeMediaPort(t)), "-m", "1", "-d", "2000")
	uac.requireOK(t, 40*time.Second)
	uas.requireOK(t, 40*time.Second)

	assert.GreaterOrEqual(t, link.invites.Load(), int32(2), "the B2BUA retransmits its INVITE before the 180 comes back")
	e.events.wait(t, EventDelivered, 1, 20*time.Second)
	cdrs := e.cdr.cdrs(t)
	require.Len(t, cdrs, 1)
	assert.Equal(t, CauseBye, cdrs[0].Cause)
	assert.Equal(t, PartyCaller, cdrs[0].HungUp)
	assert.True(t, cdrs[0].Recorded)
	assert.Positive(t, cdrs[0].CalleePackets, "the callee's RTP started, so it got its ACK")
	assert.Eventually(t, func() bool { return callTableLen(e.b) == 0 }, 5*time.Second, 10*time.Millisecond,
		"both legs leave the call table")
}

// callTableLen is the number of legs in b's call table.
func callTableLen(b *B2BUA) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}
