package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/internal/testenv"
	"github.com/callrec/callrec/recorder"
)

// The guidance-on kill suite: fewer kills than TestFaultSIGKILLUnderLoad,
// each one landing while about guidedPrompt × faultRate calls hear the
// announcement.
const (
	guidedKills  = 3
	guidedPrompt = 1500 * time.Millisecond // the announcement's length
	guidedHoldMS = 3000                    // SIPp -d: announcement, then 1.5 s of talk
	// guidedSIPpWait bounds the wait for SIPp's last calls; those a kill
	// left it waiting on end with SIGINT.
	guidedSIPpWait = 12 * time.Second
	// guidedStartGrace is how soon after SIPp's answer a kill may come
	// before the B2BUA has the ACK and has created the recording at the
	// announcement's start: such a call may have no recording.
	guidedStartGrace = 200 * time.Millisecond
)

// writePrompt writes a mono 8 kHz 16-bit PCM WAV of a 440 Hz tone, d long.
func writePrompt(t *testing.T, path string, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * 8000)
	buf := make([]byte, 44+2*n)
	copy(buf[0:], "RIFF")
	binary.LittleEndian.PutUint32(buf[4:], uint32(36+2*n))
	copy(buf[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(buf[16:], 16)
	binary.LittleEndian.PutUint16(buf[20:], 1) // PCM
	binary.LittleEndian.PutUint16(buf[22:], 1) // mono
	binary.LittleEndian.PutUint32(buf[24:], 8000)
	binary.LittleEndian.PutUint32(buf[28:], 16000)
	binary.LittleEndian.PutUint16(buf[32:], 2)
	binary.LittleEndian.PutUint16(buf[34:], 16)
	copy(buf[36:], "data")
	binary.LittleEndian.PutUint32(buf[40:], uint32(2*n))
	for i := range n {
		s := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
		binary.LittleEndian.PutUint16(buf[44+2*i:], uint16(s))
	}
	require.NoError(t, os.WriteFile(path, buf, 0o600))
}

// TestFaultSIGKILLDuringGuidance is the crash row with the announcement
// on: under SIPp load the b2bua child is SIGKILLed guidedKills times, so
// that every kill lands while several calls hear the announcement, and
// restarted each time with the same configuration and directories.
//
// The recording of a call exists from its announcement's start (sidecar
// and an empty WAV file), and its audio starts when the announcement ends
// (the parties are connected only then), so the calls are classed by how
// far into the call the kill came, measured from SIPp's answer:
//   - killed within guidedStartGrace of the answer, or answered just after
//     a kill: the B2BUA may not have had the ACK yet, so may have no
//     recording (counted);
//   - killed during the announcement (before answer + guidedPrompt): the
//     parties never talked, yet heard that the call is recorded: exactly
//     one delivered recording, empty (no frames) and marked
//     ended_during_announcement;
//   - killed within faultAnswerGrace after the announcement's end:
//     exactly one delivered recording, empty or not;
//   - every other answered call (completed, or killed later): exactly one
//     delivered recording, not marked, whose audio covers the talk up to
//     the kill (less a second of slack).
//
// For every delivered recording: it belongs to an answered call, its RIFF
// sizes match the file and go-audio/wav decodes it whole, no two share an
// ID or a Call-ID. At the end the record directory and the spool are
// empty and nothing is dead-lettered.
func TestFaultSIGKILLDuringGuidance(t *testing.T) {
	if testing.Short() {
		t.Skip("the SIGKILL suite with guidance runs for about 30 s")
	}
	rig := newFaultRig(t)
	s, sippDir := rig.s, rig.sippDir
	prompt := filepath.Join(s.dir, "prompt.wav")
	writePrompt(t, prompt, guidedPrompt)
	raw, err := os.ReadFile(s.cfg)
	require.NoError(t, err)
	guided := strings.Replace(string(raw), "  guidance:\n    mode: \"off\"\n",
		fmt.Sprintf("  guidance:\n    mode: both\n    prompts:\n      1: %s\n", prompt), 1)
	require.NotEqual(t, string(raw), guided, "guidance section replaced")
	require.NoError(t, os.WriteFile(s.cfg, []byte(guided), 0o600))
	rig.start()

	uptimes := make([]time.Duration, guidedKills)
	var total time.Duration
	for i := range uptimes {
		// Long enough for calls to get past their announcement too.
		uptimes[i] = 2*time.Second + rand.N(time.Second)
		total += uptimes[i] + 300*time.Millisecond
	}
	// And two seconds of calls after the last kill, which complete.
	calls := int((total + 2*time.Second).Seconds() * faultRate)
	uac := rig.placeCalls(calls, guidedHoldMS, "60s")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		errs, _ := exec.Command("sh", "-c", "cat "+sippDir+"/*errors.log 2>/dev/null | head -40").CombinedOutput()
		t.Logf("SIPp caller (last 2000 bytes):\n%s\nSIPp callee (last 2000 bytes):\n%s\nSIPp error logs:\n%s",
			tailString(uac.out.String(), 2000), tailString(rig.uas.out.String(), 2000), errs)
	})

	kills := rig.killAfter(uptimes)
	awaitCaller(t, uac, guidedSIPpWait)

	s.finish(30 * time.Second)

	answered := sippAnswers(t, sippDir)
	recs := deliveredRecordings(t, filepath.Join(s.dir, "out"))
	byCall := map[string]int{}
	frames := map[string]int64{}
	ids := map[string]bool{}
	marked := map[string]bool{}
	recovered := 0
	for _, r := range recs {
		byCall[r.md.CallID]++
		marked[r.md.CallID] = r.md.EndedDuringAnnouncement
		assert.False(t, ids[r.md.ID], "recording %s delivered twice", r.md.ID)
		ids[r.md.ID] = true
		assert.Contains(t, answered, r.md.CallID, "recording %s of a call the PBX never saw answered", r.md.ID)
		n, _, err := testenv.CheckWAV(r.audio)
		assert.NoError(t, err, "recording %s", r.md.ID)
		frames[r.md.CallID] = n
		if r.stats == nil && !r.md.EndedDuringAnnouncement {
			recovered++ // recovered after a kill: its metadata is the sidecar's
		}
	}
	const slack = time.Second
	hold := time.Duration(guidedHoldMS) * time.Millisecond
	var completed, duringGuidance, duringGuidanceRecorded, graced, gracedRecorded, afterGuidance, mustHave int
	for callID, c := range answered {
		if byCall[callID] > 1 {
			t.Errorf("call %s has %d recordings", callID, byCall[callID])
		}
		if c.completed {
			completed++
		}
		var killedAt time.Duration = -1 // into the call, of the kill that ended it
		justAfterKill := false
		for _, k := range kills {
			if c.at.After(k) && c.at.Sub(k) < 50*time.Millisecond {
				justAfterKill = true
			}
			if killedAt < 0 && !k.Before(c.at) {
				killedAt = k.Sub(c.at)
			}
		}
		switch {
		case c.completed:
			killedAt = -1
		case justAfterKill || killedAt >= 0 && killedAt < guidedStartGrace:
			graced++
			gracedRecorded += byCall[callID]
			continue
		}
		mustHave++
		during := killedAt >= 0 && killedAt < guidedPrompt
		if during {
			duringGuidance++
		}
		if !assert.Equal(t, 1, byCall[callID], "call %s answered at %v (completed %v, killed %v into it): recordings",
			callID, c.at.Format("15:04:05.000"), c.completed, killedAt) {
			continue
		}
		switch {
		case during:
			if marked[callID] && frames[callID] == 0 {
				duringGuidanceRecorded++
			}
			assert.True(t, marked[callID], "call %s killed %v into its announcement: marked ended_during_announcement", callID, killedAt)
			assert.Zero(t, frames[callID], "call %s killed %v into its announcement: nothing recorded", callID, killedAt)
			continue
		case killedAt >= 0 && killedAt < guidedPrompt+faultAnswerGrace:
			afterGuidance++
			continue
		}
		assert.False(t, marked[callID], "call %s (completed %v, killed %v into it) talked: not marked", callID, c.completed, killedAt)
		talk := hold - guidedPrompt
		if killedAt >= 0 && killedAt < hold {
			talk = killedAt - guidedPrompt
		}
		got := time.Duration(frames[callID]) * time.Second / recorder.SampleRate
		assert.GreaterOrEqual(t, got, talk-slack, "call %s (completed %v, killed %v into it): audio", callID, c.completed, killedAt)
	}
	t.Logf("%d kills, %d runs; %d calls answered (%d completed), %d recordings delivered (%d recovered after a kill with audio); "+
		"%d killed during the %v announcement, %d of them with an empty recording marked ended_during_announcement; "+
		"%d killed within %v after it; %d killed within %v of the answer or answered just after a kill (%d recorded); "+
		"%d had to have a recording",
		len(kills), len(s.starts), len(answered), completed, len(recs), recovered,
		duringGuidance, guidedPrompt, duringGuidanceRecorded, afterGuidance, faultAnswerGrace,
		graced, guidedStartGrace, gracedRecorded, mustHave)
	assert.Len(t, kills, guidedKills)
	assert.Positive(t, duringGuidance, "the kills landed during announcements")
	assert.Positive(t, recovered, "the kills cut recordings in progress")
	assert.GreaterOrEqual(t, mustHave, 10, "calls checked")
}
