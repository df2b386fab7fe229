package recorder

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/rtp"
)

// Side names a direction of the call by the party that sends it. It is the
// SDK's one party numbering and text: sipadapter/relay.Party has the same
// values (0 caller, 1 callee) and the same text ("caller", "callee"), so a
// relay party converts as recorder.Side(p) (see [Recording.Leg]).
type Side uint8

// Sides. In stereo recordings the caller is the left channel and the callee
// the right one.
const (
	SideCaller Side = 0 // packets the caller sends
	SideCallee Side = 1 // packets the callee sends
)

// String returns "caller" or "callee".
func (s Side) String() string {
	if s == SideCallee {
		return "callee"
	}
	return "caller"
}

// MarshalText encodes the side as "caller" or "callee", also in JSON.
func (s Side) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes "caller" or "callee".
func (s *Side) UnmarshalText(b []byte) error {
	switch string(b) {
	case "caller":
		*s = SideCaller
	case "callee":
		*s = SideCallee
	default:
		return fmt.Errorf("recorder: unknown side %q", b)
	}
	return nil
}

// Stats are the counters of one leg. Every packet whose RTP header parses is
// counted in Received and in exactly one of Decoded, ComfortNoise,
// EventPackets, Skipped, Late and Duplicated; packets whose header does not
// parse are counted in Malformed only.
type Stats struct {
	Received     uint64 `json:"received"`      // packets with a valid RTP header
	Decoded      uint64 `json:"decoded"`       // audio packets written to the timeline
	ComfortNoise uint64 `json:"comfort_noise"` // RFC 3389 packets, recorded as silence
	EventPackets uint64 `json:"event_packets"` // RFC 4733 telephone-event packets
	Skipped      uint64 `json:"skipped"`       // packets of unknown payload types, or with an unusable event payload
	Late         uint64 `json:"late"`          // packets dropped for their timing: audio older than the jitter window, stale sequence numbers, stragglers stamped ahead of their arrival
	Duplicated   uint64 `json:"duplicated"`    // packets received twice, dropped
	Malformed    uint64 `json:"malformed"`     // packets that are not valid RTP, dropped

	// Lost is the number of packets never received, from the gaps in the
	// sequence numbers (RFC 3550 A.3), summed over SSRCs.
	Lost uint64 `json:"lost"`
	// Reordered counts packets that arrived after a packet with a higher
	// sequence number; those within the jitter window are still played.
	Reordered   uint64 `json:"reordered"`
	SSRCChanges uint64 `json:"ssrc_changes"` // times the sender's SSRC changed; each re-anchors the leg
	Reanchors   uint64 `json:"reanchors"`    // timeline re-anchors for timestamp jumps, restarts and drift, SSRC changes excluded
	DTMFEvents  uint64 `json:"dtmf_events"`  // RFC 4733 events seen, including those redacted by a pause

	First time.Time `json:"first"` // arrival of the first valid packet; zero if none
	Last  time.Time `json:"last"`  // arrival of the last valid packet
}

// DTMFEvent is an RFC 4733 event (a DTMF key press) reported by a leg.
type DTMFEvent struct {
	Side  Side
	Event uint8 // RFC 4733 event code: 0-9, 10 '*', 11 '#', 12-15 A-D, 16 flash
	// Digit is the event as a character ('0'-'9', '*', '#', 'A'-'D'), or 0
	// for codes that are not DTMF digits.
	Digit rune
	// At is when the key was pressed, as an offset from the start of the
	// recording on the call's timeline (pauses included).
	At       time.Duration
	Duration time.Duration // how long the key was held, from the event's last duration field
}

// dtmfJSON is the JSON form of a DTMFEvent: the digit as a string.
type dtmfJSON struct {
	Side     Side          `json:"side"`
	Event    uint8         `json:"event"`
	Digit    string        `json:"digit,omitempty"`
	At       time.Duration `json:"at"`
	Duration time.Duration `json:"duration"`
}

// MarshalJSON encodes the event with its digit as a one-character string
// and its times in nanoseconds.
func (e DTMFEvent) MarshalJSON() ([]byte, error) {
	j := dtmfJSON{Side: e.Side, Event: e.Event, At: e.At, Duration: e.Duration}
	if e.Digit != 0 {
		j.Digit = string(e.Digit)
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (e *DTMFEvent) UnmarshalJSON(b []byte) error {
	var j dtmfJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = DTMFEvent{Side: j.Side, Event: j.Event, Digit: eventDigit(j.Event), At: j.At, Duration: j.Duration}
	return nil
}

// maxEvents bounds the events a recording keeps for its Result; later ones
// are still counted in Stats.DTMFEvents. It bounds memory against a sender
// that streams endless distinct events.
const maxEvents = 4096

// A Leg receives the RTP packets of one direction of a call. Obtain it from
// [Recording.Caller] or [Recording.Callee].
//
// Write and WriteRTP may be called from one goroutine per leg, concurrently
// with the other leg and with the Recording's methods. They do no I/O but
// when an output buffer fills (every 8 KiB of audio) or the header is due
// (every Config.HeaderInterval of audio, with a flush when Config.Sync is
// set), and then write to the output without holding the recording's lock
// (see [Recording]); meanwhile the other leg goes on filling the other
// buffer.
type Leg struct {
	r    *Recording
	side Side
	pts  payloadTable

	// Guarded by r.mu.
	stats     Stats
	started   bool
	ssrc      uint32
	seq       seqTracker
	clock     rtpClock
	lateRun   int // consecutive in-order audio packets too late to play
	behindRun int // consecutive in-order packets behind their arrival by more than half the window
	event     pendingEvent
}

// Side returns which party sends this leg's packets.
func (l *Leg) Side() Side { return l.side }

// Stats returns a snapshot of the leg's counters.
func (l *Leg) Stats() Stats {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.statsLocked()
}

func (l *Leg) statsLocked() Stats {
	s := l.stats
	s.Lost = l.seq.lost()
	return s
}

// Write records one raw RTP packet (header and payload, as received from
// the socket) that arrived at arrival; a zero arrival means the
// Recording's clock now. Write does not retain raw.
//
// A packet that is not valid RTP returns an error wrapping [ErrMalformed]
// and is counted; the recording continues. Late, duplicate and
// unknown-payload packets are counted, not errors. After Close began, Write
// returns [ErrClosed]; after the output failed, an error wrapping [ErrWrite].
func (l *Leg) Write(raw []byte, arrival time.Time) error {
	h, payload, err := parseRTP(raw)
	if err != nil {
		return l.malformed(err)
	}
	return l.r.accept(l, h, payload, arrival)
}

// WriteRTP records a parsed RTP packet that arrived at arrival, like
// [Leg.Write]. p.Payload is the payload without padding, as
// [rtp.Packet.Unmarshal] leaves it. WriteRTP does not retain p.
func (l *Leg) WriteRTP(p *rtp.Packet, arrival time.Time) error {
	switch {
	case p == nil:
		return l.malformed(errNilPacket)
	case p.Version != 2:
		return l.malformed(errVersion)
	case p.PayloadType > 127:
		return l.malformed(errPayloadType)
	}
	h := header{marker: p.Marker, pt: p.PayloadType, seq: p.SequenceNumber, ts: p.Timestamp, ssrc: p.SSRC}
	return l.r.accept(l, h, p.Payload, arrival)
}

func (l *Leg) malformed(err error) error {
	l.r.mu.Lock()
	l.stats.Malformed++
	closing := l.r.closing
	l.r.mu.Unlock()
	if closing {
		return ErrClosed
	}
	return err
}

// header holds the RTP header fields the recorder uses.
type header struct {
	marker bool
	pt     uint8
	seq    uint16
	ts     uint32
	ssrc   uint32
}

// Parse errors, preallocated: the hot path does not allocate for them.
var (
	errNilPacket   = fmt.Errorf("%w: nil packet", ErrMalformed)
	errShort       = fmt.Errorf("%w: shorter than the 12-byte header", ErrMalformed)
	errVersion     = fmt.Errorf("%w: version is not 2", ErrMalformed)
	errCSRC        = fmt.Errorf("%w: csrc list past the end", ErrMalformed)
	errExtension   = fmt.Errorf("%w: header extension past the end", ErrMalformed)
	errPadding     = fmt.Errorf("%w: invalid padding length", ErrMalformed)
	errRTCP        = fmt.Errorf("%w: rtcp packet", ErrMalformed)
	errPayloadType = fmt.Errorf("%w: payload type above 127", ErrMalformed)
	errEvent       = fmt.Errorf("%w: telephone-event payload shorter than 4 bytes", ErrMalformed)
)

// parseRTP parses an RTP packet (RFC 3550 5.1) without allocating. The
// payload points into b and excludes padding.
func parseRTP(b []byte) (header, []byte, error) {
	var h header
	if len(b) < 12 {
		return h, nil, errShort
	}
	if b[0]>>6 != 2 {
		return h, nil, errVersion
	}
	if pt := b[1] & 0x7f; pt >= 72 && pt <= 76 && b[1]&0x80 != 0 {
		return h, nil, errRTCP // RFC 5761: second octet 200-204 is RTCP
	}
	h.marker = b[1]&0x80 != 0
	h.pt = b[1] & 0x7f
	h.seq = binary.BigEndian.Uint16(b[2:4])
	h.ts = binary.BigEndian.Uint32(b[4:8])
	h.ssrc = binary.BigEndian.Uint32(b[8:12])
	off := 12 + 4*int(b[0]&0x0f)
	if len(b) < off {
		return h, nil, errCSRC
	}
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return h, nil, errExtension
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:off+4]))
		if len(b) < off {
			return h, nil, errExtension
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		if end == off {
			return h, nil, errPadding
		}
		pad := int(b[end-1])
		if pad == 0 || pad > end-off {
			return h, nil, errPadding
		}
		end -= pad
	}
	return h, b[off:end], nil
}

// seqClass is what a sequence number means relative to those seen before.
type seqClass uint8

const (
	seqNew       seqClass = iota // newer than every packet so far
	seqReordered                 // older than the newest, first copy
	seqDuplicate                 // seen before
	seqStale                     // too far from the newest to place
	seqRestart                   // the sender restarted its sequence
	seqFirst                     // first packet of the leg or of a new SSRC
)

// Sequence tracking limits, from RFC 3550 A.1.
const (
	maxDropout  = 3000 // larger forward jumps are a restart
	maxMisorder = 100  // older packets are stale
)

// seqTracker follows one SSRC's sequence numbers: duplicates, reordering and
// losses. A restart or SSRC change starts a new segment; losses of closed
// segments accumulate.
type seqTracker struct {
	hi       int64     // extended highest sequence number
	base     int64     // extended lowest sequence number of the segment
	unique   int64     // distinct packets received in the segment
	seen     [2]uint64 // bit i: sequence number hi-i received (i < 128)
	bad      int32     // RFC 3550 bad_seq: next sequence number of a suspected restart, or -1
	lostPrev uint64    // losses of closed segments
}

// reset closes the current segment (if any) and starts one at seq.
func (s *seqTracker) reset(seq uint16, first bool) {
	if !first {
		s.lostPrev = s.lost()
	}
	s.hi, s.base, s.unique = int64(seq), int64(seq), 1
	s.seen = [2]uint64{1, 0}
	s.bad = -1
}

func (s *seqTracker) lost() uint64 {
	if s.unique == 0 {
		return 0 // no packet yet
	}
	if expected := s.hi - s.base + 1; expected > s.unique {
		return s.lostPrev + uint64(expected-s.unique)
	}
	return s.lostPrev
}

func (s *seqTracker) update(seq uint16) seqClass {
	d := int64(int16(seq - uint16(s.hi)))
	switch {
	case d > 0 && d < maxDropout:
		s.shift(d)
		s.hi += d
		s.unique++
		s.bad = -1
		return seqNew
	case d <= 0 && -d <= maxMisorder:
		word, bit := -d/64, uint(-d%64)
		if s.seen[word]&(1<<bit) != 0 {
			return seqDuplicate
		}
		s.seen[word] |= 1 << bit
		s.unique++
		s.base = min(s.base, s.hi+d)
		return seqReordered
	case int32(seq) == s.bad:
		s.reset(seq, false)
		return seqRestart
	default:
		s.bad = int32(seq + 1)
		return seqStale
	}
}

// shift moves the received bitmap for a new highest sequence number d ahead.
func (s *seqTracker) shift(d int64) {
	switch {
	case d >= 128:
		s.seen = [2]uint64{}
	case d >= 64:
		s.seen[1] = s.seen[0] << (d - 64)
		s.seen[0] = 0
	default:
		s.seen[1] = s.seen[1]<<d | s.seen[0]>>(64-d)
		s.seen[0] <<= d
	}
	s.seen[0] |= 1
}

// pendingEvent is the RFC 4733 event a leg is receiving.
type pendingEvent struct {
	active   bool
	done     bool // reported: the end packet was seen
	ts       uint32
	pos      int64
	code     uint8
	duration uint16
}

// receiveEvent processes one telephone-event packet whose timestamp ts lies
// at frame pos.
func (l *Leg) receiveEvent(ev telephoneEvent, ts uint32, pos int64) {
	e := &l.event
	if e.active && int32(ts-e.ts) < 0 {
		return // a straggler of an event already superseded
	}
	if e.active && ts == e.ts {
		if e.done {
			return // retransmitted end packet
		}
		e.duration = max(e.duration, ev.duration)
	} else {
		if e.active && !e.done {
			l.r.reportEvent(l, e)
		}
		*e = pendingEvent{active: true, ts: ts, pos: pos, code: ev.event, duration: ev.duration}
	}
	if ev.end {
		e.done = true
		l.r.reportEvent(l, e)
	}
}

// classify tracks the packet's SSRC and sequence number. A first packet or
// a new SSRC starts a new stream (seqFirst).
func (l *Leg) classify(h header) seqClass {
	if l.started && h.ssrc == l.ssrc {
		return l.seq.update(h.seq)
	}
	if l.started {
		l.stats.SSRCChanges++
		l.r.log.Debug("ssrc change", "component", "recorder", "side", l.side, "from", l.ssrc, "to", h.ssrc)
	}
	l.seq.reset(h.seq, !l.started)
	l.started, l.ssrc = true, h.ssrc
	return seqFirst
}

// place positions a packet on the timeline, applying the re-anchor rules,
// and returns the frame of its timestamp, or false when the packet cannot
// be placed (a straggler whose timestamp lies beyond its arrival). lead is
// how far the packet's timestamp precedes its sending (an event's duration
// so far), n the number of audio samples it carries.
func (l *Leg) place(h header, class seqClass, arrival, lead, n int64) (int64, bool) {
	switch class {
	case seqFirst:
		l.reanchor(h.ts, arrival-lead, false)
		return arrival - lead, true
	case seqRestart:
		l.reanchor(h.ts, arrival-lead, true)
		return arrival - lead, true
	case seqReordered:
		// Stragglers have no say in the anchor, and cannot be ahead.
		pos := l.clock.position(h.ts)
		return pos, pos+lead-arrival <= l.r.window
	}
	w := l.r.window
	pos := l.clock.position(h.ts)
	skew := pos + lead - arrival
	switch {
	case skew > w || skew < -resyncJump,
		h.marker && (skew > w/2 || skew < -w/2):
		// A packet cannot arrive before it is sent, so being ahead of the
		// arrival by more than the window is a timestamp jump or a sender
		// clock running fast; far behind is a jump backwards.
		l.reanchor(h.ts, arrival-lead, true)
		return arrival - lead, true
	case n > 0 && pos+n <= l.r.mix.flushed:
		// Too late to play: jitter if alone, a slow sender clock or a
		// stall if it goes on.
		l.behindRun = 0
		if l.lateRun++; l.lateRun >= resyncRun {
			l.reanchor(h.ts, arrival, true)
			return arrival, true
		}
	case skew < -w/2:
		// Still playable but behind by more than half the window: if it
		// lasts, the sender's clock is slow or the delay grew, and the
		// leg moves before its packets come too late.
		l.lateRun = 0
		if l.behindRun++; l.behindRun >= resyncRun {
			l.reanchor(h.ts, arrival-lead, true)
			return arrival - lead, true
		}
	default:
		l.lateRun, l.behindRun = 0, 0
	}
	l.clock.advance(h.ts)
	return pos, true
}

func (l *Leg) reanchor(ts uint32, arrival int64, count bool) {
	if count {
		l.stats.Reanchors++
		l.r.log.Debug("re-anchor", "component", "recorder", "side", l.side, "ts", ts, "from", l.clock.position(ts), "to", arrival)
	}
	l.clock.anchor(ts, arrival)
	l.lateRun, l.behindRun = 0, 0
}
