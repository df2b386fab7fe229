package recorder_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

// maxPerRecording is the memory budget of one active recording.
const maxPerRecording = 64 << 10

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestOneHourCallMemory records a one-hour stereo call and checks that the
// heap after an hour is what it was after a minute, and that the file has
// exactly an hour of audio.
func TestOneHourCallMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("records an hour of audio")
	}
	w := &recordertest.Discard{}
	clk := newClock()
	rec, err := recorder.New(recorder.Config{Writer: w, Clock: clk.Now})
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
	t.Logf("heap after 1 min %d B, after 60 min %d B, file %d B", afterMinute, afterHour, w.Size)
	assert.Less(t, int64(afterHour)-int64(afterMinute), int64(16<<10), "heap grows with the call's length")

	clk.Set(at(time.Hour))
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	assert.Equal(t, time.Hour, res.Duration)
	assert.EqualValues(t, recorder.HeaderSize+time.Hour.Seconds()*recorder.SampleRate*4, w.Size)
	for _, s := range []recorder.Stats{res.Caller, res.Callee} {
		assert.EqualValues(t, 60*minute, s.Decoded)
		assert.Zero(t, s.Lost+s.Late+s.Reanchors+s.SSRCChanges, "sequence numbers wrapped %d times", 60*minute/65536)
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
