package sipadapter

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

// rtpSocket is a raw RTP endpoint of a hand-driven party.
type rtpSocket struct {
	t    testing.TB
	conn *net.UDPConn
	seq  uint16
}

func newRTPSocket(t testing.TB) *rtpSocket {
	return &rtpSocket{t: t, conn: loopbackUDP(t)}
}

func (r *rtpSocket) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *rtpSocket) sdp(version int) string {
	return fmt.Sprintf("v=0\r\no=raw 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
		version, r.port())
}

// sendTone sends n packets of hz to dst, 20 ms apart.
func (r *rtpSocket) sendTone(dst netip.AddrPort, hz float64, n int) {
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 0xCA110000}, Payload: make([]byte, 160)}
	for range n {
		for i := range pkt.Payload {
			pkt.Payload[i] = g711.EncodeUlawFrame(int16(6000 * math.Sin(2*math.Pi*hz*float64(int(r.seq)*160+i)/8000)))
		}
		pkt.SequenceNumber, pkt.Timestamp = r.seq, uint32(r.seq)*160
		r.seq++
		b, err := pkt.Marshal()
		require.NoError(r.t, err)
		_, err = r.conn.WriteToUDPAddrPort(b, dst)
		require.NoError(r.t, err)
		time.Sleep(20 * time.Millisecond)
	}
}

// received counts the RTP packets arriving within d.
func (r *rtpSocket) received(d time.Duration) int {
	buf := make([]byte, 2048)
	deadline := time.Now().Add(d)
	n := 0
	for {
		require.NoError(r.t, r.conn.SetReadDeadline(deadline))
		if _, _, err := r.conn.ReadFromUDPAddrPort(buf); err != nil {
			return n
		}
		n++
	}
}

// collect returns the payloads of the RTP packets arriving within d.
func (r *rtpSocket) collect(d time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 2048)
	deadline := time.Now().Add(d)
	for {
		require.NoError(r.t, r.conn.SetReadDeadline(deadline))
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return out
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) == nil && pkt.PayloadType == 0 {
			out = append(out, append([]byte(nil), pkt.Payload...))
		}
	}
}

// sdpPort returns the audio port of the SDP in a SIP message.
func sdpPort(t testing.TB, msg string) int {
	t.Helper()
	_, body, ok := strings.Cut(msg, "\r\n\r\n")
	require.True(t, ok)
	info, err := parseSDP([]byte(body))
	require.NoError(t, err, "body %q", body)
	return int(info.addr.Port())
}

// TestReinviteWithoutSDPTakesTheAnswerFromTheAck: a party sends a
// re-INVITE without SDP; the B2BUA's 200 carries its offer (the SDP it last
// sent that party, the same version), and the party's answer in the ACK
// moves its media to a new socket, which the relay then follows both ways.
func TestReinviteWithoutSDPTakesTheAnswerFromTheAck(t *testing.T) {
	e := newEnv(t, nil)
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	c := newRawClient(t)
	in := e.b.Addr(Inside)
	oldRTP, newRTP := newRTPSocket(t), newRTPSocket(t)
	msg := func(method string, cseq int, toTag, body string) string {
		return c.inDialog(method, "0077270312345678", in, "reinvite-no-sdp", cseq, toTag, body)
	}
	res := c.send(in, msg("INVITE", 1, "", oldRTP.sdp(1)), 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	_, firstSDP, _ := strings.Cut(res, "\r\n\r\n")
	relayPort := sdpPort(t, res)
	toTag := toTagOf(t, res)
	_, err := c.conn.WriteToUDPAddrPort([]byte(msg("ACK", 1, toTag, "")), in)
	require.NoError(t, err)
	relay := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(relayPort))
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	oldRTP.sendTone(relay, callerHz, 5) // latches the old socket
	require.Positive(t, oldRTP.received(100*time.Millisecond), "the callee's audio reaches the old socket")

	res = c.send(in, msg("INVITE", 2, toTag, ""), 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	_, offer, _ := strings.Cut(res, "\r\n\r\n")
	assert.Equal(t, firstSDP, offer, "the offer in the 200 is the SDP last sent, o= version unchanged")
	_, err = c.conn.WriteToUDPAddrPort([]byte(msg("ACK", 2, toTag, newRTP.sdp(2))), in)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)

	oldRTP.received(50 * time.Millisecond) // in flight before the ACK
	newRTP.sendTone(relay, callerHz, 25)
	assert.Greater(t, newRTP.received(200*time.Millisecond), 5, "the callee's audio follows to the new socket")
	assert.Zero(t, oldRTP.received(200*time.Millisecond), "nothing goes to the old socket any more")
	heard := 0
	for _, k := range callee.heardTones(callerHz) {
		if k == 0 {
			heard++
		}
	}
	assert.GreaterOrEqual(t, heard, 25, "the callee hears the caller from its new socket")

	res = c.send(in, msg("BYE", 3, toTag, ""), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	assert.Equal(t, CauseBye, e.lastCDR(t, 1).Cause)
}

// TestByeReasonPassedOn: the Reason headers of a party's BYE (its
// disconnect cause, RFC 3326) reach the other party with the B2BUA's BYE.
func TestByeReasonPassedOn(t *testing.T) {
	const reason = `Q.850;cause=16;text="Normal call clearing"`
	for _, who := range []Party{PartyCaller, PartyCallee} {
		t.Run(string(who), func(t *testing.T) {
			e := newEnv(t, nil)
			callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
			caller := newPeer(t, 0, callerHz)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
			require.NoError(t, err)
			e.events.wait(t, EventAnswered, 1, 5*time.Second)
			other := callee
			if who == PartyCaller {
				require.NoError(t, d.Hangup(ctx, sip.NewHeader("Reason", reason)))
			} else {
				other = caller
				require.NoError(t, callee.answeredCall(t).Hangup(ctx, sip.NewHeader("Reason", reason)))
			}
			other.waitBye(t, 5*time.Second)
			other.mu.Lock()
			got := other.byes[0].Reason
			other.mu.Unlock()
			require.NotEmpty(t, got, "the BYE to the other party has the Reason")
			assert.Equal(t, reason, got)
			cdr := e.lastCDR(t, 1)
			assert.Equal(t, who, cdr.HungUp)
		})
	}
}

// readSIP returns the next SIP message on c whose first line starts with
// prefix, or "" after timeout.
func readSIP(t testing.TB, c *rawClient, prefix string, timeout time.Duration) string {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(timeout)
	for {
		require.NoError(t, c.conn.SetReadDeadline(deadline))
		n, _, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return ""
		}
		if msg := string(buf[:n]); strings.HasPrefix(msg, prefix) {
			return msg
		}
	}
}

// TestReinvite2xxRetransmissionReAcked: when the ACK of a re-INVITE the
// B2BUA forwarded is lost, the party retransmits its 200 and the B2BUA
// must send the ACK again each time (RFC 3261 §13.2.2.4), or the party
// ends the call after 32 s.
func TestReinvite2xxRetransmissionReAcked(t *testing.T) {
	e := newEnv(t, nil)
	callee := newPeer(t, int(e.outsideHop.Port()), 0)
	c := newRawClient(t)
	in := e.b.Addr(Inside)
	media := newRTPSocket(t)
	res := c.send(in, c.request("INVITE", "0077270312345678", in, "reack", "", media.sdp(1)), 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	toTag := toTagOf(t, res)
	ack := c.request("ACK", "0077270312345678", in, "reack", "", "")
	to := fmt.Sprintf("To: <sip:0077270312345678@%s>", in)
	_, err := c.conn.WriteToUDPAddrPort([]byte(strings.Replace(ack, to, to+toTag, 1)), in)
	require.NoError(t, err)
	e.events.wait(t, EventAnswered, 1, 5*time.Second)

	// The callee puts the call on hold; the B2BUA forwards the re-INVITE.
	a := callee.answeredCall(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	holdDone := make(chan error, 1)
	go func() { holdDone <- a.Hold(ctx, true) }() // a=sendonly, ACKed by the phone on its 200
	reinvite := readSIP(t, c, "INVITE ", 5*time.Second)
	require.NotEmpty(t, reinvite, "the re-INVITE reaches the caller")
	var b strings.Builder
	b.WriteString("SIP/2.0 200 OK\r\n")
	var cseq string
	for _, line := range strings.Split(reinvite, "\r\n") {
		for _, h := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if strings.HasPrefix(line, h) {
				b.WriteString(line + "\r\n")
			}
		}
		if strings.HasPrefix(line, "CSeq:") {
			cseq = strings.Fields(line)[1]
		}
	}
	body := strings.Replace(media.sdp(2), "m=audio", "a=recvonly\r\nm=audio", 1)
	fmt.Fprintf(&b, "Contact: <sip:raw@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", c.port(), len(body), body)
	ok := b.String()
	for i := range 3 {
		_, err := c.conn.WriteToUDPAddrPort([]byte(ok), in)
		require.NoError(t, err)
		got := readSIP(t, c, "ACK ", 2*time.Second)
		require.NotEmpty(t, got, "an ACK for 200 #%d", i+1)
		assert.Contains(t, got, "CSeq: "+cseq+" ACK")
	}
	require.NoError(t, <-holdDone, "the callee's hold is answered with a 2xx")
	bye := strings.Replace(c.request("BYE", "0077270312345678", in, "reack", "", ""), "CSeq: 1 BYE", "CSeq: 2 BYE", 1)
	res = c.send(in, strings.Replace(bye, to, to+toTag, 1), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	assert.Equal(t, CauseBye, e.lastCDR(t, 1).Cause)
}
