package guidance

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/rtp"
)

// Packetisation of prompts: G.711 at 8 kHz in 20 ms packets, the default
// packetisation interval of RFC 3551.
const (
	// PacketDuration is the audio carried by one injected packet.
	PacketDuration = 20 * time.Millisecond
	// SamplesPerPacket is the number of 8 kHz samples (and G.711 bytes, and
	// RTP timestamp units) in one packet.
	SamplesPerPacket = SampleRate / 50
)

// Writer sends RTP packets toward one party. The relay that owns the
// sockets supplies it; guidance never opens sockets.
//
// WriteRTP must not retain p or its payload after it returns: both are
// reused for the next packet. It is called from one goroutine at a time.
type Writer interface {
	WriteRTP(p *rtp.Packet) error
}

// WriterFunc adapts a function to a [Writer].
type WriterFunc func(p *rtp.Packet) error

// WriteRTP calls f(p).
func (f WriterFunc) WriteRTP(p *rtp.Packet) error { return f(p) }

// PlayerConfig sets the codec and the RTP stream a [Player] continues.
type PlayerConfig struct {
	// Codec is the leg's negotiated codec; the zero value is PCMU.
	Codec Codec
	// PayloadType is the RTP payload type to send; zero means the codec's
	// static type (0 for PCMU, 8 for PCMA).
	PayloadType uint8
	// SSRC is the synchronisation source of every packet.
	SSRC uint32
	// SequenceNumber is the sequence number of the first packet.
	SequenceNumber uint16
	// Timestamp is the RTP timestamp of the first packet.
	Timestamp uint32
}

// Player is the packetiser of one prompt for one leg: it turns the prompt
// into consecutive 20 ms RTP packets in the leg's codec, continuing the
// leg's SSRC, sequence numbers and timestamps, with the marker bit on the
// first packet (the start of a talkspurt, RFC 3551 §4.1). The final packet
// is padded with silence.
//
// A Player is not safe for concurrent use. [Player.Next] allocates nothing:
// it reuses one packet and one payload buffer.
type Player struct {
	samples []int16
	codec   Codec
	count   int // packets in the prompt
	next    int // index of the next packet
	seq0    uint16
	ts0     uint32
	pkt     rtp.Packet
	payload [SamplesPerPacket]byte
}

// NewPlayer returns a Player of prompt p with the given stream parameters.
func NewPlayer(p *Prompt, cfg PlayerConfig) (*Player, error) {
	if p == nil || p.Len() == 0 {
		return nil, fmt.Errorf("%w: nil or empty prompt", ErrPromptLength)
	}
	cfg.Codec = cfg.Codec.orPCMU()
	pt, err := cfg.Codec.payloadType(cfg.PayloadType, "PlayerConfig.PayloadType")
	if err != nil {
		return nil, err
	}
	pl := &Player{
		samples: p.samples,
		codec:   cfg.Codec,
		count:   p.Packets(),
		seq0:    cfg.SequenceNumber,
		ts0:     cfg.Timestamp,
	}
	pl.pkt.Header = rtp.Header{Version: 2, PayloadType: pt, SSRC: cfg.SSRC}
	return pl, nil
}

// Packets returns the number of packets the prompt makes.
func (pl *Player) Packets() int { return pl.count }

// Sent returns the number of packets [Player.Next] has produced.
func (pl *Player) Sent() int { return pl.next }

// Next returns the next packet, or false when the prompt is exhausted. The
// packet and its payload are reused by the following call; clone them to
// keep them.
func (pl *Player) Next() (*rtp.Packet, bool) {
	if pl.next >= pl.count {
		return nil, false
	}
	n := pl.next
	pl.next++
	start := n * SamplesPerPacket
	chunk := pl.samples[start:min(start+SamplesPerPacket, len(pl.samples))]
	for i, s := range chunk {
		pl.payload[i] = pl.codec.Encode(s)
	}
	if len(chunk) < SamplesPerPacket {
		silence := pl.codec.Encode(0)
		for i := len(chunk); i < SamplesPerPacket; i++ {
			pl.payload[i] = silence
		}
	}
	h := &pl.pkt.Header
	h.Marker = n == 0
	h.SequenceNumber = pl.seq0 + uint16(n)
	h.Timestamp = pl.ts0 + uint32(n)*SamplesPerPacket
	pl.pkt.Payload = pl.payload[:]
	return &pl.pkt, true
}

// Play sends the remaining packets to w, packet n at start + n×20 ms where
// start is the time when Play is called, so that late wake-ups never
// accumulate into drift. It returns after the last packet's 20 ms have
// elapsed, at the first write error, or when ctx ends (with an error
// wrapping [ErrInterrupted]).
func (pl *Player) Play(ctx context.Context, w Writer) error {
	return pl.playFrom(ctx, w, time.Now())
}

// playFrom is Play with packet n due at start + n×20 ms.
func (pl *Player) playFrom(ctx context.Context, w Writer, start time.Time) error {
	var werr error
	_, err := pace(ctx, start, pl.count-pl.next, func(int) bool {
		pkt, _ := pl.Next()
		if err := w.WriteRTP(pkt); err != nil {
			werr = fmt.Errorf("guidance: write packet %d: %w", pkt.SequenceNumber, err)
			return false
		}
		return true
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return nil
}

// pace calls send(n) for n = 0 … count-1 at start + n×PacketDuration, then
// waits until start + count×PacketDuration, when the last packet's audio has
// played out. Deadlines are absolute, so a late wake-up delays one packet
// but never the ones after it; packets already due are sent at once. It
// stops early when send returns false (returning a nil error) or when ctx
// ends, and returns the number of packets sent.
func pace(ctx context.Context, start time.Time, count int, send func(n int) bool) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for n := 0; n <= count; n++ {
		due := start.Add(time.Duration(n) * PacketDuration)
		if d := time.Until(due); d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-ctx.Done():
				return n, ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return n, err
		}
		if n < count && !send(n) {
			return n, nil
		}
	}
	return count, nil
}
