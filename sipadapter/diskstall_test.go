package sipadapter

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stallingFile is a recording file whose first write after arm blocks for
// stall: a disk frozen mid-call.
type stallingFile struct {
	*os.File
	stall   time.Duration
	armed   atomic.Bool
	once    sync.Once
	stalled atomic.Int64 // unix nanos the stall ended; 0 before
}

func (f *stallingFile) Write(p []byte) (int, error) {
	if f.armed.Load() {
		f.once.Do(func() {
			time.Sleep(f.stall)
			f.stalled.Store(time.Now().UnixNano())
		})
	}
	return f.File.Write(p)
}

// maxGap is the longest silence between packets p received in [from, to].
func maxGap(p *peer, from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gap time.Duration
	var last time.Time
	for _, at := range p.heardAt {
		if at.Before(from) || at.After(to) {
			continue
		}
		if !last.IsZero() && at.Sub(last) > gap {
			gap = at.Sub(last)
		}
		last = at
	}
	return gap
}

// TestDiskStallDoesNotStallMedia: the recording's file blocks for 2 s
// mid-call. Relaying goes on in both directions without a gap anywhere
// near the stall, and the recording afterwards holds every packet relayed
// after the guidance, or reports exactly how many it lost.
func TestDiskStallDoesNotStallMedia(t *testing.T) {
	var file *stallingFile
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.recordWriter = func(path string) (io.WriteSeeker, error) {
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { _ = f.Close() })
			mu.Lock()
			defer mu.Unlock()
			file = &stallingFile{File: f, stall: 2 * time.Second}
			return file, nil
		}
	})
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	from := time.Now()
	mu.Lock()
	f := file
	mu.Unlock()
	require.NotNil(t, f)
	f.armed.Store(true)
	time.Sleep(3500 * time.Millisecond)
	to := time.Now()
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 15*time.Second)

	require.NotZero(t, f.stalled.Load(), "the recording wrote during the call, and stalled")
	stallEnd := time.Unix(0, f.stalled.Load())
	assert.True(t, stallEnd.Before(to), "the stall ended during the call")
	gapCallee, gapCaller := maxGap(callee, from, to), maxGap(caller, from, to)
	t.Logf("largest gap while the disk stalled 2 s: %v toward the callee, %v toward the caller", gapCallee, gapCaller)
	// The stall is 2 s: a gap anywhere near it means the relay waited for
	// the disk. The wide margin covers a shared, loaded test machine (the
	// senders' own 20 ms pacing stutters there); on a quiet one the gap
	// stays at the 40 ms of two packet intervals.
	assert.Less(t, gapCallee, time.Second)
	assert.Less(t, gapCaller, time.Second)

	_, metas := e.delivered(t)
	require.Len(t, metas, 1)
	var stats RecorderStats
	require.NoError(t, json.Unmarshal(metas[0].RecorderStats, &stats))
	toCallee, toCaller := heardAfterGuidance(callee, callerHz), heardAfterGuidance(caller, calleeHz)
	t.Logf("relayed after the guidance: %d / %d; recorded %d / %d, lost to the recording %d / %d",
		toCallee, toCaller, stats.Caller.Received, stats.Callee.Received, stats.CallerDropped, stats.CalleeDropped)
	assert.Greater(t, toCallee, 150)
	assert.EqualValues(t, toCallee, stats.Caller.Received+stats.CallerDropped, "every caller packet recorded or reported lost")
	assert.EqualValues(t, toCaller, stats.Callee.Received+stats.CalleeDropped, "every callee packet recorded or reported lost")
	assert.Zero(t, stats.CallerDropped+stats.CalleeDropped, "the queue absorbs a 2 s stall")
}
