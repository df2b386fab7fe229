package sipadapter

import (
	"errors"
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

// errRecordQueueFull is counted in the relay's TapErrors for a packet the
// recording queue had no room for: it is lost to the recording (and
// counted in its metadata), never to the call.
var errRecordQueueFull = errors.New("sipadapter: recording queue full: packet lost to the recording")

// recordQueue decouples a call's recording from its live media: the relay's
// forwarding goroutines copy each packet into it without ever blocking, and
// one writer goroutine, owned by the call, hands them to the recorder,
// whose writes may wait for a slow disk. Packets that find the queue full
// are dropped and counted per party.
type recordQueue struct {
	rec     *recorder.Recording
	bufs    *sync.Pool // of *[]byte, recordBufSize long
	ch      chan queuedPacket
	done    chan struct{}
	dropped [2]atomic.Uint64
	errs    atomic.Uint64 // packets the recorder refused
	once    sync.Once
}

// queuedPacket is kept small (24 bytes): the queue's channel buffer holds
// recordQueueLen of them for every recorded call, full or not. The arrival
// is kept as Unix nanoseconds; the recorder only uses its distance from
// the recording's start.
type queuedPacket struct {
	buf     *[]byte
	arrival int64
	n       uint16
	party   relay.Party
}

func newRecordQueue(rec *recorder.Recording, bufs *sync.Pool) *recordQueue {
	return &recordQueue{rec: rec, bufs: bufs, ch: make(chan queuedPacket, recordQueueLen), done: make(chan struct{})}
}

// push copies p into the queue; it never blocks.
func (q *recordQueue) push(party relay.Party, p *rtp.Packet, arrival time.Time) error {
	bp := q.bufs.Get().(*[]byte)
	n, err := p.MarshalTo(*bp)
	if err != nil {
		q.bufs.Put(bp)
		q.dropped[party].Add(1)
		return err
	}
	select {
	case q.ch <- queuedPacket{buf: bp, n: uint16(n), arrival: arrival.UnixNano(), party: party}:
		return nil
	default:
		q.bufs.Put(bp)
		q.dropped[party].Add(1)
		return errRecordQueueFull
	}
}

// run writes the queued packets into the recording until close.
func (q *recordQueue) run() {
	defer close(q.done)
	for pk := range q.ch {
		if err := recLeg(q.rec, pk.party).Write((*pk.buf)[:pk.n], time.Unix(0, pk.arrival)); err != nil {
			q.errs.Add(1)
		}
		q.bufs.Put(pk.buf)
	}
}

// close waits until every queued packet is written; the relay must have
// stopped pushing (the media session is closed).
func (q *recordQueue) close() {
	q.once.Do(func() { close(q.ch) })
	<-q.done
}

// lost returns the packets of each party lost to the recording.
func (q *recordQueue) lost() [2]uint64 {
	return [2]uint64{q.dropped[relay.Caller].Load(), q.dropped[relay.Callee].Load()}
}

func newRecordBufs() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, recordBufSize); return &b }}
}
