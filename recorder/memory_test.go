package recorder_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/go-audio/wav"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

// maxPerRecording is the memory budget of one active recording with its
// own buffers: the 60 ms jitter ring (5,760 B), two 8 KiB output buffers
// and the Recording (24.0 KB measured); maxPerPooledRecording is one
// sharing a BufferPool, which keeps one output buffer (15.9 KB measured).
const (
	maxPerRecording       = 26 << 10
	maxPerPooledRecording = 17 << 10
)

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestOneHourCallMemory records a one-hour stereo call to a file and checks
// that the heap after an hour is what it was after a minute, and that the
// file, decoded, has exactly an hour of audio with each party on its own
// channel from the first minute to the last second.
func TestOneHourCallMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("records an hour of audio")
	}
	path := filepath.Join(t.TempDir(), "hour.wav")
	clk := newClock()
	rec, err := recorder.New(recorder.Config{Path: path, Clock: clk.Now})
	require.NoError(t, err)

	// One second of each tone is 50 packets that repeat exactly.
	var payloads [2][50][]byte
	for side, g := range []*recordertest.Tone{newTone(440, 7), newTone(1000, 7)} {
		for i := range payloads[side] {
			payloads[side][i] = g.Next().Payload
		}
	}
	raw := [2][]byte{marshal(t, newTone(440, 7).Next()), marshal(t, newTone(1000, 7).Next())}
	legs := [2]*recorder.Leg{rec.Caller(), rec.Callee()}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			for side, leg := range legs {
				p := raw[side]
				binary.BigEndian.PutUint16(p[2:], uint16(i))
				binary.BigEndian.PutUint32(p[4:], uint32(i*packetSamples))
				copy(p[12:], payloads[side][i%50])
				if err := leg.Write(p, at(time.Duration(i)*20*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	const minute = 60 * 50
	send(0, minute)
	afterMinute := heapAlloc()
	send(minute, 60*minute)
	afterHour := heapAlloc()
	t.Logf("heap after 1 min %d B, after 60 min %d B", afterMinute, afterHour)
	assert.Less(t, int64(afterHour)-int64(afterMinute), int64(16<<10), "heap grows with the call's length")

	clk.Set(at(time.Hour))
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	assert.Equal(t, time.Hour, res.Duration)
	assert.EqualValues(t, recorder.HeaderSize+time.Hour.Seconds()*recorder.SampleRate*4, res.Size)
	for _, s := range []recorder.Stats{res.Caller, res.Callee} {
		assert.EqualValues(t, 60*minute, s.Decoded)
		assert.Zero(t, s.Lost+s.Late+s.Reanchors+s.SSRCChanges, "sequence numbers wrapped %d times", 60*minute/65536)
	}
	checkHourFile(t, path, res)
}

// checkHourFile checks the one-hour stereo file at path: go-audio/wav reads
// its format and length, and the first second of every minute and the last
// second carry the caller's 440 Hz on the left only and the callee's 1 kHz on
// the right only. Decoding 115 MB whole would take more memory than the
// test is about, so the seconds are read in place.
func checkHourFile(t *testing.T, path string, res recorder.Result) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(h.Sum(nil)), res.SHA256)

	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	d := wav.NewDecoder(f)
	require.True(t, d.IsValidFile(), "go-audio/wav rejects the file")
	require.NoError(t, d.FwdToPCM())
	assert.EqualValues(t, 2, d.NumChans)
	assert.EqualValues(t, recorder.SampleRate, d.SampleRate)
	assert.EqualValues(t, 16, d.BitDepth)
	dur, err := d.Duration()
	require.NoError(t, err)
	assert.InDelta(t, time.Hour, dur, float64(2*time.Millisecond), "go-audio/wav rounds through a float")
	assert.EqualValues(t, time.Hour.Seconds()*recorder.SampleRate*4, d.PCMLen())

	const frameBytes = 4
	buf := make([]byte, recorder.SampleRate*frameBytes)
	second := func(at time.Duration) recordertest.Audio {
		off := recorder.HeaderSize + int64(at/time.Second)*int64(len(buf))
		_, err := f.ReadAt(buf, off)
		require.NoError(t, err, "second at %v", at)
		a := recordertest.Audio{SampleRate: recorder.SampleRate, Channels: make([][]float64, 2)}
		for i := 0; i < len(buf); i += frameBytes {
			a.Channels[0] = append(a.Channels[0], float64(int16(binary.LittleEndian.Uint16(buf[i:]))))
			a.Channels[1] = append(a.Channels[1], float64(int16(binary.LittleEndian.Uint16(buf[i+2:]))))
		}
		return a
	}
	for at := time.Duration(0); at <= time.Hour-time.Second; at += time.Minute {
		if at == time.Hour-time.Minute {
			at = time.Hour - time.Second
		}
		a := second(at)
		require.NoError(t, recordertest.CheckTone(a, left, 0, time.Second, 440, 1000), "left at %v", at)
		require.NoError(t, recordertest.CheckTone(a, right, 0, time.Second, 1000, 440), "right at %v", at)
	}
}

// TestThousandRecordingsMemory holds 1,000 active recordings, each fed a
// second of audio on both legs, and checks the heap they take.
func TestThousandRecordingsMemory(t *testing.T) {
	const n = 1000
	raw := [2][]byte{marshal(t, newTone(440, 1).Next()), marshal(t, newTone(1000, 1).Next())}
	recs := make([]*recorder.Recording, n)
	before := heapAlloc()
	for i := range recs {
		rec, err := recorder.New(recorder.Config{Writer: &recordertest.Discard{}, Clock: func() time.Time { return t0 }})
		require.NoError(t, err)
		feed(t, rec, raw, 50)
		recs[i] = rec
	}
	after := heapAlloc()
	per := (int64(after) - int64(before)) / n
	t.Logf("%d active recordings: %d B each", n, per)
	assert.LessOrEqual(t, per, int64(maxPerRecording))
	for _, rec := range recs {
		res, err := rec.Close(context.Background())
		require.NoError(t, err)
		require.EqualValues(t, 50, res.Caller.Decoded)
	}
	runtime.KeepAlive(recs)
}
