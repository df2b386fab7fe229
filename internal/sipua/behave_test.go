package sipua

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arrivals records what an OnRTP hook sees.
type arrivals struct {
	mu  sync.Mutex
	pts []uint8
	at  []time.Time
}

func (a *arrivals) hook(p *rtp.Packet, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pts = append(a.pts, p.PayloadType)
	a.at = append(a.at, at)
}

// before counts the packets of payload type pt that arrived before t.
func (a *arrivals) before(pt uint8, t time.Time) (n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, at := range a.at {
		if a.pts[i] == pt && at.Before(t) {
			n++
		}
	}
	return n
}

func (a *arrivals) count(pt uint8) int { return a.before(pt, time.Now().Add(time.Hour)) }

// TestMuteAndSendRTP: a muted call sends nothing until unmuted; packets a
// test builds leave from the call's socket; OnRTP sees every packet.
func TestMuteAndSendRTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var heard arrivals
	callee := newUA(t, Config{Codecs: []Codec{PCMU}, OnRTP: heard.hook})
	out, in := connect(ctx, t, newUA(t, Config{Mute: true}), callee)
	assert.Equal(t, in.LocalRTP(), out.RemoteRTP())
	assert.Equal(t, out.LocalRTP(), in.RemoteRTP())

	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, in.Stats().Received, "a muted call sent audio")
	assert.Zero(t, out.Stats().Sent)

	ev := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: TelephoneEventPT, SSRC: 7}, Payload: []byte{1, 0x8a, 0, 160}}
	require.NoError(t, out.SendRTP(&ev))
	out.Mute(false)
	require.Eventually(t, func() bool { return in.Stats().Received >= 5 }, 5*time.Second, 10*time.Millisecond)
	st := in.Stats()
	assert.EqualValues(t, 1, st.Events)
	assert.EqualValues(t, 1, st.Other)
	assert.Equal(t, 1, heard.count(TelephoneEventPT))
	assert.GreaterOrEqual(t, heard.count(PCMU.PayloadType()), int(st.Received), "OnRTP saw every audio packet")

	out.Mute(true)
	time.Sleep(100 * time.Millisecond) // in flight
	n := in.Stats().Received
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, n, in.Stats().Received, "muted again, still sending")
}

// TestEarlyMedia: a callee with EarlyMedia rings with 183 and SDP and the
// caller hears it before the answer.
func TestEarlyMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var heard arrivals
	callee := newUA(t, Config{RingTime: 500 * time.Millisecond, EarlyMedia: true, Source: Tone(440, 0.3)})
	caller := newUA(t, Config{Codecs: []Codec{PCMU}, OnRTP: heard.hook})
	out, err := caller.Dial(ctx, callee.URI("1"))
	require.NoError(t, err)
	require.False(t, out.Ringing().IsZero(), "the 183 counts as ringing")
	early := heard.before(PCMU.PayloadType(), out.Answered())
	assert.Greater(t, early, 15, "early media during the 500 ms ring time")
	assert.GreaterOrEqual(t, out.Answered().Sub(out.Ringing()), 400*time.Millisecond)
}

// TestOnInviteAndSDPPort: OnInvite may answer an INVITE itself (a
// challenge); SDPPort is the port the SDP names.
func TestOnInviteAndSDPPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		seen []string
	)
	callee := newUA(t, Config{SDPPort: 9, OnInvite: func(req *sip.Request) *sip.Response {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, req.CallID().Value())
		if len(seen) == 1 {
			res := sip.NewResponseFromRequest(req, sip.StatusProxyAuthRequired, "Proxy Authentication Required", nil)
			res.AppendHeader(sip.NewHeader("Proxy-Authenticate", `Digest realm="r", nonce="n"`))
			return res
		}
		return nil
	}})
	caller := newUA(t, Config{})
	_, err := caller.Dial(ctx, callee.URI("1"))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, sip.StatusProxyAuthRequired, se.Code)
	assert.NotNil(t, se.Response.GetHeader("Proxy-Authenticate"))

	out, err := caller.Dial(ctx, callee.URI("1"))
	require.NoError(t, err)
	assert.EqualValues(t, 9, out.RemoteRTP().Port(), "the callee's SDP names its NAT port")
	in, err := callee.Accept(ctx)
	require.NoError(t, err)
	assert.NotEqualValues(t, 9, in.LocalRTP().Port())
	mu.Lock()
	assert.Len(t, seen, 2)
	mu.Unlock()
}

// TestHangupReason: the Reason of a BYE reaches the peer's End.
func TestHangupReason(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callee, caller := newUA(t, Config{}), newUA(t, Config{})
	out, in := connect(ctx, t, caller, callee)
	assert.EqualValues(t, callee.Addr().Port(), out.RemoteTarget().Port)
	assert.EqualValues(t, caller.Addr().Port(), in.RemoteTarget().Port)

	const reason = `Q.850;cause=16;text="Normal call clearing"`
	require.NoError(t, in.Hangup(ctx, sip.NewHeader("Reason", reason)))
	select {
	case <-out.Done():
	case <-ctx.Done():
		t.Fatal("the BYE did not end the call")
	}
	assert.Equal(t, End{By: Remote, Time: out.End().Time, Reason: reason}, out.End())
	assert.Equal(t, Local, in.End().By)
	assert.Empty(t, in.End().Reason)
}
