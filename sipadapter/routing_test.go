package sipadapter

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/dialplan"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routingCall places one call from a new peer to side w of e's B2BUA,
// talks for a moment and hangs up; it returns the call's CDR (the n-th).
func routingCall(t *testing.T, e *env, w Side, user string, n int, hdrs ...sip.Header) CDR {
	t.Helper()
	return talk(t, e, w, user, n, 300*time.Millisecond, hdrs...)
}

// recordedCall is routingCall for a call that must be recorded: it talks
// past the guidance so that the recording exists.
func recordedCall(t *testing.T, e *env, w Side, user string, n int, hdrs ...sip.Header) CDR {
	t.Helper()
	return talk(t, e, w, user, n, time.Second, hdrs...)
}

func talk(t *testing.T, e *env, w Side, user string, n int, length time.Duration, hdrs ...sip.Header) CDR {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(w), user, hdrs...)
	require.NoError(t, err)
	time.Sleep(length)
	require.NoError(t, d.Hangup(ctx))
	return e.lastCDR(t, n)
}

func trustOutside(c *Config) {
	c.Outside.Trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// decidedToRecord reports that the dial plan decided to record a CDR's
// call and that the call has its recording: even the calls routingCall
// hangs up during the guidance have one, empty and marked
// ended_during_announcement.
func decidedToRecord(c CDR) bool {
	return c.Verdict == dialplan.VerdictRecord.String() && c.Recorded && c.RecordingID != ""
}

// TestForwardedIncomingCall: a call to a mobile number forwarded from the
// company's number (History-Info or Diversion from a trusted network) is
// recorded, with the diverting number and reason in the CDR and metadata.
func TestForwardedIncomingCall(t *testing.T) {
	e := newEnv(t, trustOutside)
	newPeer(t, int(e.insideHop.Port()), calleeHz)
	hi := sip.NewHeader("History-Info", "<sip:"+companyIn+"@ims.example;user=phone>;index=1, <sip:09055556666@ims.example;cause=302>;index=1.1")
	cdr := recordedCall(t, e, Outside, "09055556666", 1, hi)
	assert.True(t, cdr.Recorded, "a call forwarded from the company's number is recorded")
	assert.Equal(t, companyIn, cdr.DivertedFrom)
	assert.Equal(t, "unconditional", cdr.DiversionReason)
	assert.Equal(t, "09055556666", cdr.Destination)

	div := sip.NewHeader("Diversion", "<sip:"+companyIn+"@ims.example>;reason=user-busy;counter=1")
	cdr = recordedCall(t, e, Outside, "08055556666", 2, div)
	assert.True(t, cdr.Recorded)
	assert.Equal(t, "user-busy", cdr.DiversionReason)

	plain := routingCall(t, e, Outside, "09055556666", 3)
	assert.False(t, plain.Recorded, "the same mobile without forwarding is not recorded")

	e.events.wait(t, EventDelivered, 2, 10*time.Second)
	_, metas := e.delivered(t)
	require.Len(t, metas, 2)
	for _, md := range metas {
		assert.Equal(t, companyIn, md.DivertedFrom)
		assert.NotEmpty(t, md.DiversionReason)
	}
}

// TestForgedOrMalformedForwarding: History-Info or Diversion from a
// source that is not trusted, or malformed, never makes a call recorded,
// and the call is connected all the same.
func TestForgedOrMalformedForwarding(t *testing.T) {
	e := newEnv(t, nil) // Outside trusts no one
	newPeer(t, int(e.insideHop.Port()), calleeHz)
	hi := sip.NewHeader("History-Info", "<sip:"+companyIn+"@ims.example>;index=1, <sip:09055556666@ims.example;cause=302>;index=1.1")
	cdr := routingCall(t, e, Outside, "09055556666", 1, hi)
	assert.False(t, decidedToRecord(cdr), "forged History-Info from an untrusted source")
	assert.Empty(t, cdr.DivertedFrom)

	trusted := newEnv(t, trustOutside)
	newPeer(t, int(trusted.insideHop.Port()), calleeHz)
	for i, v := range []sip.Header{
		sip.NewHeader("History-Info", "<sip:"+companyIn+"@ims.example;index=1, <sip:0905555"),
		sip.NewHeader("History-Info", `"x <sip:`+companyIn+`@h>;index=1`),
		sip.NewHeader("Diversion", "sip:"+companyIn+"@h;reason=unconditional"),
		sip.NewHeader("Diversion", "<>;reason=unconditional"),
		sip.NewHeader("Diversion", "<sip:head-office@h>;reason=unconditional"),
		sip.NewHeader("History-Info", strings.Repeat("<tel:"+companyIn+">,", 40)),
	} {
		cdr := routingCall(t, trusted, Outside, "09055556666", i+1, v)
		assert.False(t, decidedToRecord(cdr), "malformed %s", v.Value())
		assert.Equal(t, CauseBye, cdr.Cause)
	}
}

// TestFreecallDestinationLine: the company's 0120 number is recorded
// whether it arrives in the Request-URI or, translated, in History-Info.
func TestFreecallDestinationLine(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		trustOutside(c)
		plan, err := dialplan.New(dialplan.Config{CompanyNumbers: []string{companyIn, "0120-111-222"}})
		require.NoError(t, err)
		c.Plan = plan
	})
	newPeer(t, int(e.insideHop.Port()), calleeHz)
	cdr := routingCall(t, e, Outside, "0120111222", 1)
	assert.True(t, decidedToRecord(cdr), "freecall number in the Request-URI")
	hi := sip.NewHeader("History-Info", "<sip:0120111222@ims.example>;index=1, <sip:0398765432@ims.example>;index=1;mp=1")
	cdr = routingCall(t, e, Outside, "0398765432", 2, hi)
	assert.True(t, decidedToRecord(cdr), "translated 0ABJ with the freecall number in History-Info")
	assert.Equal(t, "0120111222", cdr.DivertedFrom)
}

// TestIncomingExtensionCall: incoming calls to a declared extension are
// recorded; outgoing extension calls are not.
func TestIncomingExtensionCall(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		plan, err := dialplan.New(dialplan.Config{CompanyNumbers: []string{companyIn}, IncomingExtensions: []string{"2001"}})
		require.NoError(t, err)
		c.Plan = plan
	})
	newPeer(t, int(e.insideHop.Port()), calleeHz)
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	cdr := routingCall(t, e, Outside, "2001", 1)
	assert.True(t, decidedToRecord(cdr), "incoming extension call")
	cdr = routingCall(t, e, Inside, "2001", 2)
	assert.False(t, decidedToRecord(cdr), "outgoing extension call")
	assert.Equal(t, dialplan.VerdictConnectUnrecorded.String(), cdr.Verdict)
}

// TestRecordAllLineAnd184: a record-all line records an unprefixed call as
// if prefixed; 184 before the prefix is recorded with Privacy: id toward
// the callee.
func TestRecordAllLineAnd184(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Lines = LineResolverFunc(func(ctx context.Context, number string, src netip.AddrPort) (Line, error) {
			l, err := testLines(ctx, number, src)
			l.Record = dialplan.RecordAll
			return l, err
		})
	})
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	cdr := routingCall(t, e, Inside, "0312345678", 1)
	assert.True(t, decidedToRecord(cdr), "unprefixed call of a record-all line")
	cdr = routingCall(t, e, Inside, "110", 2)
	assert.False(t, decidedToRecord(cdr), "emergency goes on unrecorded")
	cdr = routingCall(t, e, Inside, "1840077270312345678", 3, sip.NewHeader("Privacy", "none"))
	assert.True(t, decidedToRecord(cdr), "184 + prefix")
	assert.Equal(t, "0312345678", cdr.Destination)
	callee.mu.Lock()
	invites := append([]*sip.Request(nil), callee.invites...)
	callee.mu.Unlock()
	require.Len(t, invites, 3)
	assert.Equal(t, "0312345678", invites[0].Recipient.User)
	assert.Nil(t, invites[0].GetHeader("Privacy"))
	assert.Equal(t, "0312345678", invites[2].Recipient.User)
	privacy := invites[2].GetHeaders("Privacy")
	require.Len(t, privacy, 1, "the PBX's Privacy is replaced")
	assert.Equal(t, "id", privacy[0].Value())
}

// TestRoamingFromTrustedInside: the IMS core's P-Visited-Network-ID or
// P-Access-Network-Info with an MCC abroad makes a prefixed call
// unrecorded; a Japanese cell keeps it recorded.
func TestRoamingFromTrustedInside(t *testing.T) {
	e := newEnv(t, nil)
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	cdr := routingCall(t, e, Inside, "0077270312345678", 1,
		sip.NewHeader("P-Visited-Network-ID", "ims.mnc001.mcc310.3gppnetwork.org"))
	assert.False(t, decidedToRecord(cdr), "visited network in the USA")
	assert.True(t, cdr.Roaming)
	cdr = routingCall(t, e, Inside, "0077270312345678", 2,
		sip.NewHeader("P-Access-Network-Info", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2081012345678901; network-provided"))
	assert.False(t, decidedToRecord(cdr), "a French cell")
	cdr = routingCall(t, e, Inside, "0077270312345678", 3,
		sip.NewHeader("P-Access-Network-Info", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=4401012345678901"))
	assert.True(t, decidedToRecord(cdr), "a Japanese cell")
	assert.False(t, cdr.Roaming)

	untrusted := newEnv(t, func(c *Config) { c.Inside.Trusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	newPeer(t, int(untrusted.outsideHop.Port()), calleeHz)
	cdr = routingCall(t, untrusted, Inside, "0077270312345678", 1,
		sip.NewHeader("P-Visited-Network-ID", "ims.mnc001.mcc310.3gppnetwork.org"))
	assert.True(t, decidedToRecord(cdr), "roaming headers from an untrusted source are ignored")
}

// TestPriorityReserve: at the dialog limit and at the port limit, an
// ordinary call gets 503 and a priority call is still connected.
func TestPriorityReserve(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"dialogs": func(c *Config) { c.MaxDialogs, c.PriorityReserve = 2, 1 },
		"ports":   func(c *Config) { c.MediaPortMax = c.MediaPortMin + 6 }, // two calls' media; default reserve 1
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, mutate)
			newPeer(t, int(e.outsideHop.Port()), calleeHz)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			first, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0312345678")
			require.NoError(t, err)
			_, err = newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0312345678")
			require.Error(t, err, "an ordinary call may not take the reserve")
			assert.Equal(t, 503, failureResponse(t, err).StatusCode)
			prio, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678",
				sip.NewHeader("Resource-Priority", "esnet.0"))
			require.NoError(t, err, "a priority call is connected from the reserve")
			require.Eventually(t, func() bool { calls, _ := e.b.ActiveCalls(); return calls == 2 },
				5*time.Second, 10*time.Millisecond, "the first call and the priority call")
			require.NoError(t, prio.Hangup(ctx))
			require.NoError(t, first.Hangup(ctx))
			require.Eventually(t, func() bool { calls, _ := e.b.ActiveCalls(); return calls == 0 }, 10*time.Second, 10*time.Millisecond)
		})
	}
}

// sendDTMF sends RFC 4733 events (payload type 101) from p: three packets
// per digit, the last with the end bit, as phones do.
func sendDTMF(t *testing.T, p *peer, digits string, base uint32) {
	t.Helper()
	call := p.lastCall(t)
	for i, d := range digits {
		ev := byte(0)
		switch {
		case d >= '0' && d <= '9':
			ev = byte(d - '0')
		case d == '*':
			ev = 10
		case d == '#':
			ev = 11
		}
		ts := base + uint32(i)*1600
		for k := range 3 {
			payload := make([]byte, 4)
			payload[0] = ev
			payload[1] = 10
			if k == 2 {
				payload[1] |= 0x80
			}
			binary.BigEndian.PutUint16(payload[2:], uint16(160*(k+1)))
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: 0xD7F00000,
				SequenceNumber: uint16(i*3 + k + int(base%1000)), Timestamp: ts, Marker: k == 0}, Payload: payload}
			require.NoError(t, call.SendRTP(&pkt))
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestOnDemandRecording: an on-demand line's call is connected unrecorded;
// the caller's *1 starts the recording after the guidance, without the
// callee hearing the code; the API stops and starts it again; the call
// gives one file whose metadata lists the pause.
func TestOnDemandRecording(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Lines = LineResolverFunc(func(ctx context.Context, number string, src netip.AddrPort) (Line, error) {
			l, err := testLines(ctx, number, src)
			l.Record = dialplan.RecordOnDemand
			return l, err
		})
	})
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0312345678")
	require.NoError(t, err)
	callID := d.ID()
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, e.events.count(EventRecordingStarted), "connected unrecorded")
	_, recorded := e.b.ActiveCalls()
	assert.Zero(t, recorded)

	sendDTMF(t, caller, "5", 1000) // not a code: passed on
	sendDTMF(t, caller, "*1", 5000)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	callee.mu.Lock()
	events := callee.events
	callee.mu.Unlock()
	assert.Equal(t, 3, events, "the callee gets the 5, not the *1")

	time.Sleep(300 * time.Millisecond)
	require.NoError(t, e.b.StopRecording(ctx, callID))
	time.Sleep(400 * time.Millisecond)
	require.NoError(t, e.b.StartRecording(ctx, callID))
	e.events.wait(t, EventRecordingResumed, 1, 5*time.Second)
	assert.Equal(t, 1, e.events.count(EventGuidanceStarted), "the guidance plays once")
	time.Sleep(300 * time.Millisecond)
	require.ErrorIs(t, e.b.StartRecording(ctx, "no-such-call"), ErrNoCall)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1, "one file for the whole call")
	require.Len(t, metas, 1)
	var st struct {
		Pauses []json.RawMessage `json:"pauses"`
	}
	require.NoError(t, json.Unmarshal(metas[0].RecorderStats, &st))
	assert.Len(t, st.Pauses, 1)
	cdr := e.lastCDR(t, 1)
	assert.True(t, cdr.OnDemand)
	assert.True(t, cdr.Recorded)
}

// TestOnDemandIncomingCompanyCallee: on an incoming call the company is
// the callee: its *1 starts the recording and never reaches the caller;
// a call of an ordinary line refuses the API with ErrNotOnDemand.
func TestOnDemandIncomingCompanyCallee(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Lines = LineResolverFunc(func(ctx context.Context, number string, src netip.AddrPort) (Line, error) {
			l, err := testLines(ctx, number, src)
			if number == companyIn {
				l.Record = dialplan.RecordOnDemand
			}
			return l, err
		})
	})
	company := newPeer(t, int(e.insideHop.Port()), calleeHz)
	customer := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := customer.call(ctx, e.b.Addr(Outside), companyIn)
	require.NoError(t, err)
	company.answeredCall(t)
	time.Sleep(200 * time.Millisecond)
	assert.Zero(t, e.events.count(EventGuidanceStarted), "connected unrecorded")
	sendDTMF(t, company, "*1", 9000)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	customer.mu.Lock()
	assert.Zero(t, customer.events, "the customer never hears the code")
	customer.mu.Unlock()
	require.NoError(t, d.Hangup(ctx))
	cdr := e.lastCDR(t, 1)
	assert.True(t, cdr.OnDemand)
	assert.True(t, cdr.Recorded)

	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	plain, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	err = e.b.StartRecording(ctx, plain.ID())
	assert.ErrorIs(t, err, ErrNotOnDemand)
	require.NoError(t, plain.Hangup(ctx))
}
