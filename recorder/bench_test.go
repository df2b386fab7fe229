package recorder_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

// BenchmarkStereoG711 measures the per-packet cost of a stereo PCMU call:
// parse, sequence tracking, timeline, decode, interleave and write to a
// discarding writer. One op is one 20 ms packet; the legs alternate.
func BenchmarkStereoG711(b *testing.B) {
	benchmarkG711(b, recorder.Stereo)
}

// BenchmarkMonoG711 is BenchmarkStereoG711 with both legs mixed.
func BenchmarkMonoG711(b *testing.B) {
	benchmarkG711(b, recorder.Mono)
}

func benchmarkG711(b *testing.B, mode recorder.Mode) {
	runG711(b, recorder.Config{Writer: &recordertest.Discard{}, Mode: mode})
}

// runG711 records b.N 20 ms PCMU packets, the legs alternating, with cfg
// (whose Clock it sets), and closes the recording untimed.
func runG711(b *testing.B, cfg recorder.Config) {
	now := t0
	cfg.Clock = func() time.Time { return now }
	rec, err := recorder.New(cfg)
	require.NoError(b, err)
	raw := [2][]byte{marshal(b, newTone(440, 1).Next()), marshal(b, newTone(1000, 1).Next())}
	legs := [2]*recorder.Leg{rec.Caller(), rec.Callee()}
	b.ReportAllocs()
	b.SetBytes(packetSamples)
	b.ResetTimer()
	for i := range b.N {
		side := i & 1
		n := uint32(i / 2)
		p := raw[side]
		binary.BigEndian.PutUint16(p[2:], uint16(n))
		binary.BigEndian.PutUint32(p[4:], n*packetSamples)
		if err := legs[side].Write(p, t0.Add(time.Duration(n)*20*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	now = t0.Add(time.Duration(b.N/2) * 20 * time.Millisecond)
	res, err := rec.Close(context.Background())
	require.NoError(b, err)
	require.Equal(b, uint64((b.N+1)/2), res.Caller.Decoded)
}

// BenchmarkWriteRTP is BenchmarkStereoG711 through Leg.WriteRTP.
func BenchmarkWriteRTP(b *testing.B) {
	rec, err := recorder.New(recorder.Config{Writer: &recordertest.Discard{}, Clock: func() time.Time { return t0 }})
	require.NoError(b, err)
	pkts := [2]*rtp.Packet{newTone(440, 1).Next(), newTone(1000, 1).Next()}
	legs := [2]*recorder.Leg{rec.Caller(), rec.Callee()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		side := i & 1
		n := uint32(i / 2)
		p := pkts[side]
		p.SequenceNumber, p.Timestamp = uint16(n), n*packetSamples
		if err := legs[side].WriteRTP(p, t0.Add(time.Duration(n)*20*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkRecordingMemory reports the memory of one active recording: one
// op creates a recording and feeds it a second of audio on both legs;
// B/op is what a recording allocates over its life, the heap-KiB/rec metric
// what stays live while it is active.
func BenchmarkRecordingMemory(b *testing.B) {
	raw := [2][]byte{marshal(b, newTone(440, 1).Next()), marshal(b, newTone(1000, 1).Next())}
	recs := make([]*recorder.Recording, 0, b.N)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec, err := recorder.New(recorder.Config{Writer: &recordertest.Discard{}, Clock: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		feed(b, rec, raw, 50)
		recs = append(recs, rec)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N)/1024, "heap-KiB/rec")
	for _, rec := range recs {
		_, err := rec.Close(context.Background())
		require.NoError(b, err)
	}
}

// feed writes n 20 ms packets on each leg of rec, reusing raw.
func feed(t testing.TB, rec *recorder.Recording, raw [2][]byte, n int) {
	for i := range n {
		for side, leg := range []*recorder.Leg{rec.Caller(), rec.Callee()} {
			p := raw[side]
			binary.BigEndian.PutUint16(p[2:], uint16(i))
			binary.BigEndian.PutUint32(p[4:], uint32(i)*packetSamples)
			if err := leg.Write(p, t0.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// BenchmarkStereoG711File is BenchmarkStereoG711 writing to a file on disk,
// as a switch does: the 8 KiB buffer writes and the header update every
// second of audio reach the file system. One op is one 20 ms packet.
func BenchmarkStereoG711File(b *testing.B) {
	benchmarkG711File(b, recorder.Config{})
}

// BenchmarkStereoG711FileSync is BenchmarkStereoG711File with Config.Sync:
// a flush to stable storage after each header update (one per second of
// audio, so one per 100 packets).
func BenchmarkStereoG711FileSync(b *testing.B) {
	benchmarkG711File(b, recorder.Config{Sync: true})
}

// BenchmarkStereoG711FilePooled is BenchmarkStereoG711File with the output
// buffers lent by a BufferPool, as the B2BUA does: each full buffer is
// swapped for one from the pool.
func BenchmarkStereoG711FilePooled(b *testing.B) {
	benchmarkG711File(b, recorder.Config{Buffers: new(recorder.BufferPool)})
}

func benchmarkG711File(b *testing.B, cfg recorder.Config) {
	cfg.Path = filepath.Join(b.TempDir(), "call.wav")
	runG711(b, cfg)
}

// BenchmarkCloseMinute measures Close of a one-minute stereo call written
// to a file (1.9 MB): the last frames, the final header, the SHA-256 read
// back from the file, fsync and close. Feeding the minute is not timed.
// The sha256 sub-benchmark is the hash of the same bytes alone, the part
// of Close that reading the file back adds.
func BenchmarkCloseMinute(b *testing.B) {
	const packets = 60 * 50
	raw := [2][]byte{marshal(b, newTone(440, 1).Next()), marshal(b, newTone(1000, 1).Next())}
	b.Run("close", func(b *testing.B) {
		dir := b.TempDir()
		b.ReportAllocs()
		for i := range b.N {
			b.StopTimer()
			now := t0
			rec, err := recorder.New(recorder.Config{Path: filepath.Join(dir, fmt.Sprintf("%d.wav", i)), Clock: func() time.Time { return now }})
			require.NoError(b, err)
			feed(b, rec, raw, packets)
			now = t0.Add(time.Minute)
			b.StartTimer()
			res, err := rec.Close(context.Background())
			require.NoError(b, err)
			require.Equal(b, time.Minute, res.Duration)
		}
	})
	b.Run("sha256", func(b *testing.B) {
		data := make([]byte, recorder.HeaderSize+60*recorder.SampleRate*4)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sha256.Sum256(data)
		}
	})
}
