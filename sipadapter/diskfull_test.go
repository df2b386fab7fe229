package sipadapter

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/sipua"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDiskFullOnTmpfs records onto a real 30 MiB tmpfs nearly filled by
// ballast: the recording reserve refuses calls with 503 before the disk is
// full, every call that heard the announcement is recorded and delivered,
// and once the ballast is gone calls are recorded again and the record
// directory and spool empty, without a restart.
func TestDiskFullOnTmpfs(t *testing.T) {
	fs := testenv.TmpfsDir(t, 30<<20)
	recDir, spoolDir, dest := filepath.Join(fs, "rec"), filepath.Join(fs, "spool"), filepath.Join(t.TempDir(), "dest")
	require.NoError(t, os.MkdirAll(recDir, 0o750))
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(fs, &st))
	const leave = 8 << 20 // room for four calls' reserve of 1.92 MB
	ballast := filepath.Join(fs, "ballast")
	require.NoError(t, os.WriteFile(ballast, make([]byte, int64(st.Bavail)*st.Bsize-leave), 0o600))

	var q *delivery.Queue
	e := newEnv(t, func(c *Config) {
		sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dest})
		require.NoError(t, err)
		q, err = delivery.New(delivery.Config{Dir: spoolDir, Sink: NotifySink(sink, c.Events)})
		require.NoError(t, err)
		require.NoError(t, q.Start())
		t.Cleanup(func() { _ = q.Close() })
		c.Delivery, c.SpoolFree, c.RecordDir = q, nil, recDir
		c.RecordingReserve = time.Minute
		c.StrandedRetry = 500 * time.Millisecond
	})
	newPeer(t, int(e.outsideHop.Port()), calleeHz)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	round := func(n int) (answered []*sipua.Call, refused int) {
		for range n {
			d, err := newPeer(t, 0, callerHz).call(ctx, e.b.Addr(Inside), "0077270312345678")
			if err != nil {
				require.Equal(t, 503, failureResponse(t, err).StatusCode)
				refused++
				continue
			}
			answered = append(answered, d)
		}
		return answered, refused
	}
	answered, refused := round(8)
	t.Logf("disk nearly full: %d calls answered, %d refused with 503", len(answered), refused)
	assert.Positive(t, refused, "calls are refused before the disk is full")
	assert.Positive(t, len(answered))
	e.events.wait(t, EventRecordingStarted, len(answered), 10*time.Second)
	time.Sleep(time.Second)
	for _, d := range answered {
		require.NoError(t, d.Hangup(ctx))
	}
	first := len(answered)
	e.events.wait(t, EventDelivered, first, 20*time.Second)

	require.NoError(t, os.Remove(ballast))
	answered, refused = round(4)
	assert.Zero(t, refused, "space returned: calls are recorded again")
	e.events.wait(t, EventRecordingStarted, first+len(answered), 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	for _, d := range answered {
		require.NoError(t, d.Hangup(ctx))
	}
	e.events.wait(t, EventDelivered, first+len(answered), 20*time.Second)

	announced, delivered := map[string]bool{}, map[string]int{}
	for _, ev := range e.events.snapshot() {
		switch ev.Kind {
		case EventGuidanceStarted:
			announced[ev.CallID] = true
		case EventDelivered:
			delivered[ev.CallID]++
		}
	}
	for id := range announced {
		assert.Equal(t, 1, delivered[id], "announced call %s: delivered once", id)
	}
	require.Eventually(t, func() bool {
		left, err := os.ReadDir(recDir)
		return err == nil && len(left) == 0 && q.Stats().Queued == 0
	}, 10*time.Second, 50*time.Millisecond, "record directory and spool empty")
	n, _ := e.b.Stranded()
	assert.Zero(t, n)
}
