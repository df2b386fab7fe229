package sipadapter

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/sipadapter/relay"
	"github.com/pion/rtp"
)

// maxHeldPackets bounds the packets a call holds while its recording is
// being opened: 10 s of both parties at 20 ms. Opening takes a file
// creation and an fsync, milliseconds on a healthy disk; the bound keeps a
// stalled disk from growing memory without limit.
const maxHeldPackets = 1000

// errHeldFull is counted in the relay's TapErrors for a packet that did not
// fit while the recording was being opened.
var errHeldFull = errors.New("sipadapter: recording not open yet and its holding buffer is full")

// heldRecording is the recorder end of a call's two taps. The taps are
// installed before the guidance plays, gated by the guidance streams (a
// relay.RecordFilter), so the first packet relayed after the guidance is the
// first one tapped. The recording itself can only be created once the
// guidance has ended, since its timeline starts then, and creating it
// writes a sidecar and a file; until attach, the taps hold copies of the
// packets, which attach replays into the recording in arrival order.
type heldRecording struct {
	q atomic.Pointer[recordQueue] // set by attach: the recording's queue

	mu      sync.Mutex
	held    []heldPacket
	dropped [2]uint64 // packets of each party refused because held was full
	done    bool      // attached or discarded: hold nothing more
}

type heldPacket struct {
	party   relay.Party
	raw     []byte
	arrival time.Time
}

// tap returns the relay.Tap for the packets party p sends.
func (h *heldRecording) tap(p relay.Party) relay.Tap { return heldTap{h: h, party: p} }

type heldTap struct {
	h     *heldRecording
	party relay.Party
}

func (t heldTap) WriteRTP(p *rtp.Packet, arrival time.Time) error {
	if q := t.h.q.Load(); q != nil {
		return q.push(t.party, p, arrival)
	}
	h := t.h
	h.mu.Lock()
	if q := h.q.Load(); q != nil { // attached while we waited
		h.mu.Unlock()
		return q.push(t.party, p, arrival)
	}
	defer h.mu.Unlock()
	switch {
	case h.done:
		return nil
	case len(h.held) >= maxHeldPackets:
		h.dropped[t.party]++
		return errHeldFull
	}
	raw, err := p.Marshal() // p points into the relay's buffer
	if err != nil {
		return err
	}
	h.held = append(h.held, heldPacket{party: t.party, raw: raw, arrival: arrival})
	return nil
}

// recLeg returns the recording's leg for the packets party p sends:
// relay.Party and recorder.Side share one numbering.
func recLeg(rec *recorder.Recording, p relay.Party) *recorder.Leg {
	return rec.Leg(recorder.Side(p))
}

// first returns the arrival of the earliest packet held, or zero.
func (h *heldRecording) first() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var t time.Time
	for _, p := range h.held {
		if t.IsZero() || p.arrival.Before(t) {
			t = p.arrival
		}
	}
	return t
}

// attach replays the held packets into rec, both parties interleaved in
// arrival order (so the jitter window sees them as they came), and sends
// every later packet to q, whose writer it starts once the replay is done,
// so that the recording gets every packet in order. It returns how many
// packets were replayed and how many of each party's had been refused for
// lack of room. The replay runs without the lock, in batches, so that the
// relay's goroutines never wait for the recording's disk writes: they only
// append meanwhile, then queue.
func (h *heldRecording) attach(rec *recorder.Recording, q *recordQueue) (replayed int, dropped [2]uint64, err error) {
	var errs []error
	for {
		h.mu.Lock()
		batch := h.held
		h.held = nil
		if len(batch) == 0 {
			dropped, h.done = h.dropped, true
			h.q.Store(q)
			h.mu.Unlock()
			go q.run()
			return replayed, dropped, errors.Join(errs...)
		}
		h.mu.Unlock()
		slices.SortStableFunc(batch, func(a, b heldPacket) int { return a.arrival.Compare(b.arrival) })
		for _, p := range batch {
			if err := recLeg(rec, p.party).Write(p.raw, p.arrival); err != nil {
				errs = append(errs, err)
			}
		}
		replayed += len(batch)
	}
}

// discard drops what is held and holds nothing more: the call is not
// recorded after all.
func (h *heldRecording) discard() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held, h.done = nil, true
}

// earliest returns the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}
