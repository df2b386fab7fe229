package guidance

import (
	"fmt"
	"math"
	"time"

	"github.com/pion/rtp"
)

// Beep configures a periodic tone mixed into the relayed audio once guidance
// is over, the recording notice used in markets that require a tone
// rather than (or as well as) an announcement. The zero value disables it.
type Beep struct {
	// Interval is the time from the start of one beep to the next; zero
	// disables the beep. The first beep sounds as relaying resumes.
	Interval time.Duration
	// Frequency of the tone in Hz; zero means 1400 Hz.
	Frequency float64
	// Length of each beep; zero means 200 ms. It must be shorter than
	// Interval.
	Length time.Duration
	// Level of the tone in dBFS; zero means -18 dBFS. It must be negative
	// and at least -60.
	Level float64
}

// Beep defaults.
const (
	DefaultBeepFrequency = 1400.0
	DefaultBeepLength    = 200 * time.Millisecond
	DefaultBeepLevel     = -18.0
)

// beepRamp is the raised-cosine fade at each end of a beep, avoiding
// clicks.
const beepRamp = 5 * time.Millisecond

// beepTone is a synthesised beep: its samples and its period, both in 8 kHz
// timestamp units. It is immutable and shared by the streams.
type beepTone struct {
	samples []int16
	period  uint32
}

// newBeepTone validates b and synthesises its tone; it returns nil when the
// beep is disabled.
func newBeepTone(b Beep) (*beepTone, error) {
	if b.Interval == 0 {
		return nil, nil
	}
	if b.Frequency == 0 {
		b.Frequency = DefaultBeepFrequency
	}
	if b.Length == 0 {
		b.Length = DefaultBeepLength
	}
	if b.Level == 0 {
		b.Level = DefaultBeepLevel
	}
	switch {
	case b.Interval < 0 || b.Interval > time.Hour:
		return nil, fmt.Errorf("%w: Beep.Interval: %v (want 0 to 1h)", ErrInvalidConfig, b.Interval)
	case !(b.Frequency > 0 && b.Frequency < SampleRate/2):
		return nil, fmt.Errorf("%w: Beep.Frequency: %v Hz (want 0 to %d)", ErrInvalidConfig, b.Frequency, SampleRate/2)
	case b.Length < 2*beepRamp || b.Length >= b.Interval:
		return nil, fmt.Errorf("%w: Beep.Length: %v (want %v to Interval %v)", ErrInvalidConfig, b.Length, 2*beepRamp, b.Interval)
	case !(b.Level >= -60 && b.Level < 0):
		return nil, fmt.Errorf("%w: Beep.Level: %v dBFS (want -60 to below 0)", ErrInvalidConfig, b.Level)
	}
	n := int(b.Length * SampleRate / time.Second)
	ramp := int(beepRamp * SampleRate / time.Second)
	amp := math.MaxInt16 * math.Pow(10, b.Level/20)
	t := &beepTone{samples: make([]int16, n), period: uint32(b.Interval * SampleRate / time.Second)}
	for i := range t.samples {
		env := 1.0
		if k := min(i, n-1-i); k < ramp {
			env = 0.5 - 0.5*math.Cos(math.Pi*float64(k)/float64(ramp))
		}
		t.samples[i] = int16(math.Round(amp * env * math.Sin(2*math.Pi*b.Frequency*float64(i)/SampleRate)))
	}
	return t, nil
}

// beeper mixes a beepTone into one stream, the beeps placed by RTP
// timestamp from the first packet it sees.
type beeper struct {
	tone     *beepTone
	origin   uint32
	anchored bool
}

// mix adds the tone to the G.711 payload of p (already rewritten to the
// output timestamps) where a beep is due, saturating at full scale.
func (b *beeper) mix(p *rtp.Packet, c Codec) {
	if !b.anchored {
		b.origin, b.anchored = p.Timestamp, true
	}
	tone := b.tone.samples
	// Fast path: the packet lies wholly between two beeps.
	off := int32(p.Timestamp - b.origin)
	if off >= 0 {
		pos := uint32(off) % b.tone.period
		if pos >= uint32(len(tone)) && pos+uint32(len(p.Payload)) <= b.tone.period {
			return
		}
	}
	for i, code := range p.Payload {
		d := off + int32(i)
		if d < 0 {
			continue // before the first beep (a late, reordered packet)
		}
		pos := uint32(d) % b.tone.period
		if pos >= uint32(len(tone)) {
			continue
		}
		v := int32(c.Decode(code)) + int32(tone[pos])
		p.Payload[i] = c.Encode(int16(max(math.MinInt16, min(math.MaxInt16, v))))
	}
}
