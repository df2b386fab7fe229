package sipadapter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecordQueueOverflowCountedExactly: with the writer held up, the
// queue takes recordQueueLen packets and refuses the rest without
// blocking, counting each per party; once the writer runs, everything
// queued reaches the recording.
func TestRecordQueueOverflowCountedExactly(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	rec, err := recorder.New(recorder.Config{Path: filepath.Join(t.TempDir(), "r.wav"), Start: start,
		Clock: func() time.Time { return start.Add(20 * time.Second) }})
	require.NoError(t, err)
	q := newRecordQueue(rec, newRecordBufs(), newRecordWriters())
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: make([]byte, 160)}
	const extra = 7
	for i := range recordQueueLen + extra {
		party := relay.Party(i % 2)
		pkt.SequenceNumber, pkt.Timestamp = uint16(i/2), uint32(i/2*160)
		err := q.push(party, pkt, start.Add(time.Duration(i/2)*20*time.Millisecond))
		if i < recordQueueLen {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, errRecordQueueFull)
		}
	}
	q.start()
	q.close()
	assert.Equal(t, [2]uint64{extra - extra/2, extra / 2}, q.lost(), "the overflow alternates caller, callee, caller…")
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, recordQueueLen/2, res.Caller.Received)
	assert.EqualValues(t, recordQueueLen/2, res.Callee.Received)
}

// blockingFile is a recording file whose writes wait, once armed, until
// release is closed: a disk that hangs.
type blockingFile struct {
	*os.File
	armed   atomic.Bool
	blocked chan struct{} // closed when a write starts waiting
	release chan struct{}
	once    sync.Once
}

func (f *blockingFile) Write(p []byte) (int, error) {
	if f.armed.Load() {
		f.once.Do(func() { close(f.blocked) })
		<-f.release
	}
	return f.File.Write(p)
}

// TestRecordWritersShareGoroutinesAndIsolateAStall: recorded calls share
// the B2BUA's writers, at most max goroutines and none when idle. One
// call's hanging disk holds one writer; the other calls' queues keep being
// written meanwhile, and the hung call's queue, which kept its packets, is
// written out whole once the disk comes back.
func TestRecordWritersShareGoroutinesAndIsolateAStall(t *testing.T) {
	const calls, perCall = 12, 200 // 200 packets: 2 s of both parties, 64 KiB of WAV, several writes
	start := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return start.Add(20 * time.Second) }
	bufs, writers := newRecordBufs(), newRecordWriters()
	running := func() int { // writer goroutines: counted by the pool, as other tests' come and go
		writers.mu.Lock()
		defer writers.mu.Unlock()
		return writers.running
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "hung.wav"))
	require.NoError(t, err)
	hung := &blockingFile{File: f, blocked: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(hung.release) }) }
	t.Cleanup(release) // a failing test must not leave a writer hanging
	hungRec, err := recorder.New(recorder.Config{Writer: hung, Start: start, Clock: clock})
	require.NoError(t, err)
	hungQ := newRecordQueue(hungRec, bufs, writers)
	hungQ.start()
	hung.armed.Store(true)

	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: make([]byte, 160)}
	feed := func(q *recordQueue, from, to int) {
		for i := from; i < to; i++ {
			party := relay.Party(i % 2)
			pkt.SequenceNumber, pkt.Timestamp = uint16(i/2), uint32(i/2*160)
			require.NoError(t, q.push(party, pkt, start.Add(time.Duration(i/2)*20*time.Millisecond)))
		}
	}
	feed(hungQ, 0, perCall) // the first 8 KiB buffer written hangs
	select {
	case <-hung.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the hung recording never wrote")
	}

	var recs []*recorder.Recording
	var queues []*recordQueue
	for i := range calls {
		rec, err := recorder.New(recorder.Config{Path: filepath.Join(t.TempDir(), fmt.Sprintf("r%d.wav", i)), Start: start, Clock: clock})
		require.NoError(t, err)
		q := newRecordQueue(rec, bufs, writers)
		q.start()
		recs, queues = append(recs, rec), append(queues, q)
	}
	for _, q := range queues {
		feed(q, 0, perCall)
	}
	assert.LessOrEqual(t, running(), writers.max, "writer goroutines")
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for _, q := range queues {
			q.close()
		}
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the other calls' queues were not written while one disk hung")
	}
	for i, rec := range recs {
		res, err := rec.Close(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, perCall, res.Caller.Received+res.Callee.Received, "call %d", i)
		assert.Equal(t, [2]uint64{}, queues[i].lost())
	}

	release()
	hungQ.close()
	assert.Equal(t, [2]uint64{}, hungQ.lost(), "the hung call's queue absorbed the wait")
	res, err := hungRec.Close(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, perCall, res.Caller.Received+res.Callee.Received)

	deadline := time.Now().Add(2 * time.Second)
	for running() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Zero(t, running(), "writers left with no queue ready")
}

// TestRecordQueueCopiesPacketsOfAnySize: voice packets are copied into
// small buffers and larger ones into MTU-sized ones, and both reach the
// recording whole; a packet over an MTU is refused and counted.
func TestRecordQueueCopiesPacketsOfAnySize(t *testing.T) {
	bufs := newRecordBufs()
	assert.Equal(t, recordSmallBufSize, cap(*bufs.get(172)), "a 20 ms G.711 packet")
	assert.Equal(t, recordBufSize, cap(*bufs.get(recordSmallBufSize + 1)))

	start := time.Unix(1_800_000_000, 0)
	rec, err := recorder.New(recorder.Config{Path: filepath.Join(t.TempDir(), "r.wav"), Start: start,
		Clock: func() time.Time { return start.Add(20 * time.Second) }})
	require.NoError(t, err)
	q := newRecordQueue(rec, bufs, newRecordWriters())
	q.start()
	const packets = 20
	ts := uint32(0)
	for i := range packets {
		size := 160
		if i%2 == 1 {
			size = 1200 // 150 ms of G.711 in one packet: over the small buffers
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1, SequenceNumber: uint16(i), Timestamp: ts}, Payload: make([]byte, size)}
		require.NoError(t, q.push(relay.Caller, pkt, start.Add(time.Duration(ts/8)*time.Millisecond)))
		ts += uint32(size)
	}
	huge := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1, SequenceNumber: packets, Timestamp: ts}, Payload: make([]byte, recordBufSize)}
	require.Error(t, q.push(relay.Caller, huge, start.Add(time.Duration(ts/8)*time.Millisecond)))
	q.close()
	assert.Equal(t, [2]uint64{1, 0}, q.lost(), "the packet over an MTU")
	res, err := rec.Close(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, packets, res.Caller.Received)
	assert.EqualValues(t, packets, res.Caller.Decoded)
}
