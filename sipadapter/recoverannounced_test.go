package sipadapter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashAfterEnqueue is a Delivery that copies, at each Enqueue, the
// recording's sidecar as it is on disk into dir: what a kill right after
// that Enqueue (before the sidecar's removal) would leave in RecordDir.
type crashAfterEnqueue struct {
	Delivery
	recordDir, dir string

	mu       sync.Mutex
	sidecars []delivery.Metadata // as on disk at each Enqueue
}

func (d *crashAfterEnqueue) Enqueue(ctx context.Context, rec delivery.Recording) error {
	name := rec.Metadata.ID + partialExt
	raw, err := os.ReadFile(filepath.Join(d.recordDir, name))
	if err != nil {
		return err
	}
	var md delivery.Metadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.dir, name), raw, 0o640); err != nil {
		return err
	}
	d.mu.Lock()
	d.sidecars = append(d.sidecars, md)
	d.mu.Unlock()
	return d.Delivery.Enqueue(ctx, rec)
}

// TestRecoveryCreatesUnopenedAnnouncedRecording: a kill between the
// sidecar written at an announcement's start and the creation of its WAV
// file leaves a marked sidecar without End and without audio; the next
// start delivers that call's recording, empty and marked, instead of
// removing the sidecar. A marked sidecar with its End (written before
// every Enqueue: by recovery here, by the hang-up path of a live call)
// and without audio is a recording already enqueued: a kill right after
// any of these Enqueues leaves only such sidecars, and the next start
// delivers none of them again.
func TestRecoveryCreatesUnopenedAnnouncedRecording(t *testing.T) {
	recordDir, afterCrash := t.TempDir(), t.TempDir()
	billing := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	base := delivery.Metadata{
		Direction: delivery.Outgoing, Caller: lineFixed, Callee: "0312345678", Start: billing.Add(-2 * time.Second),
		Answer: billing, GuidanceStart: billing, Channels: 1, AudioExt: audioExt, EndedDuringAnnouncement: true,
	}
	write := func(id, callID string, mutate func(*delivery.Metadata)) delivery.Metadata {
		md := base
		md.ID, md.CallID = id, callID
		if mutate != nil {
			mutate(&md)
		}
		require.NoError(t, writeSidecar(filepath.Join(recordDir, id+partialExt), md))
		return md
	}
	// Killed between the sidecar and the WAV: the announcement's start
	// (the billing start) is on disk, the recording is not.
	unopened := write("20261206T060000.000Z-00000000aaaa", "unopened@pbx", nil)
	require.NoError(t, os.Chtimes(filepath.Join(recordDir, unopened.ID+partialExt), billing, billing))
	// Killed during the announcement: sidecar and header-only WAV.
	during := write("20261206T060001.000Z-00000000bbbb", "during@pbx", func(md *delivery.Metadata) { md.Channels = 2 })
	require.NoError(t, os.WriteFile(filepath.Join(recordDir, during.ID+audioExt), emptyWAV(2), 0o640))
	// Hung up during the announcement and enqueued, killed before the
	// sidecar's removal: its End is in the sidecar, its audio in the spool.
	write("20261206T060002.000Z-00000000cccc", "enqueued@pbx", func(md *delivery.Metadata) { md.End = billing.Add(time.Second) })

	e := newEnv(t, func(c *Config) {
		c.RecordDir = recordDir
		c.Delivery = &crashAfterEnqueue{Delivery: c.Delivery, recordDir: recordDir, dir: afterCrash}
	})
	e.events.wait(t, EventDelivered, 2, 10*time.Second)
	wavs, metas := e.delivered(t)
	require.Len(t, metas, 2, "the unopened and the killed-during recordings, not the enqueued one")
	require.Len(t, wavs, 2)
	for _, md := range metas {
		assert.True(t, md.EndedDuringAnnouncement, md.CallID)
		assert.Contains(t, []string{unopened.ID, during.ID}, md.ID)
		frames, channels, err := testenv.CheckWAV(deliveredWAV(t, wavs, md))
		require.NoError(t, err, md.CallID)
		assert.Zero(t, frames, md.CallID)
		if md.ID == unopened.ID {
			assert.Equal(t, 1, channels, "mono, as the sidecar says")
			assert.True(t, md.End.Equal(billing), "End is when the sidecar was written: %v", md.End)
			assert.True(t, md.GuidanceStart.Equal(billing))
		}
	}
	left, err := os.ReadDir(recordDir)
	require.NoError(t, err)
	assert.Empty(t, left, "recovery leaves nothing behind")

	// A call hung up during its announcement, enqueued by the live path.
	e.close()
	live := newEnv(t, func(c *Config) {
		longAnnouncement(t)(c)
		c.Delivery = &crashAfterEnqueue{Delivery: c.Delivery, recordDir: c.RecordDir, dir: afterCrash}
	})
	callee := newPeer(t, int(live.outsideHop.Port()), calleeHz)
	defer callee.close()
	caller := newPeer(t, 0, callerHz)
	defer caller.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := caller.call(ctx, live.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	live.events.wait(t, EventGuidanceStarted, 1, 5*time.Second)
	require.Zero(t, live.events.count(EventGuidanceEnded), "the hang-up comes during the announcement")
	require.NoError(t, d.Hangup(ctx))
	live.events.wait(t, EventDelivered, 1, 10*time.Second)

	var sidecars []delivery.Metadata
	for _, dl := range []Delivery{e.cfg.Delivery, live.cfg.Delivery} {
		c := dl.(*crashAfterEnqueue)
		c.mu.Lock()
		sidecars = append(sidecars, c.sidecars...)
		c.mu.Unlock()
	}
	require.Len(t, sidecars, 3, "two recovered, one live")
	for _, md := range sidecars {
		assert.True(t, md.EndedDuringAnnouncement, md.CallID)
		assert.False(t, md.End.IsZero(), "%s: the sidecar holds End when its recording is enqueued", md.CallID)
	}

	// A kill right after each of those Enqueues: nothing is delivered twice.
	again := newEnv(t, func(c *Config) { c.RecordDir = afterCrash })
	select {
	case <-again.b.ready: // recovery is over before the listeners start
	case <-time.After(10 * time.Second):
		t.Fatal("not serving")
	}
	assert.Zero(t, again.events.count(EventEnqueued), "no recording enqueued twice")
	left, err = os.ReadDir(afterCrash)
	require.NoError(t, err)
	assert.Empty(t, left, "the sidecars of enqueued recordings are removed")
}
