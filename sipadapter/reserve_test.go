package sipadapter

import (
	"context"
	"testing"
	"time"

	"github.com/callrec/callrec/internal/sipua"
	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecordingReserveRefusesBeforeDiskFull: with free space for two
// recorded calls' reserve, the third gets 503 with Retry-After before any
// announcement, and is admitted again once a call ends.
func TestRecordingReserveRefusesBeforeDiskFull(t *testing.T) {
	const reserve = time.Minute // 1.92 MB a call
	free := uint64(minSpoolFreeForTest + 2*reserve.Seconds()*StereoBytesPerSecond + 1000)
	e := newEnv(t, func(c *Config) {
		c.RecordingReserve = reserve
		c.MinSpoolFree = minSpoolFreeForTest
		c.SpoolFree = func() (uint64, error) { return free, nil }
	})
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var calls []*sipua.Call
	for range 2 {
		d, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
		require.NoError(t, err)
		calls = append(calls, d)
	}
	e.events.wait(t, EventRecordingStarted, 2, 5*time.Second)
	_, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	res := failureResponse(t, err)
	assert.Equal(t, sip.StatusServiceUnavailable, res.StatusCode)
	assert.NotNil(t, res.GetHeader("Retry-After"))
	assert.Equal(t, 2, e.events.count(EventGuidanceStarted), "the refused call heard no announcement")

	require.NoError(t, calls[0].Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 10*time.Second)
	d, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err, "admitted again once a recorded call ended")
	e.events.wait(t, EventRecordingStarted, 3, 5*time.Second)
	require.NoError(t, d.Hangup(ctx))
	require.NoError(t, calls[1].Hangup(ctx))
	e.events.wait(t, EventDelivered, 3, 10*time.Second)
}

// minSpoolFreeForTest is the MinSpoolFree the reserve comes on top of.
const minSpoolFreeForTest = 1 << 20
