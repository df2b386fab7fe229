package sipadapter

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/sipadapter/relay"
)

// threadCPU is the CPU time of the calling OS thread (RUSAGE_THREAD), the
// benchmark's goroutine being locked to it: a call's own durable writes,
// without the delivery workers' that run meanwhile on other threads.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordingDurability runs the durable steps of one recorded
// call of compare.sh (20 s, stereo) with the B2BUA's own code: the
// recording created at the announcement's start (openAnnounced), taken
// over at its end (startRecording), then closed and enqueued into a
// delivery queue on the same file system (closeRecording). cpu-ns/op is
// the CPU of those steps on the call's goroutine; writing the 20 s of
// packets in between (straight into the recorder) is not counted, nor the queue's delivery, which runs
// on its workers (BenchmarkDirSinkDeliver in delivery measures it).
func BenchmarkRecordingDurability(b *testing.B) {
	root := b.TempDir()
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: filepath.Join(root, "out")})
	if err != nil {
		b.Fatal(err)
	}
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(root, "spool"), Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	bb := &B2BUA{cfg: Config{RecordDir: root, Clock: relay.SystemClock{}, Delivery: q},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), recBufs: newRecordBufs(), ctx: context.Background()}
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 160)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		now := time.Now()
		c := &call{b: bb, id: recordingID(now, ""), callID: "bench", start: now, answerAt: now,
			answer: mediaInfo{desc: &desc}, offer: mediaInfo{desc: &desc}, ctx: context.Background()}
		t0 := threadCPU()
		c.openAnnounced(now)
		if err := c.startRecording(now, now, &heldRecording{}); err != nil {
			b.Fatal(err)
		}
		cpu += threadCPU() - t0
		for i := range 1000 {
			at := now.Add(time.Duration(i) * 20 * time.Millisecond)
			for p := range 2 {
				pk := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(160 * i),
					SSRC: uint32(p + 1)}, Payload: payload}
				if err := recLeg(c.rec, relay.Party(p)).WriteRTP(&pk, at); err != nil {
					b.Fatal(err)
				}
			}
		}
		t0 = threadCPU()
		if c.closeRecording(now.Add(20*time.Second)) == "" {
			b.Fatal("not enqueued")
		}
		cpu += threadCPU() - t0
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}
