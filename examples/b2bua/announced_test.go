package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
)

// TestEndedDuringAnnouncementMetric: the recordings marked
// ended_during_announcement are counted once the spool accepts them, and
// only those.
func TestEndedDuringAnnouncementMetric(t *testing.T) {
	dir := t.TempDir()
	m := newMetrics(func() (int, int) { return 0, 0 }, func() (delivery.DiskSpace, error) { return delivery.DiskSpace{}, nil })
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(dir, "spool"), Sink: delivery.SinkFunc(nil)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	d := countingDelivery{q: q, m: m}
	for i, md := range []delivery.Metadata{
		{CallID: "a", EndedDuringAnnouncement: true},
		{CallID: "b"},
		{CallID: "c", EndedDuringAnnouncement: true},
	} {
		audio := filepath.Join(dir, md.CallID+".wav")
		require.NoError(t, os.WriteFile(audio, []byte("RIFF"), 0o600), "%d", i)
		require.NoError(t, d.Enqueue(t.Context(), delivery.Recording{AudioPath: audio, Metadata: md}))
	}
	// A refused one is not counted.
	require.Error(t, d.Enqueue(t.Context(), delivery.Recording{AudioPath: filepath.Join(dir, "missing.wav"),
		Metadata: delivery.Metadata{CallID: "d", EndedDuringAnnouncement: true}}))
	assert.InDelta(t, 2, testutil.ToFloat64(m.recAnnounced), 0)
}
