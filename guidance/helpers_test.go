package guidance

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// sentPacket is a packet captured by a capture writer, with the time of the
// write. The tests that look at times run in a testing/synctest bubble, where
// time moves only when every goroutine of the test waits.
type sentPacket struct {
	pkt  *rtp.Packet
	at   time.Time
	kind string // "injected" or "relayed"
}

// capture is a Writer that records clones of what it is given.
type capture struct {
	mu   sync.Mutex
	pkts []sentPacket
	hook func(p *rtp.Packet) // called after recording, outside the lock
	// late, when set, delays the n-th write (from 0) by late(n) before it
	// is recorded: in a bubble, the sender's wake-up was that late.
	late   func(n int) time.Duration
	writes int
}

func (c *capture) WriteRTP(p *rtp.Packet) error {
	if c.late != nil {
		c.mu.Lock()
		n := c.writes
		c.writes++
		c.mu.Unlock()
		time.Sleep(c.late(n))
	}
	c.add(p, "injected")
	if c.hook != nil {
		c.hook(p)
	}
	return nil
}

func (c *capture) add(p *rtp.Packet, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, sentPacket{pkt: p.Clone(), at: time.Now(), kind: kind})
}

func (c *capture) packets() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentPacket(nil), c.pkts...)
}

// tonePrompt returns an 8 kHz prompt of a sine at freq Hz and amplitude amp
// lasting d, plus a little harmonic content so that codec tests see every
// segment.
func tonePrompt(t testing.TB, freq, amp float64, d time.Duration) *Prompt {
	t.Helper()
	n := int(d * SampleRate / time.Second)
	s := make([]int16, n)
	for i := range s {
		x := 2 * math.Pi * freq * float64(i) / SampleRate
		s[i] = int16(math.Round(amp * (0.8*math.Sin(x) + 0.2*math.Sin(3.7*x))))
	}
	p, err := NewPrompt(s, SampleRate, 1)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decodePayloads concatenates the G.711-decoded payloads of pkts.
func decodePayloads(c Codec, pkts []sentPacket) []int16 {
	var out []int16
	for _, sp := range pkts {
		for _, b := range sp.pkt.Payload {
			out = append(out, c.Decode(b))
		}
	}
	return out
}

// rms returns the root mean square of s.
func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(1, len(s))))
}

// goertzel returns the amplitude of the freq Hz component of s (sampled at
// rate Hz), as the peak amplitude of a sine of that frequency.
func goertzel(s []float64, freq float64, rate int) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range s {
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(s))
}

func toFloat(s []int16) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}
