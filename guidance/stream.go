package guidance

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// StreamConfig configures a [Stream]. The zero value is invalid only for
// lack of a Writer; every other field has a default.
type StreamConfig struct {
	// Codec is the codec negotiated toward this party; the zero value is
	// PCMU. Injected guidance and the beep use it.
	Codec Codec
	// PayloadType is the payload type negotiated for Codec; zero means the
	// codec's static type (0 for PCMU, 8 for PCMA).
	PayloadType uint8
	// Writer sends injected packets toward the party. Required.
	Writer Writer
	// SSRC, when non-zero, is the SSRC of every packet sent toward the
	// party. When zero the stream keeps the SSRC of the first packet it
	// relays, or picks a random one if guidance comes first.
	SSRC uint32
	// Logger receives debug records of splices; nil discards.
	Logger *slog.Logger
	// Name labels the stream in log records, e.g. "to-caller".
	Name string
}

// StreamStats counts a stream's packets.
type StreamStats struct {
	// Relayed counts packets Relay passed on.
	Relayed uint64
	// Dropped counts packets Relay withheld because guidance was playing.
	Dropped uint64
	// Stale counts packets Relay withheld because they predate a splice (a
	// late, reordered packet whose sequence number is already taken).
	Stale uint64
	// Injected counts guidance packets written.
	Injected uint64
}

// Stream is one outbound media direction of a call (toward the caller, or
// toward the callee) as seen by the relay. It keeps that direction a single
// continuous RTP stream while guidance is spliced into it: the relay calls
// [Stream.Relay] for every packet it is about to send toward the party,
// and an [Announcer] injects the prompt through the configured [Writer].
//
// A Stream is safe for concurrent use: the relay's goroutine for this
// direction calls Relay while an Announcer plays on the Stream from
// another. No lock is held while a packet is written.
type Stream struct {
	codec Codec
	pt    uint8
	w     Writer
	// log and name make the splice records; the attributes go on each
	// record rather than into a Logger.With that every live call would
	// keep two copies of for a debug record.
	log  *slog.Logger
	name string

	mu       sync.Mutex
	guidance bool // Relay withholds packets while true
	guided   bool // a guidance has ended: relayed packets are recordable
	ssrc     uint32
	haveSSRC bool

	// The newest packet sent toward the party (relayed or injected).
	sent       bool
	outSeq     uint16
	outTS      uint32
	outSamples uint32 // duration of that packet in timestamp units
	outTime    time.Time

	// The relayed source: offsets from its numbering to the output's,
	// valid while anchored; inMax/inMaxExt track its newest sequence number
	// as an extended (wrap-free) counter starting at 0 at the anchor.
	anchored bool
	srcSSRC  uint32
	inMax    uint16
	inMaxExt int64
	seqOff   uint16
	tsOff    uint32
	marker   bool // set the marker bit on the next relayed packet

	beep  *beeper
	stats StreamStats
}

// NewStream returns a Stream for one outbound direction.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.Writer == nil {
		return nil, fmt.Errorf("%w: StreamConfig.Writer: nil", ErrInvalidConfig)
	}
	cfg.Codec = cfg.Codec.orPCMU()
	pt, err := cfg.Codec.payloadType(cfg.PayloadType, "StreamConfig.PayloadType")
	if err != nil {
		return nil, fmt.Errorf("StreamConfig.%w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stream{
		codec:    cfg.Codec,
		pt:       pt,
		w:        cfg.Writer,
		log:      log,
		name:     cfg.Name,
		ssrc:     cfg.SSRC,
		haveSSRC: cfg.SSRC != 0,
	}
	return s, nil
}

// Codec returns the stream's codec.
func (s *Stream) Codec() Codec { return s.codec }

// Relay prepares a packet the relay is about to send toward the party and
// reports whether to send it. While guidance plays it returns false: the
// parties' own audio is neither relayed nor, if the relay records only what
// it relays, recorded. Otherwise it rewrites p's SSRC, sequence number and
// timestamp in place so that the party sees one continuous stream across
// the splices with the guidance, sets the marker bit on the first packet
// after a splice, mixes in the beep tone when one is enabled, and returns
// true. It also returns false for a late packet older than a splice.
//
// Relay may modify p.Payload in place (beep mixing). It allocates nothing.
func (s *Stream) Relay(p *rtp.Packet) bool {
	relay, _ := s.RelayRecord(p)
	return relay
}

// RelayRecord is [Stream.Relay] with an exact recording gate: record is
// true for a relayed packet once a guidance has ended on this Stream (or an
// [Announcer] in [ModeOff] has passed it), decided under the same lock as
// the relaying, so that the recording starts with the first packet after
// the guidance, not one packet earlier or later. A relay that records what
// it relays records p when record is true.
func (s *Stream) RelayRecord(p *rtp.Packet) (relay, record bool) {
	s.mu.Lock()
	relay, record, spliced := s.relayLocked(p)
	s.mu.Unlock()
	if spliced {
		s.log.Debug("relayed audio spliced", "component", "guidance", "stream", s.name, "seq", p.SequenceNumber, "ts", p.Timestamp)
	}
	return relay, record
}

// relayLocked is RelayRecord under s.mu; spliced reports a new splice.
func (s *Stream) relayLocked(p *rtp.Packet) (relay, record, spliced bool) {
	if s.guidance {
		s.stats.Dropped++
		return false, false, false
	}
	now := time.Now()
	anchor := !s.anchored || p.SSRC != s.srcSSRC
	if anchor {
		spliced = s.anchorTo(p, now)
	}
	diff := int16(p.SequenceNumber - s.inMax)
	ext := s.inMaxExt + int64(diff)
	if ext < 0 {
		s.stats.Stale++
		return false, false, false
	}
	newest := anchor || diff > 0
	if newest {
		s.inMax, s.inMaxExt = p.SequenceNumber, ext
	}
	if s.haveSSRC {
		p.SSRC = s.ssrc
	} else {
		s.ssrc, s.haveSSRC = p.SSRC, true
	}
	p.SequenceNumber += s.seqOff
	p.Timestamp += s.tsOff
	if s.marker {
		p.Marker, s.marker = true, false
	}
	if s.beep != nil && p.PayloadType == s.pt {
		s.beep.mix(p, s.codec)
	}
	if newest {
		s.sent = true
		s.outSeq, s.outTS, s.outTime = p.SequenceNumber, p.Timestamp, now
		s.outSamples = SamplesPerPacket
		if p.PayloadType == s.pt && len(p.Payload) > 0 {
			s.outSamples = uint32(len(p.Payload)) // G.711: one byte per sample
		}
	}
	s.stats.Relayed++
	return true, s.guided, spliced
}

// anchorTo splices the source of p into the output: its next packet
// continues the newest packet sent, one sequence number later, with the
// timestamp advanced by the time elapsed (at least that packet's duration).
// Before anything was sent the source passes through unchanged, and
// anchorTo reports no splice.
func (s *Stream) anchorTo(p *rtp.Packet, now time.Time) (spliced bool) {
	if s.sent {
		s.seqOff = s.outSeq + 1 - p.SequenceNumber
		s.tsOff = s.nextTimestamp(now) - p.Timestamp
		s.marker = true
	}
	s.anchored, s.srcSSRC = true, p.SSRC
	s.inMax, s.inMaxExt = p.SequenceNumber, 0
	return s.sent
}

// nextTimestamp returns the timestamp of a packet sent at now, following
// the newest packet sent.
func (s *Stream) nextTimestamp(now time.Time) uint32 {
	// Beyond a day (a clock jump) the elapsed time is not trusted; the
	// bound also keeps the conversion inside 32 bits.
	elapsed := now.Sub(s.outTime)
	units := uint32(0)
	if elapsed > 0 && elapsed < 24*time.Hour {
		units = uint32(elapsed * SampleRate / time.Second)
	}
	return s.outTS + max(units, s.outSamples)
}

// begin starts guidance: Relay withholds packets until end. It returns the
// parameters that continue the stream for a Player.
func (s *Stream) begin(now time.Time) (PlayerConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guidance {
		return PlayerConfig{}, ErrBusy
	}
	s.guidance = true
	if !s.haveSSRC {
		s.ssrc, s.haveSSRC = nonZeroRandom(), true
	}
	cfg := PlayerConfig{Codec: s.codec, PayloadType: s.pt, SSRC: s.ssrc}
	if s.sent {
		cfg.SequenceNumber, cfg.Timestamp = s.outSeq+1, s.nextTimestamp(now)
	} else {
		cfg.SequenceNumber, cfg.Timestamp = uint16(rand.Uint32()), rand.Uint32()
	}
	return cfg, nil
}

// end finishes guidance after injected packets of cfg were written, the
// last one scheduled at last, and enables beep if non-nil. The next relayed
// packet is spliced after the newest packet sent.
func (s *Stream) end(cfg PlayerConfig, injected int, last time.Time, beep *beepTone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guidance, s.guided = false, true
	s.anchored = false
	if injected > 0 {
		s.sent = true
		s.outSeq = cfg.SequenceNumber + uint16(injected-1)
		s.outTS = cfg.Timestamp + uint32(injected-1)*SamplesPerPacket
		s.outSamples = SamplesPerPacket
		s.outTime = last
		s.stats.Injected += uint64(injected)
	}
	if beep != nil {
		s.beep = &beeper{tone: beep}
	}
}

// abort undoes begin when the guidance could not start.
func (s *Stream) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guidance = false
}

// Stats returns the stream's packet counters.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// pass marks the Stream as past guidance without any (ModeOff), enabling
// the beep when tone is non-nil, without a splice.
func (s *Stream) pass(tone *beepTone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guided = true
	if tone != nil {
		s.beep = &beeper{tone: tone}
	}
}

func nonZeroRandom() uint32 {
	for {
		if v := rand.Uint32(); v != 0 {
			return v
		}
	}
}
