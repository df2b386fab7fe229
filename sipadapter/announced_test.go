package sipadapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/guidance"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// longAnnouncement gives the test's lines a 3 s announcement, so that a
// hang-up "during the announcement" lands inside it even on a loaded
// machine.
func longAnnouncement(t testing.TB) func(*Config) {
	return func(c *Config) {
		ann, err := guidance.NewAnnouncer(guidance.Config{Prompts: map[int]*guidance.Prompt{
			1: testPrompt(t, 3*time.Second), 2: testPrompt(t, 3*time.Second),
		}})
		require.NoError(t, err)
		c.Announcer = ann
	}
}

// announcedFiles returns the sidecar and audio a recorded call has in
// RecordDir, failing unless there are exactly those two.
func announcedFiles(t testing.TB, dir string) (sidecar, audio string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case partialExt:
			sidecar = filepath.Join(dir, e.Name())
		case audioExt:
			audio = filepath.Join(dir, e.Name())
		}
	}
	require.Len(t, entries, 2, "a sidecar and a WAV file in RecordDir")
	require.NotEmpty(t, sidecar)
	require.NotEmpty(t, audio)
	return sidecar, audio
}

// TestHangUpDuringAnnouncementDelivered: a recorded call's recording
// exists from its announcement's start: while the announcement plays,
// RecordDir holds a sidecar marked ended_during_announcement and a valid
// WAV file with no audio. A call hung up then (by the caller or by the
// callee) has that empty recording delivered, marked in its metadata,
// the CDR and EventEnqueued; the files left at that instant (what a
// SIGKILL would leave) are delivered the same way by a new instance's
// recovery; a call that talks past its announcement is recorded as
// before, unmarked, and nothing of the announcement is in it.
func TestHangUpDuringAnnouncementDelivered(t *testing.T) {
	e := newEnv(t, longAnnouncement(t))
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	killedDir := t.TempDir() // what a kill during the first announcement leaves

	callIDs := map[string]Party{}
	for i, who := range []Party{PartyCaller, PartyCallee} {
		caller := newPeer(t, 0, callerHz)
		d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
		require.NoError(t, err)
		callIDs[d.ID()] = who
		e.events.wait(t, EventGuidanceStarted, i+1, 5*time.Second)
		time.Sleep(200 * time.Millisecond)

		sidecar, audio := announcedFiles(t, e.recordDir)
		raw, err := os.ReadFile(sidecar)
		require.NoError(t, err)
		assert.Contains(t, string(raw), `"ended_during_announcement":true`, "the sidecar written at the announcement's start")
		frames, channels, err := testenv.CheckWAV(audio)
		require.NoError(t, err, "the file created at the announcement's start is a valid WAV")
		assert.Zero(t, frames)
		assert.Equal(t, 2, channels)
		if i == 0 {
			for _, p := range []string{sidecar, audio} {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(killedDir, filepath.Base(p)), b, 0o640))
			}
		}
		assert.Equal(t, i, e.events.count(EventGuidanceEnded), "the hang-up must come during the announcement")

		if who == PartyCaller {
			require.NoError(t, d.Hangup(ctx))
		} else {
			require.NoError(t, callee.answeredCall(t).Hangup(ctx))
			caller.waitBye(t, 5*time.Second)
		}
		cdr := e.lastCDR(t, i+1)
		assert.Equal(t, CauseBye, cdr.Cause)
		assert.Equal(t, who, cdr.HungUp)
		assert.True(t, cdr.Recorded, "an announced call has a recording")
		assert.True(t, cdr.EndedDuringAnnouncement)
		assert.NotEmpty(t, cdr.RecordingID)
		assert.False(t, cdr.BillingStart.IsZero())
	}

	// A call that talks past its announcement.
	caller := newPeer(t, 0, callerHz)
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	talked := d.ID()
	e.events.wait(t, EventRecordingStarted, 1, 10*time.Second)
	time.Sleep(time.Second)
	require.NoError(t, d.Hangup(ctx))
	cdr := e.lastCDR(t, 3)
	assert.True(t, cdr.Recorded)
	assert.False(t, cdr.EndedDuringAnnouncement)

	e.events.wait(t, EventDelivered, 3, 15*time.Second)
	assert.Equal(t, 1, e.events.count(EventRecordingStarted), "no recording started for the calls that ended during the announcement")
	marked := 0
	for _, ev := range e.events.wait(t, EventEnqueued, 3, 5*time.Second) {
		if ev.EndedDuringAnnouncement {
			marked++
		}
	}
	assert.Equal(t, 2, marked, "EventEnqueued marks the two empty recordings")

	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 3)
	require.Len(t, metas, 3)
	for _, md := range metas {
		wav := deliveredWAV(t, wavs, md)
		frames, channels, err := testenv.CheckWAV(wav)
		require.NoError(t, err)
		assert.Equal(t, 2, channels)
		raw, err := os.ReadFile(wav)
		require.NoError(t, err)
		sum := sha256.Sum256(raw)
		assert.Equal(t, hex.EncodeToString(sum[:]), md.SHA256)
		if md.CallID == talked {
			assert.False(t, md.EndedDuringAnnouncement)
			assert.Greater(t, frames, int64(4000), "the call talked for 1 s after its announcement")
			heard := readWAV(t, wav)
			for ch := range heard { // the announcement would be at the start
				for at := 0; at+160 <= min(len(heard[ch]), 8000); at += 160 {
					share, ok := toneShareWindow(heard[ch][at:at+160], guidanceHz)
					assert.True(t, !ok || share < 0.5, "channel %d holds the announcement at frame %d (share %.2f)", ch, at, share)
				}
			}
			continue
		}
		require.Contains(t, callIDs, md.CallID)
		assert.True(t, md.EndedDuringAnnouncement, "%s hung up during the announcement", callIDs[md.CallID])
		assert.Zero(t, frames, "nothing of the announcement or of the parties is recorded")
		assert.Zero(t, md.Duration)
		assert.False(t, md.GuidanceStart.IsZero())
		assert.False(t, md.End.IsZero())
	}
	left, err := os.ReadDir(e.recordDir)
	require.NoError(t, err)
	assert.Empty(t, left, "RecordDir is empty")

	// The files of the first call as they were during its announcement:
	// a new instance's recovery delivers them, still marked.
	r := newEnv(t, func(c *Config) { c.RecordDir = killedDir })
	enq := r.events.wait(t, EventEnqueued, 1, 10*time.Second)[0]
	assert.True(t, enq.EndedDuringAnnouncement)
	r.events.wait(t, EventDelivered, 1, 10*time.Second)
	wavs, metas = r.delivered(t)
	require.Len(t, wavs, 1)
	require.Len(t, metas, 1)
	assert.True(t, metas[0].EndedDuringAnnouncement)
	frames, _, err := testenv.CheckWAV(wavs[0])
	require.NoError(t, err)
	assert.Zero(t, frames)
	left, err = os.ReadDir(killedDir)
	require.NoError(t, err)
	assert.Empty(t, left, "recovery leaves nothing behind")
}

// deliveredWAV returns the delivered audio of md, which the destination
// names by Call-ID.
func deliveredWAV(t testing.TB, wavs []string, md delivery.Metadata) string {
	t.Helper()
	for _, w := range wavs {
		if strings.HasPrefix(filepath.Base(w), md.BaseName()) {
			return w
		}
	}
	t.Fatalf("no audio delivered for %s in %v", md.CallID, wavs)
	return ""
}

// TestAnnouncedMetadataJSON: the mark is snake_case in the metadata JSON
// and left out when false.
func TestAnnouncedMetadataJSON(t *testing.T) {
	raw, err := json.Marshal(delivery.Metadata{ID: "x", EndedDuringAnnouncement: true})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"ended_during_announcement":true`)
	raw, err = json.Marshal(delivery.Metadata{ID: "x"})
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "ended_during_announcement")
}
