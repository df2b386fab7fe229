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

// TestTruncatedRecordingsMetric: a recording the B2BUA marked truncated
// is counted by reason when the spool takes it, once; others are not.
func TestTruncatedRecordingsMetric(t *testing.T) {
	dir := t.TempDir()
	m := newMetrics(func() (int, int) { return 0, 0 }, func() (delivery.DiskSpace, error) { return delivery.DiskSpace{}, nil })
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(dir, "spool"), Sink: delivery.SinkFunc(nil)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	d := countingDelivery{q: q, m: m}
	for i, md := range []delivery.Metadata{
		{CallID: "a", Truncated: true, TruncatedReason: "no_space"},
		{CallID: "b"},
		{CallID: "c", Truncated: true, TruncatedReason: "io_error"},
		{CallID: "d", Truncated: true, TruncatedReason: "no_space"},
	} {
		audio := filepath.Join(dir, md.CallID+".wav")
		require.NoError(t, os.WriteFile(audio, []byte("RIFF"), 0o600), "%d", i)
		require.NoError(t, d.Enqueue(t.Context(), delivery.Recording{AudioPath: audio, Metadata: md}))
	}
	assert.InDelta(t, 2, testutil.ToFloat64(m.recTruncated.WithLabelValues("no_space")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(m.recTruncated.WithLabelValues("io_error")), 0)
	assert.Equal(t, 2, testutil.CollectAndCount(m.recTruncated, "callrec_recordings_truncated_total"))
}
