package sipadapter

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/go-audio/wav"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delivered returns the audio and metadata files the DirSink received.
func (e *env) delivered(t testing.TB) (wavs []string, metas []delivery.Metadata) {
	t.Helper()
	err := filepath.WalkDir(e.dest, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".wav"):
			wavs = append(wavs, path)
		case strings.HasSuffix(path, ".json"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var md delivery.Metadata
			if err := json.Unmarshal(b, &md); err != nil {
				return err
			}
			metas = append(metas, md)
		}
		return nil
	})
	require.NoError(t, err)
	return wavs, metas
}

// readWAV returns the samples of each channel.
func readWAV(t testing.TB, path string) [][]float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	d := wav.NewDecoder(f)
	buf, err := d.FullPCMBuffer()
	require.NoError(t, err)
	ch := buf.Format.NumChannels
	out := make([][]float64, ch)
	for i, v := range buf.Data {
		out[i%ch] = append(out[i%ch], float64(v))
	}
	return out
}

// toneShare is the share of the signal's energy at hz (Goertzel over
// 100 ms windows, summed over windows that are not silent), and the
// number of such windows.
func toneShare(x []float64, hz float64) (float64, int) {
	const win = 800
	var tone, total float64
	active := 0
	for start := 0; start+win <= len(x); start += win {
		w := x[start : start+win]
		var e float64
		for _, v := range w {
			e += v * v
		}
		if e/win < 100*100 {
			continue
		}
		active++
		coeff := 2 * math.Cos(2*math.Pi*hz/8000)
		var s1, s2 float64
		for _, v := range w {
			s := v + coeff*s1 - s2
			s2, s1 = s1, s
		}
		power := s1*s1 + s2*s2 - coeff*s1*s2
		tone += 2 * power / win
		total += e
	}
	if total == 0 {
		return 0, 0
	}
	return tone / total, active
}

func TestSIPpRecordedOutgoingCall(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	uas := startSIPp(t, bin, dir, "-sf", "uas_answer.xml", "-p", portArg(int(e.outsideHop.Port())),
		"-mp", portArg(freeMediaPort(t)), "-m", "1")
	time.Sleep(200 * time.Millisecond)
	uac := startSIPp(t, bin, dir, e.b.Addr(Inside).String(), "-sf", "uac_call.xml", "-s", "0077270312345678",
		"-key", "caller", lineFixed, "-p", portArg(testenv.FreePort(t)), "-mp", portArg(freeMediaPort(t)), "-m", "1", "-d", "4000")
	uac.requireOK(t, 40*time.Second)
	uas.requireOK(t, 40*time.Second)

	e.events.wait(t, EventDelivered, 1, 20*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1)
	require.Len(t, metas, 1)
	md := metas[0]
	assert.Equal(t, delivery.Outgoing, md.Direction)
	assert.Equal(t, "0312345678", md.Destination)
	assert.Equal(t, "0077270312345678", md.Dialled)
	assert.Equal(t, lineFixed, md.LineNumber)
	assert.Equal(t, lineFixed, md.Caller)
	assert.Equal(t, 2, md.Channels)
	assert.Equal(t, "1", md.AnnouncementID)
	assert.False(t, md.GuidanceStart.IsZero())
	assert.True(t, !md.Answer.After(md.GuidanceStart), "billing starts at guidance, after answer")

	ch := readWAV(t, wavs[0])
	require.Len(t, ch, 2)
	left, right := ch[0], ch[1]
	lt, lActive := toneShare(left, calleeHz)
	rt, rActive := toneShare(right, calleeHz)
	t.Logf("left: %d active windows, %.2f at %v Hz; right: %d active, %.2f at %v Hz", lActive, lt, calleeHz, rActive, rt, calleeHz)
	assert.Greater(t, lActive, 10, "the caller's pcap audio is on the left")
	assert.Less(t, lt, 0.2, "the callee's tone must not be on the left")
	assert.Greater(t, rActive, 20, "the callee's tone is on the right")
	assert.Greater(t, rt, 0.8, "the right channel is the callee's tone")
	for i, c := range ch {
		g, _ := toneShare(c, guidanceHz)
		assert.Less(t, g, 0.05, "guidance tone in channel %d", i)
	}
	kinds := []EventKind{}
	for _, ev := range e.events.snapshot() {
		kinds = append(kinds, ev.Kind)
	}
	assert.Equal(t, []EventKind{EventDecided, EventRinging, EventAnswered, EventGuidanceStarted, EventGuidanceEnded,
		EventRecordingStarted, EventEnqueued, EventEnded, EventDelivered}, kinds)
	cdrs := e.cdr.cdrs(t)
	require.Len(t, cdrs, 1)
	assert.Equal(t, CauseBye, cdrs[0].Cause)
	assert.Equal(t, PartyCaller, cdrs[0].HungUp)
	assert.True(t, cdrs[0].Recorded)
}

func TestSIPpRefusals(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	tests := map[string]struct {
		line, dialled string
		code          string
		verdict       string
	}{
		"not-recordable":       {lineFixed, "007727104", "403", "not-recordable"},
		"emergency":            {lineFixed, "007727110", "380", "emergency"},
		"restricted-from-050":  {line050, "0077270120123456", "403", "restricted-from-050"},
		"prefix-line-mismatch": {lineFixed, "0077260312345678", "403", "prefix-line-mismatch"},
		"invalid":              {lineFixed, "00772703", "484", "invalid"},
		"unknown line":         {"0399999999", "0077270312345678", "403", ""},
	}
	n := 0
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reason := "cause=" + tc.code + ";text=\"" + tc.verdict
			if tc.verdict == "" {
				reason = "unknown line"
			}
			dir := sippDir(t, map[string]string{"Code": tc.code, "Reason": reason})
			e.uac(t, bin, dir, Inside, "uac_expect.xml", tc.dialled, tc.line).requireOK(t, 20*time.Second)
			n++
			cdr := e.lastCDR(t, n)
			assert.Equal(t, CauseRefused, cdr.Cause)
			assert.Equal(t, tc.code, strconv.Itoa(cdr.Code))
			if tc.verdict != "" {
				assert.Equal(t, tc.verdict, cdr.Verdict)
			}
			assert.False(t, cdr.Recorded)
			assert.Zero(t, cdr.CalleePackets)
		})
	}
	calls, _ := e.b.ActiveCalls()
	assert.Zero(t, calls)
}

func TestSIPpCancelBeforeAnswer(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	uas := e.uas(t, bin, dir, "uas_ring.xml", e.outsideHop)
	e.uac(t, bin, dir, Inside, "uac_cancel.xml", "0077270312345678", lineFixed).requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseCancelled, cdr.Cause)
	assert.Equal(t, PartyCaller, cdr.HungUp)
	assert.False(t, cdr.Recorded)
	assert.Equal(t, 1, e.events.count(EventRinging))
	assert.Zero(t, e.events.count(EventAnswered))
}

// TestSIPpAnswerCrossesCancel has the callee answer 200 just as the
// caller's CANCEL reaches it: the caller gets 487, and the callee, which
// is connected all the same, gets an ACK and a BYE (RFC 3261 §15) instead
// of retransmitting its 200 for 32 s to nobody.
func TestSIPpAnswerCrossesCancel(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	uas := e.uas(t, bin, dir, "uas_cancel_race.xml", e.outsideHop)
	e.uac(t, bin, dir, Inside, "uac_cancel.xml", "0077270312345678", lineFixed).requireOK(t, 30*time.Second)
	uas.requireOK(t, 20*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseCancelled, cdr.Cause)
	assert.Equal(t, PartyCaller, cdr.HungUp)
	assert.Zero(t, e.events.count(EventAnswered))
	assert.Eventually(t, func() bool { return callTableLen(e.b) == 0 }, 5*time.Second, 10*time.Millisecond,
		"both legs leave the call table")
}

func TestSIPpBusyPassedBack(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, map[string]string{"Code": "486", "Reason": "Q.850;cause=17"})
	uas := e.uas(t, bin, dir, "uas_busy.xml", e.outsideHop)
	e.uac(t, bin, dir, Inside, "uac_expect.xml", "0077270312345678", lineFixed).requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseRejected, cdr.Cause)
	assert.Equal(t, 486, cdr.Code)
}

func TestSIPpByeFromCallee(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	uas := e.uas(t, bin, dir, "uas_bye.xml", e.outsideHop, "-d", "3000")
	e.uac(t, bin, dir, Inside, "uac_wait_bye.xml", "0077270312345678", lineFixed).requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseBye, cdr.Cause)
	assert.Equal(t, PartyCallee, cdr.HungUp)
	assert.True(t, cdr.Recorded)
	e.events.wait(t, EventDelivered, 1, 20*time.Second)
}

func TestSIPpHold(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	uas := e.uas(t, bin, dir, "uas_hold.xml", e.outsideHop)
	e.uac(t, bin, dir, Inside, "uac_hold.xml", "0077270312345678", lineFixed).requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseBye, cdr.Cause)
	assert.Equal(t, PartyCaller, cdr.HungUp)
	e.events.wait(t, EventDelivered, 1, 20*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1)
	// The call lasts 3.5 s after the ACK; minus 0.6 s of guidance the file
	// covers the hold without a gap.
	assert.InDelta(t, 2.9, metas[0].Duration.Seconds(), 0.5)
	ch := readWAV(t, wavs[0])
	assert.InDelta(t, metas[0].Duration.Seconds()*8000, float64(len(ch[0])), 8000*0.05)
}

func TestSIPpIncoming(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	tests := map[string]struct {
		called   string
		recorded bool
	}{
		"company 03 number recorded": {companyIn, true},
		"090 number not recorded":    {"09012345678", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			dir := sippDir(t, nil)
			uas := e.uas(t, bin, dir, "uas_answer.xml", e.insideHop)
			e.uac(t, bin, dir, Outside, "uac_call.xml", tc.called, "0120123456", "-d", "2000").requireOK(t, 30*time.Second)
			uas.requireOK(t, 30*time.Second)
			cdr := e.lastCDR(t, 1)
			assert.Equal(t, delivery.Incoming, cdr.Direction)
			assert.Equal(t, tc.recorded, cdr.Recorded)
			assert.Equal(t, CauseBye, cdr.Cause)
			assert.NotZero(t, cdr.CallerPackets)
			assert.NotZero(t, cdr.CalleePackets)
			if tc.recorded {
				e.events.wait(t, EventDelivered, 1, 20*time.Second)
				_, metas := e.delivered(t)
				require.Len(t, metas, 1)
				assert.Equal(t, delivery.Incoming, metas[0].Direction)
			} else {
				assert.Zero(t, e.events.count(EventGuidanceStarted))
				assert.Zero(t, e.events.count(EventRecordingStarted))
			}
		})
	}
}

func TestSIPpCongestionAndPriority(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, func(c *Config) {
		c.MinSpoolFree = 1 << 20
		c.SpoolFree = func() (uint64, error) { return 1 << 10, nil } // the spool's disk is full
		c.RetryAfter = 90 * time.Second
	})
	t.Run("ordinary call refused", func(t *testing.T) {
		dir := sippDir(t, map[string]string{"Code": "503", "Reason": "recording congested"})
		e.uac(t, bin, dir, Inside, "uac_expect.xml", "0077270312345678", lineFixed).requireOK(t, 20*time.Second)
		cdr := e.lastCDR(t, 1)
		assert.Equal(t, CauseCongested, cdr.Cause)
		assert.Equal(t, 503, cdr.Code)
	})
	t.Run("priority call connected unrecorded", func(t *testing.T) {
		dir := sippDir(t, map[string]string{"Header": "      Resource-Priority: esnet.0\n"})
		uas := e.uas(t, bin, dir, "uas_answer.xml", e.outsideHop)
		e.uac(t, bin, dir, Inside, "uac_call.xml", "0077270312345678", lineFixed, "-d", "1500").requireOK(t, 30*time.Second)
		uas.requireOK(t, 30*time.Second)
		cdr := e.lastCDR(t, 2)
		assert.Equal(t, CauseBye, cdr.Cause)
		assert.True(t, cdr.Priority)
		assert.False(t, cdr.Recorded)
		assert.Equal(t, "record", cdr.Verdict)
		assert.NotZero(t, cdr.CalleePackets)
		assert.Zero(t, e.events.count(EventGuidanceStarted), "priority calls bypass the guidance")
	})
}

// TestSIPpTCP runs a recorded call over TCP on both sides.
func TestSIPpTCP(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, func(c *Config) { c.Outside.Transport = "tcp" })
	dir := sippDir(t, nil)
	uas := e.uas(t, bin, dir, "uas_answer.xml", e.outsideHop, "-t", "t1")
	e.uac(t, bin, dir, Inside, "uac_call.xml", "0077270312345678", lineFixed, "-t", "t1", "-d", "1500").requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	cdr := e.lastCDR(t, 1)
	assert.Equal(t, CauseBye, cdr.Cause)
	assert.True(t, cdr.Recorded)
	assert.NotZero(t, cdr.CalleePackets)
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
}

// TestSIPpMonoLine records a line configured for mono: one mixed channel.
func TestSIPpMonoLine(t *testing.T) {
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	e := newEnv(t, nil)
	dir := sippDir(t, nil)
	uas := e.uas(t, bin, dir, "uas_answer.xml", e.outsideHop)
	e.uac(t, bin, dir, Inside, "uac_call.xml", "0077270312345678", "mono", "-d", "2000").requireOK(t, 30*time.Second)
	uas.requireOK(t, 30*time.Second)
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1)
	assert.Equal(t, 1, metas[0].Channels)
	ch := readWAV(t, wavs[0])
	require.Len(t, ch, 1)
	_, active := toneShare(ch[0], calleeHz)
	assert.Greater(t, active, 10, "both parties are mixed into the one channel")
}
