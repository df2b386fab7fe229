package sipadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

// heardAfterGuidance counts the packets of the other party's tone p heard
// after the last guidance packet it heard.
func heardAfterGuidance(p *peer, otherHz float64) int {
	tones := p.heardTones(guidanceHz, otherHz)
	last := -1
	for i, k := range tones {
		if k == 0 {
			last = i
		}
	}
	n := 0
	for _, k := range tones[last+1:] {
		if k == 1 {
			n++
		}
	}
	return n
}

// TestRecordingHasEveryPacketRelayedAfterGuidance holds the disk up for
// 300 ms while the recording is being opened after the guidance (the
// sidecar's fsync on a busy disk): every packet relayed to a party after
// the guidance must still be in the recording, and nothing else.
func TestRecordingHasEveryPacketRelayedAfterGuidance(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.beforeSidecar = func() { time.Sleep(300 * time.Millisecond) } })
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	ended := e.events.wait(t, EventGuidanceEnded, 1, 5*time.Second)[0]
	started := e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)[0]
	assert.Less(t, started.Time.Sub(ended.Time), 150*time.Millisecond,
		"the recording starts when the guidance ends, not when the slow disk let it open")
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)

	_, metas := e.delivered(t)
	require.Len(t, metas, 1)
	var stats RecorderStats
	require.NoError(t, json.Unmarshal(metas[0].RecorderStats, &stats))
	enqueued := e.events.wait(t, EventEnqueued, 1, 5*time.Second)[0]
	require.NotNil(t, enqueued.Recorder, "EventEnqueued carries the recorder statistics typed")
	typed, err := json.Marshal(enqueued.Recorder)
	require.NoError(t, err)
	assert.JSONEq(t, string(metas[0].RecorderStats), string(typed), "the same statistics as the metadata's recorder_stats")
	toCallee, toCaller := heardAfterGuidance(callee, callerHz), heardAfterGuidance(caller, calleeHz)
	t.Logf("relayed after the guidance: %d to the callee, %d to the caller; recorded %+v / %+v",
		toCallee, toCaller, stats.Caller, stats.Callee)
	assert.Greater(t, toCallee, 30, "the call went on for 800 ms after the guidance")
	assert.EqualValues(t, toCallee, stats.Caller.Received, "the caller's packets relayed after the guidance are all recorded")
	assert.EqualValues(t, toCaller, stats.Callee.Received, "the callee's packets relayed after the guidance are all recorded")
	for _, st := range []struct {
		name     string
		received uint64
		decoded  uint64
		first    time.Time
	}{{"caller", stats.Caller.Received, stats.Caller.Decoded, stats.Caller.First},
		{"callee", stats.Callee.Received, stats.Callee.Decoded, stats.Callee.First}} {
		assert.Equal(t, st.received, st.decoded, "%s: every packet held meanwhile is placed in the file", st.name)
		assert.False(t, st.first.Before(started.Time), "%s: nothing recorded before the recording's start", st.name)
		assert.Less(t, st.first.Sub(ended.Time), 150*time.Millisecond,
			"%s: the recording has the first packets after the guidance, though it was opened 300 ms later", st.name)
	}
	cdrs := e.cdr.cdrs(t)
	require.Len(t, cdrs, 1)
	assert.True(t, cdrs[0].Recorded)
}

// TestRecordedWithoutGuidanceThatCannotPlay: a line whose announcement has
// no prompt is recorded all the same, from the answer, which is then the
// billing start; no guidance event claims a guidance that never played.
func TestRecordedWithoutGuidanceThatCannotPlay(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		ann, err := guidance.NewAnnouncer(guidance.Config{Carrier: "TestCarrier",
			Prompts: map[int]*guidance.Prompt{1: testPrompt(t, 600*time.Millisecond)}})
		require.NoError(t, err)
		c.Announcer = ann
		c.Lines = LineResolverFunc(func(ctx context.Context, number string, src netip.AddrPort) (Line, error) {
			l, err := testLines.Line(ctx, number, src)
			l.Announcement = 3 // no prompt for it
			return l, err
		})
	})
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)

	assert.Zero(t, e.events.count(EventGuidanceStarted))
	assert.Zero(t, e.events.count(EventGuidanceEnded))
	for _, p := range []*peer{caller, callee} {
		for _, k := range p.heardTones(guidanceHz) {
			require.NotEqual(t, 0, k, "a guidance packet was heard")
		}
	}
	_, metas := e.delivered(t)
	require.Len(t, metas, 1)
	var stats RecorderStats
	require.NoError(t, json.Unmarshal(metas[0].RecorderStats, &stats))
	assert.Greater(t, stats.Caller.Decoded, uint64(20))
	assert.Greater(t, stats.Callee.Decoded, uint64(20))
	assert.Equal(t, stats.Caller.Received, stats.Caller.Decoded)
	assert.Equal(t, stats.Callee.Received, stats.Callee.Decoded)
	cdr := e.lastCDR(t, 1)
	assert.True(t, cdr.Recorded)
	assert.Equal(t, cdr.Answer, cdr.BillingStart)
}

// TestHeldRecordingBoundedAndReplayedInOrder: packets held while a
// recording opens are replayed into it in arrival order across both
// parties, a full holding buffer refuses with an error rather than grow,
// and after attach packets go straight to the recording.
func TestHeldRecordingBoundedAndReplayedInOrder(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	h := &heldRecording{}
	pkt := func(seq int) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(seq), Timestamp: uint32(seq * 160), SSRC: 1},
			Payload: make([]byte, 160)}
	}
	// The callee's goroutine got the lock first for a while: its packets
	// are held ahead of the caller's earlier ones.
	for i := range maxHeldPackets / 2 {
		require.NoError(t, h.tap(relay.Callee).WriteRTP(pkt(i), start.Add(time.Duration(i)*20*time.Millisecond)))
	}
	for i := range maxHeldPackets / 2 {
		require.NoError(t, h.tap(relay.Caller).WriteRTP(pkt(i), start.Add(time.Duration(i)*20*time.Millisecond)))
	}
	assert.ErrorIs(t, h.tap(relay.Caller).WriteRTP(pkt(maxHeldPackets), start.Add(10*time.Second)), errHeldFull)
	assert.Equal(t, start, h.first())

	clock := func() time.Time { return start.Add(10 * time.Second) }
	rec, err := recorder.New(recorder.Config{Path: filepath.Join(t.TempDir(), "r.wav"), Start: start, Clock: clock})
	require.NoError(t, err)
	q := newRecordQueue(rec, newRecordBufs())
	replayed, dropped, err := h.attach(rec, q)
	require.NoError(t, err)
	assert.Equal(t, maxHeldPackets, replayed)
	assert.Equal(t, [2]uint64{1, 0}, dropped, "one of the caller's")
	require.NoError(t, h.tap(relay.Caller).WriteRTP(pkt(maxHeldPackets/2), start.Add(10*time.Second)))
	q.close()
	assert.Equal(t, [2]uint64{}, q.lost())
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, maxHeldPackets/2+1, res.Caller.Decoded)
	assert.EqualValues(t, maxHeldPackets/2, res.Callee.Decoded, "replayed in arrival order, none late")
	assert.Zero(t, res.Callee.Late+res.Caller.Late)
}

// TestPartiesDoNotHearEachOtherBeforeGuidance: the callee talks from its
// answer on while the caller takes 300 ms to acknowledge the 200; the
// caller must hear the guidance first, and nothing of the callee before it.
func TestPartiesDoNotHearEachOtherBeforeGuidance(t *testing.T) {
	e := newEnv(t, nil)
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	c := newRawClient(t)
	in := e.b.Addr(Inside)
	media := newRTPSocket(t)
	invite := c.request("INVITE", "0077270312345678", in, "slow-ack", "", media.sdp(1))
	res := c.send(in, invite, 5*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
	toTag := toTagOf(t, res)
	inDialog := func(method string, cseq int) string {
		msg := c.request(method, "0077270312345678", in, "slow-ack", "", "")
		msg = strings.Replace(msg, "CSeq: 1 "+method, fmt.Sprintf("CSeq: %d %s", cseq, method), 1)
		to := fmt.Sprintf("To: <sip:0077270312345678@%s>", in)
		return strings.Replace(msg, to, to+toTag, 1)
	}
	heard := media.collect(300 * time.Millisecond) // before the ACK
	_, err := c.conn.WriteToUDPAddrPort([]byte(inDialog("ACK", 1)), in)
	require.NoError(t, err)
	heard = append(heard, media.collect(1200*time.Millisecond)...)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)

	firstGuidance, callee, calleeBefore := -1, 0, 0
	for i, payload := range heard {
		x := make([]float64, len(payload))
		for j, b := range payload {
			x[j] = float64(g711.DecodeUlawFrame(b))
		}
		if share, active := toneShareWindow(x, guidanceHz); active && share > 0.6 && firstGuidance < 0 {
			firstGuidance = i
		}
		if share, active := toneShareWindow(x, calleeHz); active && share > 0.6 {
			callee++
			if firstGuidance < 0 {
				calleeBefore++
			}
		}
	}
	t.Logf("the caller got %d packets: guidance from #%d, %d of the callee (%d before the guidance)",
		len(heard), firstGuidance, callee, calleeBefore)
	require.GreaterOrEqual(t, firstGuidance, 0, "the caller heard the guidance")
	assert.Zero(t, calleeBefore, "the caller heard the callee before the guidance")
	assert.Positive(t, callee, "the caller hears the callee after the guidance")
	res = c.send(in, inDialog("BYE", 2), 2*time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 200"), "got %q", res)
}
