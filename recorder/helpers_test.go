package recorder_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
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

func marshal(t testing.TB, p *rtp.Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	require.NoError(t, err)
	return b
}

// at returns the arrival time of offset d into the call.
func at(d time.Duration) time.Time { return t0.Add(d) }

// newTone returns a PCMU tone generator.
func newTone(freq float64, ssrc uint32) *recordertest.Tone { return recordertest.NewTone(freq, ssrc) }

const packetSamples = recordertest.PacketSamples

// audio is a decoded recording.
type audio = recordertest.Audio

func decodeWAV(t testing.TB, data []byte) audio {
	t.Helper()
	a, err := recordertest.Decode(data)
	require.NoError(t, err)
	return a
}

// readFile returns the bytes of the file at path.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func readWAV(t testing.TB, path string) audio {
	t.Helper()
	a, err := recordertest.ReadFile(path)
	require.NoError(t, err)
	return a
}

// assertTone checks that channel ch carries freq (and not other) between from and to.
func assertTone(t testing.TB, a audio, ch int, from, to time.Duration, freq, other float64) {
	t.Helper()
	require.NoError(t, recordertest.CheckTone(a, ch, from, to, freq, other))
}

// assertSilent checks that channel ch is digital silence between from and to.
func assertSilent(t testing.TB, a audio, ch int, from, to time.Duration) {
	t.Helper()
	require.NoError(t, recordertest.CheckSilent(a, ch, from, to))
}

// call simulates a call: two tone generators and a recording on a fake clock.
type call struct {
	t      testing.TB
	clk    *fakeClock
	rec    *recorder.Recording
	caller *recordertest.Tone
	callee *recordertest.Tone
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
			c.send(c.rec.Caller(), c.caller.Next(), d)
		}
		if callee {
			c.send(c.rec.Callee(), c.callee.Next(), d)
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
