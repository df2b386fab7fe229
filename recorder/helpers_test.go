package recorder_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-audio/wav"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"

	"github.com/callrec/callrec/recorder"
)

// t0 is the start of every simulated call.
var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// tone generates 20 ms G.711 packets carrying a sine wave.
type tone struct {
	freq  float64
	codec recorder.Codec // CodecPCMU or CodecPCMA
	pt    uint8
	ssrc  uint32
	seq   uint16
	ts    uint32
	n     int // samples generated so far
}

func newTone(freq float64, ssrc uint32) *tone {
	return &tone{freq: freq, codec: recorder.CodecPCMU, ssrc: ssrc, seq: 1000, ts: 16000}
}

const packetSamples = 160

// next returns the next 20 ms packet and advances seq and ts.
func (g *tone) next() *rtp.Packet {
	payload := make([]byte, packetSamples)
	for i := range payload {
		s := int16(8000 * math.Sin(2*math.Pi*g.freq*float64(g.n+i)/recorder.SampleRate))
		if g.codec == recorder.CodecPCMA {
			payload[i] = g711.EncodeAlawFrame(s)
		} else {
			payload[i] = g711.EncodeUlawFrame(s)
		}
	}
	p := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: g.pt, SequenceNumber: g.seq, Timestamp: g.ts, SSRC: g.ssrc},
		Payload: payload,
	}
	g.n += packetSamples
	g.seq++
	g.ts += packetSamples
	return p
}

// skip advances the generator as if a packet had been sent.
func (g *tone) skip() { g.next() }

func marshal(t testing.TB, p *rtp.Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	require.NoError(t, err)
	return b
}

// at returns the arrival time of offset d into the call.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ms is a shorthand for milliseconds.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// memFile is an in-memory io.ReadWriteSeeker.
type memFile struct {
	buf []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.off + int64(len(p)); end > int64(len(m.buf)) {
		m.buf = append(m.buf, make([]byte, end-int64(len(m.buf)))...)
	}
	n := copy(m.buf[m.off:], p)
	m.off += int64(n)
	return n, nil
}

func (m *memFile) Read(p []byte) (int, error) {
	if m.off >= int64(len(m.buf)) {
		return 0, io.EOF
	}
	n := copy(p, m.buf[m.off:])
	m.off += int64(n)
	return n, nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.off
	case io.SeekEnd:
		off += int64(len(m.buf))
	}
	if off < 0 {
		return 0, os.ErrInvalid
	}
	m.off = off
	return off, nil
}

// counter is a discarding io.WriteSeeker that remembers the file's size.
type counter struct{ off, size int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.off += int64(len(p))
	c.size = max(c.size, c.off)
	return len(p), nil
}

func (c *counter) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += c.off
	case io.SeekEnd:
		off += c.size
	}
	c.off = off
	return off, nil
}

// audio is a decoded WAV file, one float slice per channel.
type audio struct {
	rate     int
	channels [][]float64
}

func decodeWAV(t testing.TB, data []byte) audio {
	t.Helper()
	d := wav.NewDecoder(bytes.NewReader(data))
	require.True(t, d.IsValidFile(), "go-audio/wav rejects the file")
	buf, err := d.FullPCMBuffer()
	require.NoError(t, err)
	require.EqualValues(t, 16, d.BitDepth)
	nch := buf.Format.NumChannels
	a := audio{rate: buf.Format.SampleRate, channels: make([][]float64, nch)}
	for i, v := range buf.Data {
		a.channels[i%nch] = append(a.channels[i%nch], float64(v))
	}
	return a
}

func readWAV(t testing.TB, path string) audio {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return decodeWAV(t, data)
}

func (a audio) duration() time.Duration {
	return time.Duration(len(a.channels[0])) * time.Second / time.Duration(a.rate)
}

// segment returns channel ch between from and to.
func (a audio) segment(ch int, from, to time.Duration) []float64 {
	i := int(from * time.Duration(a.rate) / time.Second)
	j := min(int(to*time.Duration(a.rate)/time.Second), len(a.channels[ch]))
	if i >= j {
		return nil
	}
	return a.channels[ch][i:j]
}

// goertzel returns the power of frequency f in x, normalised by length.
func goertzel(x []float64, f float64, rate int) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(x))
	return p / (n * n)
}

func rms(x []float64) float64 {
	var sum float64
	for _, v := range x {
		sum += v * v
	}
	return math.Sqrt(sum / float64(max(len(x), 1)))
}

// assertTone checks that channel ch carries freq (and not other) between from and to.
func assertTone(t testing.TB, a audio, ch int, from, to time.Duration, freq, other float64) {
	t.Helper()
	x := a.segment(ch, from, to)
	require.NotEmpty(t, x, "channel %d [%v, %v) is beyond the file (%v)", ch, from, to, a.duration())
	pf, po := goertzel(x, freq, a.rate), goertzel(x, other, a.rate)
	require.Greater(t, rms(x), 1000.0, "channel %d [%v, %v) is silent", ch, from, to)
	require.Greater(t, pf, 100*po, "channel %d [%v, %v): %v Hz is not dominant over %v Hz", ch, from, to, freq, other)
}

// assertSilent checks that channel ch is digital silence between from and to.
func assertSilent(t testing.TB, a audio, ch int, from, to time.Duration) {
	t.Helper()
	x := a.segment(ch, from, to)
	require.NotEmpty(t, x, "channel %d [%v, %v) is beyond the file (%v)", ch, from, to, a.duration())
	require.Less(t, rms(x), 1.0, "channel %d [%v, %v) is not silent", ch, from, to)
}

// call simulates a call: two tone generators and a recording on a fake clock.
type call struct {
	t      testing.TB
	clk    *fakeClock
	rec    *recorder.Recording
	caller *tone
	callee *tone
	path   string
	held   *rtp.Packet // a packet a test delays
}

func newCall(t testing.TB, mutate func(*recorder.Config)) *call {
	t.Helper()
	c := &call{t: t, clk: newClock(), caller: newTone(440, 0xCA110000), callee: newTone(1000, 0xCA110000)}
	c.path = t.TempDir() + "/call.wav"
	cfg := recorder.Config{Path: c.path, Clock: c.clk.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	if cfg.Writer != nil {
		c.path = ""
	}
	rec, err := recorder.New(cfg)
	require.NoError(t, err)
	c.rec = rec
	return c
}

// send writes p to leg at offset d into the call.
func (c *call) send(leg *recorder.Leg, p *rtp.Packet, d time.Duration) {
	c.t.Helper()
	require.NoError(c.t, leg.Write(marshal(c.t, p), at(d)))
}

// talk sends 20 ms packets from both parties (whichever is non-nil per
// the filter) for [from, to), each arriving on time.
func (c *call) talk(from, to time.Duration, caller, callee bool) {
	c.t.Helper()
	for d := from; d < to; d += 20 * time.Millisecond {
		if caller {
			c.send(c.rec.Caller(), c.caller.next(), d)
		}
		if callee {
			c.send(c.rec.Callee(), c.callee.next(), d)
		}
	}
}

// close ends the call at offset d and returns the result and decoded audio.
func (c *call) close(d time.Duration) (recorder.Result, audio) {
	c.t.Helper()
	c.clk.Set(at(d))
	res, err := c.rec.Close(context.Background())
	require.NoError(c.t, err)
	if c.path == "" {
		return res, audio{}
	}
	return res, readWAV(c.t, c.path)
}
