package sipadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
)

// fullSpool refuses the first fail Enqueues as a full spool does.
type fullSpool struct {
	next  Delivery
	fail  atomic.Int32
	tries atomic.Int32
}

func (f *fullSpool) Enqueue(ctx context.Context, rec delivery.Recording) error {
	f.tries.Add(1)
	if f.fail.Add(-1) >= 0 {
		return fmt.Errorf("%w: test", delivery.ErrSpoolFull)
	}
	return f.next.Enqueue(ctx, rec)
}

// TestStrandedRecordingRetriedWhileRunning: a recording whose Enqueue
// failed is counted as stranded, retried every StrandedRetry without a
// restart, and delivered; RecordDir then empties.
func TestStrandedRecordingRetriedWhileRunning(t *testing.T) {
	spool := &fullSpool{}
	spool.fail.Store(2)
	e := newEnv(t, func(c *Config) {
		spool.next = c.Delivery
		c.Delivery = spool
		c.StrandedRetry = 300 * time.Millisecond
	})
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventEnded, 1, 5*time.Second)
	require.Eventually(t, func() bool { n, _ := e.b.Stranded(); return n == 1 }, 5*time.Second, 5*time.Millisecond)
	// The sidecar a restart would recover from has the final metadata,
	// written when Enqueue failed (the first retry is 300 ms away).
	side := sidecarsIn(t, e.recordDir)
	require.Len(t, side, 1)
	assert.False(t, side[0].End.IsZero(), "end of call")
	assert.NotEmpty(t, side[0].RecorderStats, "recorder statistics")
	assert.False(t, side[0].EndedDuringAnnouncement)
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	n, age := e.b.Stranded()
	assert.Zero(t, n)
	assert.Zero(t, age)
	assert.GreaterOrEqual(t, spool.tries.Load(), int32(3), "the first Enqueue and two retries")
	left, err := os.ReadDir(e.recordDir)
	require.NoError(t, err)
	assert.Empty(t, left, "RecordDir empties without a restart")
	_, metas := e.delivered(t)
	require.Len(t, metas, 1)
}

// sidecarsIn returns the metadata of the sidecars in dir.
func sidecarsIn(t *testing.T, dir string) []delivery.Metadata {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var mds []delivery.Metadata
	for _, e := range ents {
		if filepath.Ext(e.Name()) != partialExt || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		var md delivery.Metadata
		require.NoError(t, json.Unmarshal(raw, &md))
		mds = append(mds, md)
	}
	return mds
}
