package sipadapter

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/callrec/callrec/recorder"
)

// fullingFile is a recording file on a disk that fills after limit bytes:
// the write crossing the limit writes what fits and fails with ENOSPC, as
// write(2) does, and so does every later one.
type fullingFile struct {
	*os.File
	limit    int64
	failedAt atomic.Int64 // unix nanos of the first failure
}

func (f *fullingFile) Write(p []byte) (int, error) {
	off, err := f.File.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if room := f.limit - off; int64(len(p)) > room {
		n, _ := f.File.Write(p[:max(room, 0)])
		f.failedAt.CompareAndSwap(0, time.Now().UnixNano())
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

// heardBetween counts the packets p received in [from, to].
func heardBetween(p *peer, from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, at := range p.heardAt {
		if !at.Before(from) && !at.After(to) {
			n++
		}
	}
	return n
}

// TestMidCallWriteFailureTruncates: the recording's disk fills one second
// into the recording. The call goes on, media relayed both ways; at its
// end the recording is closed at its last good frame (a valid WAV whose
// sizes match its length, decoded whole), marked truncated with reason
// no_space in its metadata and its CDR, delivered exactly once, and the
// record directory is left empty.
func TestMidCallWriteFailureTruncates(t *testing.T) {
	var file *fullingFile
	var mu sync.Mutex
	// One second of stereo after the header, and an odd remainder: the
	// failing write is cut mid-frame.
	const limit = recorder.HeaderSize + StereoBytesPerSecond + 777
	e := newEnv(t, func(c *Config) {
		c.recordWriter = func(path string) (io.WriteSeeker, error) {
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { _ = f.Close() })
			mu.Lock()
			defer mu.Unlock()
			file = &fullingFile{File: f, limit: limit}
			return file, nil
		}
	})
	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	mu.Lock()
	f := file
	mu.Unlock()
	require.NotNil(t, f)
	require.Eventually(t, func() bool { return f.failedAt.Load() != 0 }, 10*time.Second, 20*time.Millisecond,
		"the disk fills mid-call")
	failed := time.Unix(0, f.failedAt.Load())
	time.Sleep(1500 * time.Millisecond)
	after := time.Now()
	require.NoError(t, d.Hangup(ctx))
	e.events.wait(t, EventDelivered, 1, 15*time.Second)

	// The call went on: 1.5 s after the failure is 75 packets each way.
	toCallee, toCaller := heardBetween(callee, failed, after), heardBetween(caller, failed, after)
	t.Logf("relayed in the 1.5 s after the disk filled: %d to the callee, %d to the caller", toCallee, toCaller)
	assert.Greater(t, toCallee, 40)
	assert.Greater(t, toCaller, 40)

	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1, "delivered exactly once")
	require.Len(t, metas, 1)
	md := metas[0]
	assert.True(t, md.Truncated)
	assert.Equal(t, recorder.ReasonNoSpace, md.TruncatedReason)
	frames, channels, err := testenv.CheckWAV(wavs[0])
	require.NoError(t, err)
	assert.Equal(t, 2, channels)
	data := frames * 4
	assert.LessOrEqual(t, data, int64(limit-recorder.HeaderSize), "nothing past the failure")
	assert.Greater(t, data, int64(limit-recorder.HeaderSize-8<<10-4), "at most one write buffer lost")
	assert.Equal(t, (time.Duration(frames) * time.Second / recorder.SampleRate).Milliseconds(), md.Duration.Milliseconds(),
		"the metadata's duration is the audio written")
	raw, err := os.ReadFile(wavs[0])
	require.NoError(t, err)
	assert.EqualValues(t, len(raw), md.Size)
	ch := readWAV(t, wavs[0])
	share, windows := toneShare(ch[0], callerHz)
	assert.Greater(t, share, 0.8, "the caller's tone up to the cut (%d windows)", windows)

	cdr := e.lastCDR(t, 1)
	assert.True(t, cdr.RecordingTruncated)
	assert.Equal(t, recorder.ReasonNoSpace, cdr.TruncatedReason)
	assert.Equal(t, md.ID, cdr.RecordingID)
	assert.Equal(t, CauseBye, cdr.Cause)
	left, err := os.ReadDir(e.recordDir)
	require.NoError(t, err)
	assert.Empty(t, left, "record directory empty")
}

// TestMidCallDiskFullOnTmpfs fills a real tmpfs mid-call: no recording
// reserve, and ballast leaving room for about 2 s of one stereo call. The
// recording's write fails with ENOSPC while the call goes on; when space
// returns (the ballast goes) the recording, truncated at its last good
// frame, is delivered once without a restart, marked no_space, and the
// record directory and spool are empty.
func TestMidCallDiskFullOnTmpfs(t *testing.T) {
	fs := testenv.TmpfsDir(t, 8<<20)
	recDir, spoolDir := filepath.Join(fs, "rec"), filepath.Join(fs, "spool")
	require.NoError(t, os.MkdirAll(recDir, 0o750))
	var q *delivery.Queue
	dest := filepath.Join(t.TempDir(), "dest")
	e := newEnv(t, func(c *Config) {
		sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dest})
		require.NoError(t, err)
		q, err = delivery.New(delivery.Config{Dir: spoolDir, Sink: NotifySink(sink, c.Events)})
		require.NoError(t, err)
		require.NoError(t, q.Start())
		t.Cleanup(func() { _ = q.Close() })
		c.Delivery, c.RecordDir = q, recDir
		c.RecordingReserve = -1 // the disk really fills
		c.StrandedRetry = 300 * time.Millisecond
	})
	e.dest = dest
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(fs, &st))
	const leave = 64 << 10 // 2 s of stereo
	ballast := filepath.Join(fs, "ballast")
	require.NoError(t, os.WriteFile(ballast, make([]byte, int64(st.Bavail)*st.Bsize-leave), 0o600))

	callee := newPeer(t, int(e.outsideHop.Port()), calleeHz)
	caller := newPeer(t, 0, callerHz)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := caller.call(ctx, e.b.Addr(Inside), "0077270312345678")
	require.NoError(t, err)
	e.events.wait(t, EventRecordingStarted, 1, 5*time.Second)
	audio := ""
	for _, ev := range e.events.snapshot() {
		if ev.Kind == EventRecordingStarted {
			audio = ev.Path
		}
	}
	// The file stops growing once the disk is full.
	var size int64
	require.Eventually(t, func() bool {
		require.NoError(t, syscall.Statfs(fs, &st))
		fi, err := os.Stat(audio)
		if err != nil {
			return false
		}
		grew := fi.Size() != size
		size = fi.Size()
		return st.Bavail == 0 && !grew
	}, 15*time.Second, 500*time.Millisecond, "the tmpfs fills mid-call")
	t.Logf("disk full with the recording at %d bytes", size)
	full := time.Now()
	time.Sleep(time.Second)
	toCallee := heardBetween(callee, full, time.Now())
	assert.Greater(t, toCallee, 25, "the call goes on with the disk full")
	require.NoError(t, d.Hangup(ctx))
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, os.Remove(ballast))
	e.events.wait(t, EventDelivered, 1, 20*time.Second)

	cdr := e.lastCDR(t, 1)
	assert.True(t, cdr.RecordingTruncated)
	assert.Equal(t, recorder.ReasonNoSpace, cdr.TruncatedReason)
	wavs, metas := e.delivered(t)
	require.Len(t, wavs, 1, "delivered exactly once")
	require.Len(t, metas, 1)
	assert.True(t, metas[0].Truncated)
	assert.Equal(t, recorder.ReasonNoSpace, metas[0].TruncatedReason)
	assert.Equal(t, metas[0].ID, cdr.RecordingID)
	frames, _, err := testenv.CheckWAV(wavs[0])
	require.NoError(t, err)
	assert.LessOrEqual(t, recorder.HeaderSize+4*frames, size, "nothing past the last good frame")
	assert.Positive(t, frames)
	assert.Equal(t, (time.Duration(frames) * time.Second / recorder.SampleRate).Milliseconds(), metas[0].Duration.Milliseconds())
	t.Logf("delivered truncated recording: %v of audio", metas[0].Duration)
	require.Eventually(t, func() bool {
		left, err := os.ReadDir(recDir)
		return err == nil && len(left) == 0 && q.Stats().Queued == 0
	}, 10*time.Second, 50*time.Millisecond, "record directory and spool empty")
}
