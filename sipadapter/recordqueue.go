package sipadapter

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
)

// recordQueueLen bounds the packets a call's recording queue holds while
// its disk writes lag: 2.5 s of both parties at 20 ms, so that a disk
// stalling 2 s loses nothing. An entry is small; the packet bytes come
// from the B2BUA's shared pool and are only held while queued.
const recordQueueLen = 256

// recordBufSize is the largest packet the queue copies: an Ethernet MTU.
const recordBufSize = 1500

// recordSmallBufSize fits a voice packet (172 bytes for 20 ms of G.711,
// with room for CSRCs and extensions): packets that fit are copied into
// buffers of this size, so that the packets queued while the writers lag
// hold a few hundred bytes each, not an MTU.
const recordSmallBufSize = 256

// errRecordQueueFull is counted in the relay's TapErrors for a packet the
// recording queue had no room for: it is lost to the recording (and
// counted in its metadata), never to the call.
var errRecordQueueFull = errors.New("sipadapter: recording queue full: packet lost to the recording")

// recordQueue decouples a call's recording from its live media: the relay's
// forwarding goroutines copy each packet into it without ever blocking, and
// the B2BUA's shared recordWriters hand them to the recorder, whose writes
// may wait for a slow disk. Packets that find the queue full are dropped
// and counted per party. The queue is a slice that grows to recordQueueLen
// only while the writers lag, so an idle or keeping-up call holds a few
// entries, not a full buffer.
type recordQueue struct {
	rec     *recorder.Recording
	bufs    *recordBufs
	writers *recordWriters
	dropped [2]atomic.Uint64
	errs    atomic.Uint64 // packets the recorder refused

	mu        sync.Mutex
	items     []queuedPacket // items[head:] are queued, oldest first
	head      int
	started   bool          // start was called: queued packets may be written
	scheduled bool          // on the writers' ready list or being written
	closed    bool          // close was called: nothing more is queued
	drained   chan struct{} // made by close while scheduled, closed once empty
}

// queuedPacket is kept small (24 bytes): a lagging queue holds up to
// recordQueueLen of them. The arrival is kept as Unix nanoseconds; the
// recorder only uses its distance from the recording's start.
type queuedPacket struct {
	buf     *[]byte
	arrival int64
	n       uint16
	party   relay.Party
}

func newRecordQueue(rec *recorder.Recording, bufs *recordBufs, writers *recordWriters) *recordQueue {
	return &recordQueue{rec: rec, bufs: bufs, writers: writers}
}

// push copies p into the queue; it never blocks on the disk (the lock only
// guards the slice, never a write).
func (q *recordQueue) push(party relay.Party, p *rtp.Packet, arrival time.Time) error {
	bp := q.bufs.get(p.MarshalSize())
	n, err := p.MarshalTo(*bp)
	if err != nil {
		q.bufs.put(bp)
		q.dropped[party].Add(1)
		return err
	}
	q.mu.Lock()
	if q.closed || len(q.items)-q.head >= recordQueueLen {
		q.mu.Unlock()
		q.bufs.put(bp)
		q.dropped[party].Add(1)
		return errRecordQueueFull
	}
	if q.head > 0 && len(q.items) == cap(q.items) { // reuse the written front before growing
		q.items = q.items[:copy(q.items, q.items[q.head:])]
		q.head = 0
	}
	q.items = append(q.items, queuedPacket{buf: bp, n: uint16(n), arrival: arrival.UnixNano(), party: party})
	schedule := q.started && !q.scheduled
	q.scheduled = q.scheduled || schedule
	q.mu.Unlock()
	if schedule {
		q.writers.schedule(q)
	}
	return nil
}

// start lets the writers write the queued packets and every later one: the
// held packets have been replayed into the recording before.
func (q *recordQueue) start() {
	q.mu.Lock()
	q.started = true
	schedule := !q.scheduled && len(q.items) > q.head
	q.scheduled = q.scheduled || schedule
	q.mu.Unlock()
	if schedule {
		q.writers.schedule(q)
	}
}

// writeBatch is how many packets a writer writes from one queue before it
// lets the other ready queues have a turn.
const writeBatch = 32

// write writes up to writeBatch queued packets, one at a time outside the
// lock, and reports whether more are left (the queue stays scheduled then).
func (q *recordQueue) write() (more bool) {
	for range writeBatch {
		q.mu.Lock()
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
			q.scheduled = false
			if q.drained != nil {
				close(q.drained)
				q.drained = nil
			}
			q.mu.Unlock()
			return false
		}
		pk := q.items[q.head]
		q.items[q.head] = queuedPacket{}
		q.head++
		q.mu.Unlock()
		if err := recLeg(q.rec, pk.party).Write((*pk.buf)[:pk.n], time.Unix(0, pk.arrival)); err != nil {
			q.errs.Add(1)
		}
		q.bufs.put(pk.buf)
	}
	return true
}

// close waits until every queued packet is written; the relay must have
// stopped pushing (the media session is closed). Packets of a queue never
// started are written here, by the caller.
func (q *recordQueue) close() {
	q.mu.Lock()
	q.closed = true
	if !q.started {
		q.started, q.scheduled = true, true // written below, by no writer
		q.mu.Unlock()
		for q.write() {
		}
		return
	}
	if !q.scheduled {
		q.mu.Unlock()
		return
	}
	if q.drained == nil {
		q.drained = make(chan struct{})
	}
	drained := q.drained
	q.mu.Unlock()
	<-drained
}

// recordWriters is the B2BUA's pool of goroutines writing the recording
// queues: at most max of them run, each taking the next queue with packets
// and writing a batch of it, so a recorded call costs no goroutine of its
// own, and a queue is written by one writer at a time, in order. A writer
// exits when no queue is ready, so an idle B2BUA has none; the pool needs
// no closing. A disk that stalls holds up the writers on its recordings,
// never the relay; the other calls' queues absorb the wait.
type recordWriters struct {
	max int

	mu      sync.Mutex
	ready   []*recordQueue // ready[head:] wait for a writer
	head    int
	running int
}

// newRecordWriters returns a pool of at most 2×GOMAXPROCS writers, and at
// least 4: writes mostly wait for the disk, not the CPU.
func newRecordWriters() *recordWriters {
	return &recordWriters{max: max(4, 2*runtime.GOMAXPROCS(0))}
}

// schedule puts q, which has packets and no writer, on the ready list, and
// starts a writer if fewer than max run.
func (w *recordWriters) schedule(q *recordQueue) {
	w.mu.Lock()
	w.ready = append(w.ready, q)
	spawn := w.running < w.max
	if spawn {
		w.running++
	}
	w.mu.Unlock()
	if spawn {
		go w.work()
	}
}

func (w *recordWriters) work() {
	for {
		w.mu.Lock()
		if w.head == len(w.ready) {
			w.ready, w.head = w.ready[:0], 0
			w.running--
			w.mu.Unlock()
			return
		}
		q := w.ready[w.head]
		w.ready[w.head] = nil
		w.head++
		w.mu.Unlock()
		if q.write() {
			w.mu.Lock()
			w.ready = append(w.ready, q) // still scheduled: to the back
			w.mu.Unlock()
		}
	}
}

// lost returns the packets of each party lost to the recording.
func (q *recordQueue) lost() [2]uint64 {
	return [2]uint64{q.dropped[relay.Caller].Load(), q.dropped[relay.Callee].Load()}
}

// recordBufs lends the buffers recording queues copy packets into, shared
// by all calls: small ones for voice packets, MTU-sized ones for the rest.
type recordBufs struct {
	small, large sync.Pool // of *[]byte
}

func newRecordBufs() *recordBufs {
	b := &recordBufs{}
	b.small.New = func() any { s := make([]byte, recordSmallBufSize); return &s }
	b.large.New = func() any { s := make([]byte, recordBufSize); return &s }
	return b
}

// get returns a buffer for a packet of n bytes; a packet larger than
// recordBufSize does not fit (MarshalTo fails and the packet is counted).
func (b *recordBufs) get(n int) *[]byte {
	if n <= recordSmallBufSize {
		return b.small.Get().(*[]byte)
	}
	return b.large.Get().(*[]byte)
}

func (b *recordBufs) put(p *[]byte) {
	if cap(*p) == recordSmallBufSize {
		b.small.Put(p)
		return
	}
	b.large.Put(p)
}
