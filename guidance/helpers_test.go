package guidance

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// fakeClock is a Clock whose timers fire as soon as they are armed: arming
// a timer for d advances the clock by d plus late(n), the simulated
// wake-up lateness of the n-th firing. Timers armed after stallAfter
// firings (when positive) never fire, so that a test can end a context
// deterministically.
type fakeClock struct {
	mu         sync.Mutex
	now        time.Time
	fires      int
	late       func(n int) time.Duration
	stallAfter int
}

var epoch = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

type fakeTimer struct {
	c  *fakeClock
	ch chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	t.Stop()
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stallAfter > 0 && c.fires >= c.stallAfter {
		return
	}
	var late time.Duration
	if c.late != nil {
		late = c.late(c.fires)
	}
	c.fires++
	c.now = c.now.Add(d + late)
	t.ch <- c.now
}

func (t *fakeTimer) Stop() {
	select {
	case <-t.ch:
	default:
	}
}

// sentPacket is a packet captured by a capture writer, with the clock time
// of the write.
type sentPacket struct {
	pkt  *rtp.Packet
	at   time.Time
	kind string // "injected" or "relayed"
}

// capture is a Writer that records clones of what it is given.
type capture struct {
	mu    sync.Mutex
	clock Clock
	pkts  []sentPacket
	hook  func(p *rtp.Packet) // called after recording, outside the lock
}

func (c *capture) WriteRTP(p *rtp.Packet) error {
	c.add(p, "injected")
	if c.hook != nil {
		c.hook(p)
	}
	return nil
}

func (c *capture) add(p *rtp.Packet, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, sentPacket{pkt: p.Clone(), at: c.clock.Now(), kind: kind})
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
