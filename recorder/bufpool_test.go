package recorder_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

// TestBufferPoolSameFile records the same four seconds of audio (sixteen
// full output buffers) into a recording with its own buffers and into two
// recordings sharing a pool, fed in turn, and checks that the three files
// are identical and their hashes right.
func TestBufferPoolSameFile(t *testing.T) {
	dir := t.TempDir()
	var pool recorder.BufferPool
	cfgs := []recorder.Config{
		{Path: filepath.Join(dir, "own.wav")},
		{Path: filepath.Join(dir, "pooled1.wav"), Buffers: &pool},
		{Path: filepath.Join(dir, "pooled2.wav"), Buffers: &pool},
	}
	raw := [2][]byte{marshal(t, newTone(440, 1).Next()), marshal(t, newTone(1000, 1).Next())}
	recs := make([]*recorder.Recording, len(cfgs))
	for i, cfg := range cfgs {
		cfg.Clock = func() time.Time { return t0.Add(4 * time.Second) }
		cfg.Start = t0
		rec, err := recorder.New(cfg)
		require.NoError(t, err)
		recs[i] = rec
	}
	// A second at a time, so that the pooled recordings' writes alternate.
	for sec := range 4 {
		for _, rec := range recs {
			feedFrom(t, rec, raw, sec*50, 50)
		}
	}
	var files [][]byte
	for i, rec := range recs {
		res, err := rec.Close(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 200, res.Caller.Decoded)
		assert.Equal(t, 4*time.Second, res.Duration)
		b, err := os.ReadFile(cfgs[i].Path)
		require.NoError(t, err)
		assert.Equal(t, sha256Hex(b), res.SHA256, cfgs[i].Path)
		files = append(files, b)
	}
	assert.True(t, bytes.Equal(files[0], files[1]), "pooled recording differs from one with its own buffers")
	assert.True(t, bytes.Equal(files[0], files[2]), "second pooled recording differs")
}

// TestBufferPoolSavesMemory holds 500 active recordings with their own
// buffers and 500 sharing a pool, and checks that the pooled ones keep at
// least 6 KiB less each: one 8 KiB buffer instead of two.
func TestBufferPoolSavesMemory(t *testing.T) {
	const n = 500
	raw := [2][]byte{marshal(t, newTone(440, 1).Next()), marshal(t, newTone(1000, 1).Next())}
	per := func(pool *recorder.BufferPool) int64 {
		recs := make([]*recorder.Recording, n)
		before := heapAlloc()
		for i := range recs {
			rec, err := recorder.New(recorder.Config{Writer: &recordertest.Discard{}, Clock: func() time.Time { return t0 }, Buffers: pool})
			require.NoError(t, err)
			feed(t, rec, raw, 50)
			recs[i] = rec
		}
		after := heapAlloc()
		for _, rec := range recs {
			res, err := rec.Close(context.Background())
			require.NoError(t, err)
			require.EqualValues(t, 50, res.Caller.Decoded)
		}
		runtime.KeepAlive(recs)
		return (int64(after) - int64(before)) / n
	}
	own := per(nil)
	pooled := per(new(recorder.BufferPool))
	t.Logf("active recording: %d B with its own buffers, %d B with a pool", own, pooled)
	assert.GreaterOrEqual(t, own-pooled, int64(6<<10))
	assert.LessOrEqual(t, own, int64(maxPerRecording))
	assert.LessOrEqual(t, pooled, int64(maxPerPooledRecording))
}

// feedFrom writes n 20 ms packets on each leg of rec, the first numbered
// from, reusing raw.
func feedFrom(t testing.TB, rec *recorder.Recording, raw [2][]byte, from, n int) {
	for i := from; i < from+n; i++ {
		for side, leg := range []*recorder.Leg{rec.Caller(), rec.Callee()} {
			p := raw[side]
			binary.BigEndian.PutUint16(p[2:], uint16(i))
			binary.BigEndian.PutUint32(p[4:], uint32(i)*packetSamples)
			require.NoError(t, leg.Write(p, t0.Add(time.Duration(i)*20*time.Millisecond)))
		}
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
