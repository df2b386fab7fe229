package sipadapter

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
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
	dir := sippDir(t)
	uas := startSIPp(t, bin, dir, "-sf", "uas_answer.xml", "-p", portArg(int(e.outsideHop.Port())),
		"-mp", portArg(freeMediaPort(t)), "-m", "1")
	time.Sleep(200 * time.Millisecond)
	uac := startSIPp(t, bin, dir, e.b.Addr(Inside).String(), "-sf", "uac_call.xml", "-s", "0077270312345678",
		"-key", "caller", lineFixed, "-p", portArg(freePort(t)), "-mp", portArg(freeMediaPort(t)), "-m", "1", "-d", "4000")
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
