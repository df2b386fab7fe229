package recorder_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/recorder"
	"github.com/callrec/callrec/recorder/recordertest"
)

const (
	left  = 0
	right = 1
)

func TestStereoBothParties(t *testing.T) {
	c := newCall(t, nil)
	c.talk(0, 3*time.Second, true, true)
	res, a := c.close(3 * time.Second)

	require.Len(t, a.Channels, 2)
	assert.Equal(t, 2, res.Channels)
	assert.Equal(t, recorder.Stereo, res.Mode)
	assert.InDelta(t, 3*time.Second, a.Duration(), float64(20*time.Millisecond))
	assert.Equal(t, a.Duration(), res.Duration)
	assertTone(t, a, left, 0, 3*time.Second, 440, 1000)
	assertTone(t, a, right, 0, 3*time.Second, 1000, 440)
	for _, s := range []recorder.Stats{res.Caller, res.Callee} {
		assert.EqualValues(t, 150, s.Received)
		assert.EqualValues(t, 150, s.Decoded)
		assert.Zero(t, s.Lost+s.Late+s.Duplicated+s.Reordered+s.Skipped+s.Malformed+s.Reanchors+s.SSRCChanges)
		assert.Equal(t, at(0), s.First)
		assert.Equal(t, at(2980*time.Millisecond), s.Last)
	}

	data, err := os.ReadFile(c.path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(sum[:]), res.SHA256)
	assert.EqualValues(t, len(data), res.Size)
	assert.Equal(t, c.path, res.Path)
}

func TestMonoMixesBothParties(t *testing.T) {
	c := newCall(t, func(cfg *recorder.Config) { cfg.Mode = recorder.Mono })
	c.talk(0, 2*time.Second, true, true)
	c.talk(2*time.Second, 3*time.Second, true, false)
	res, a := c.close(3 * time.Second)

	require.Len(t, a.Channels, 1)
	assert.Equal(t, 1, res.Channels)
	x := a.Segment(0, 0, 2*time.Second)
	p440, p1000 := recordertest.Power(x, 440, a.SampleRate), recordertest.Power(x, 1000, a.SampleRate)
	assert.InDelta(t, 1, p440/p1000, 0.2, "both parties at the same level")
	assertTone(t, a, 0, 2*time.Second, 3*time.Second, 440, 1000)
}

func TestMonoSaturates(t *testing.T) {
	c := newCall(t, func(cfg *recorder.Config) { cfg.Mode = recorder.Mono })
	loud := func(g *recordertest.Tone, sign byte) *rtp.Packet {
		p := g.Next()
		for i := range p.Payload {
			p.Payload[i] = sign // µ-law 0x80 is +32124, 0x00 is -32124
		}
		return p
	}
	for i := range 10 {
		d := time.Duration(i) * 20 * time.Millisecond
		c.send(c.rec.Caller(), loud(c.caller, 0x80), d)
		c.send(c.rec.Callee(), loud(c.callee, 0x80), d)
	}
	for i := 10; i < 20; i++ {
		d := time.Duration(i) * 20 * time.Millisecond
		c.send(c.rec.Caller(), loud(c.caller, 0x00), d)
		c.send(c.rec.Callee(), loud(c.callee, 0x00), d)
	}
	_, a := c.close(400 * time.Millisecond)
	for _, v := range a.Segment(0, 0, 200*time.Millisecond) {
		require.EqualValues(t, 32767, v)
	}
	for _, v := range a.Segment(0, 200*time.Millisecond, 400*time.Millisecond) {
		require.EqualValues(t, -32768, v)
	}
}

func TestTimeline(t *testing.T) {
	tests := map[string]struct {
		run   func(c *call)
		end   time.Duration
		check func(t *testing.T, res recorder.Result, a audio)
	}{
		"callee starts 3 s late": {
			run: func(c *call) {
				c.talk(0, 3*time.Second, true, false)
				c.talk(3*time.Second, 6*time.Second, true, true)
			},
			end: 6 * time.Second,
			check: func(t *testing.T, res recorder.Result, a audio) {
				assertTone(t, a, left, 0, 6*time.Second, 440, 1000)
				assertSilent(t, a, right, 0, 2990*time.Millisecond)
				assertTone(t, a, right, 3*time.Second, 6*time.Second, 1000, 440)
				assert.Equal(t, at(3*time.Second), res.Callee.First)
			},
		},
		"callee never sends": {
			run: func(c *call) { c.talk(0, 2*time.Second, true, false) },
			end: 2 * time.Second,
			check: func(t *testing.T, res recorder.Result, a audio) {
				assertTone(t, a, left, 0, 2*time.Second, 440, 1000)
				assertSilent(t, a, right, 0, 2*time.Second)
				assert.Zero(t, res.Callee.Received)
				assert.True(t, res.Callee.First.IsZero())
			},
		},
		"silence until the call ends": {
			run: func(c *call) { c.talk(0, time.Second, true, true) },
			end: 4 * time.Second,
			check: func(t *testing.T, res recorder.Result, a audio) {
				assert.InDelta(t, 4*time.Second, a.Duration(), float64(time.Millisecond))
				assertSilent(t, a, left, 1010*time.Millisecond, 4*time.Second)
				assertSilent(t, a, right, 1010*time.Millisecond, 4*time.Second)
			},
		},
		"nobody sends": {
			run: func(c *call) {},
			end: time.Second,
			check: func(t *testing.T, res recorder.Result, a audio) {
				assert.Equal(t, time.Second, res.Duration)
				assertSilent(t, a, left, 0, time.Second)
				assertSilent(t, a, right, 0, time.Second)
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := newCall(t, nil)
			tt.run(c)
			res, a := c.close(tt.end)
			assert.InDelta(t, tt.end, a.Duration(), float64(20*time.Millisecond))
			tt.check(t, res, a)
		})
	}
}

// TestNetworkFaults runs a 3 s call whose caller leg suffers one fault; the
// callee talks normally. Each case checks the caller's channel and stats,
// and that the fault leaked nothing into the callee's channel.
func TestNetworkFaults(t *testing.T) {
	const end = 3 * time.Second
	tests := map[string]struct {
		setup func(g *recordertest.Tone)
		// send delivers caller packet i (due at offset due); it returns
		// false to use the default on-time delivery.
		send  func(c *call, i int, due time.Duration) bool
		check func(t *testing.T, s recorder.Stats, a audio)
		// over is how much longer than the call the file may be, when the
		// caller's last packet arrives after the end; default 20 ms.
		over time.Duration
	}{
		"loss of one second": {
			send: func(c *call, i int, due time.Duration) bool {
				if i >= 50 && i < 100 {
					c.caller.Skip()
					return true
				}
				return false
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 50, s.Lost)
				assert.EqualValues(t, 100, s.Decoded)
				assertTone(t, a, left, 0, time.Second, 440, 1000)
				assertSilent(t, a, left, time.Second, 2*time.Second)
				assertTone(t, a, left, 2*time.Second, end, 440, 1000)
			},
		},
		"reordered pairs": {
			send: func(c *call, i int, due time.Duration) bool {
				if i%10 == 4 {
					first, second := c.caller.Next(), c.caller.Next()
					c.send(c.rec.Caller(), second, due+20*time.Millisecond)
					c.send(c.rec.Caller(), first, due+25*time.Millisecond)
					return true
				}
				return i%10 == 5
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 15, s.Reordered)
				assert.EqualValues(t, 150, s.Decoded)
				assert.Zero(t, s.Late+s.Lost)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"duplicates": {
			send: func(c *call, i int, due time.Duration) bool {
				if i%5 != 0 {
					return false
				}
				raw := marshal(t, c.caller.Next())
				require.NoError(t, c.rec.Caller().Write(raw, at(due)))
				require.NoError(t, c.rec.Caller().Write(raw, at(due+30*time.Millisecond)))
				return true
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 30, s.Duplicated)
				assert.EqualValues(t, 150, s.Decoded)
				assert.EqualValues(t, 180, s.Received)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"sequence and timestamp wrap-around": {
			setup: func(g *recordertest.Tone) { g.Seq, g.TS = 65500, 0xFFFFFFFF-160*40 },
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.Zero(t, s.Lost+s.Late+s.Reanchors)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"ssrc change mid-call": {
			send: func(c *call, i int, due time.Duration) bool {
				if i == 75 {
					c.caller.SSRC, c.caller.Seq, c.caller.TS = 0x5EC0DD, 7, 123456789
				}
				return false
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 1, s.SSRCChanges)
				assert.Zero(t, s.Lost+s.Late)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"talkspurts with marker bit": {
			send: talkspurt(true),
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.Zero(t, s.Lost+s.Late+s.Reanchors)
				assertTone(t, a, left, 0, time.Second, 440, 1000)
				assertSilent(t, a, left, time.Second, 2*time.Second)
				assertTone(t, a, left, 2*time.Second, end, 440, 1000)
			},
		},
		"talkspurt whose timestamps did not run on": {
			send: talkspurt(false),
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 1, s.Reanchors)
				assert.Zero(t, s.Lost+s.Late)
				assertSilent(t, a, left, time.Second, 2*time.Second)
				assertTone(t, a, left, 2*time.Second, end, 440, 1000)
			},
		},
		"timestamp jump forward of half the clock": {
			send: tsJump(1 << 31),
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 1, s.Reanchors)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"timestamp jump back by an hour": {
			send: tsJump(-(3600 * recorder.SampleRate)),
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 1, s.Reanchors)
				assert.Zero(t, s.Late)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"timestamp jump forward by 300 ms": {
			send: tsJump(300 * 8),
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 1, s.Reanchors)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"packet older than the window": {
			send: func(c *call, i int, due time.Duration) bool {
				switch i {
				case 50:
					c.held = c.caller.Next()
					return true
				case 60:
					c.send(c.rec.Caller(), c.caller.Next(), due)
					c.send(c.rec.Caller(), c.held, due)
					return true
				}
				return false
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 1, s.Late)
				assert.EqualValues(t, 1, s.Reordered)
				assert.EqualValues(t, 149, s.Decoded)
				assert.Zero(t, s.Lost)
				assertSilent(t, a, left, time.Second, 1020*time.Millisecond)
				assertTone(t, a, left, 1020*time.Millisecond, end, 440, 1000)
			},
		},
		"packet late within the window": {
			send: func(c *call, i int, due time.Duration) bool {
				if i == 50 {
					c.send(c.rec.Caller(), c.caller.Next(), due+50*time.Millisecond)
					return true
				}
				return false
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.Zero(t, s.Late+s.Lost+s.Reanchors)
				assertContinuous(t, a, left, 0, end)
			},
		},
		"malformed packets": {
			send: func(c *call, i int, due time.Duration) bool {
				if i%30 != 7 {
					return false
				}
				raw := marshal(t, c.caller.Next())
				err := c.rec.Caller().Write(raw[:7], at(due))
				require.ErrorIs(t, err, recorder.ErrMalformed)
				raw[0] = 0x40 // version 1
				require.ErrorIs(t, c.rec.Caller().Write(raw, at(due)), recorder.ErrMalformed)
				raw[0] = 0x8f // 15 CSRCs that are not there
				require.ErrorIs(t, c.rec.Caller().Write(raw[:40], at(due)), recorder.ErrMalformed)
				require.ErrorIs(t, c.rec.Caller().WriteRTP(nil, at(due)), recorder.ErrMalformed)
				return true
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.EqualValues(t, 20, s.Malformed)
				assert.EqualValues(t, 5, s.Lost)
				assert.EqualValues(t, 145, s.Decoded)
				assertTone(t, a, left, 0, 140*time.Millisecond, 440, 1000)
				assertTone(t, a, left, 2500*time.Millisecond, end, 440, 1000)
			},
		},
		"sender clock 2% slow": {
			over: 60 * time.Millisecond,
			send: func(c *call, i int, due time.Duration) bool {
				c.send(c.rec.Caller(), c.caller.Next(), due+due/50)
				return true
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.Zero(t, s.Late, "the leg moves before its packets come too late")
				assert.EqualValues(t, 150, s.Decoded)
				assert.EqualValues(t, 1, s.Reanchors)
				assertTone(t, a, left, 0, end, 440, 1000)
			},
		},
		"sender clock 2% fast": {
			send: func(c *call, i int, due time.Duration) bool {
				c.send(c.rec.Caller(), c.caller.Next(), due-due/50)
				return true
			},
			check: func(t *testing.T, s recorder.Stats, a audio) {
				assert.Zero(t, s.Late)
				assert.EqualValues(t, 150, s.Decoded)
				assert.LessOrEqual(t, s.Reanchors, uint64(1), "60 ms ahead after 3 s: at the window's edge")
				assertContinuous(t, a, left, 0, end-60*time.Millisecond)
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := newCall(t, nil)
			if tt.setup != nil {
				tt.setup(c.caller)
			}
			for i := range int(end / (20 * time.Millisecond)) {
				due := time.Duration(i) * 20 * time.Millisecond
				if tt.send == nil || !tt.send(c, i, due) {
					c.send(c.rec.Caller(), c.caller.Next(), due)
				}
				c.send(c.rec.Callee(), c.callee.Next(), due)
			}
			res, a := c.close(end)
			assert.GreaterOrEqual(t, a.Duration(), end)
			assert.LessOrEqual(t, a.Duration(), end+max(tt.over, 20*time.Millisecond))
			tt.check(t, res.Caller, a)
			s := res.Caller
			assert.Equal(t, s.Received, s.Decoded+s.ComfortNoise+s.EventPackets+s.Skipped+s.Late+s.Duplicated)
			assertTone(t, a, right, 0, end, 1000, 440)
			assert.EqualValues(t, 150, res.Callee.Decoded)
		})
	}
}

// talkspurt makes the caller silent (no packets) from 1 s to 2 s, then
// starts a talkspurt with the marker bit; its timestamps run on during the
// silence, as RFC 3551 wants, or not.
func talkspurt(runOn bool) func(c *call, i int, due time.Duration) bool {
	return func(c *call, i int, due time.Duration) bool {
		switch {
		case i >= 50 && i < 100:
			if runOn {
				c.caller.Skip()
				c.caller.Seq--
			}
			return true
		case i == 100:
			p := c.caller.Next()
			p.Marker = true
			c.send(c.rec.Caller(), p, due)
			return true
		}
		return false
	}
}

// tsJump moves the caller's timestamps by delta at 1.5 s.
func tsJump(delta int64) func(c *call, i int, due time.Duration) bool {
	return func(c *call, i int, due time.Duration) bool {
		if i == 75 {
			c.caller.TS += uint32(delta)
		}
		return false
	}
}

// assertContinuous checks that channel ch has the tone in every 20 ms slot
// between from and to: no gap, no overlap glitch large enough to silence a
// slot.
func assertContinuous(t testing.TB, a audio, ch int, from, to time.Duration) {
	t.Helper()
	assertTone(t, a, ch, from, to, 440, 1000)
	for d := from; d+20*time.Millisecond <= to; d += 20 * time.Millisecond {
		x := a.Segment(ch, d, d+20*time.Millisecond)
		require.Greater(t, recordertest.RMS(x), 1000.0, "channel %d has a gap at %v", ch, d)
	}
}

func TestPayloadKinds(t *testing.T) {
	c := newCall(t, func(cfg *recorder.Config) {
		cfg.CallerPayloadTypes = recorder.PayloadTypes{0: recorder.CodecPCMU, 13: recorder.CodecComfortNoise}
		cfg.CalleePayloadTypes = recorder.PayloadTypes{8: recorder.CodecPCMA, 101: recorder.CodecTelephoneEvent}
	})
	c.callee.Codec, c.callee.PayloadType = recorder.CodecPCMA, 8
	var evTS uint32
	for i := range 150 {
		due := time.Duration(i) * 20 * time.Millisecond
		switch {
		case i == 50: // comfort noise, then nothing for a second
			p := c.caller.Next()
			p.PayloadType, p.Payload = 13, []byte{40}
			c.send(c.rec.Caller(), p, due)
		case i > 50 && i < 100:
			c.caller.Skip()
			c.caller.Seq--
		case i >= 100 && i < 125: // G.729, not in the map: skipped
			p := c.caller.Next()
			p.PayloadType, p.Payload = 18, make([]byte, 20)
			c.send(c.rec.Caller(), p, due)
		default:
			c.send(c.rec.Caller(), c.caller.Next(), due)
		}
		if i >= 75 && i < 80 { // key 5 held for 100 ms: events, not audio
			p := c.callee.Next()
			if i == 75 {
				evTS = p.Timestamp
			}
			dur := 160 * (i - 74)
			p.PayloadType, p.Timestamp = 101, evTS
			p.Payload = []byte{5, 10, byte(dur >> 8), byte(dur)}
			copies := 1
			if i == 79 {
				p.Payload[1] |= 0x80
				copies = 3 // the end packet is sent three times
			}
			for k := range copies {
				if k > 0 {
					p.SequenceNumber = c.callee.Seq
					c.callee.Seq++
				}
				c.send(c.rec.Callee(), p, due)
			}
			continue
		}
		c.send(c.rec.Callee(), c.callee.Next(), due)
	}
	res, a := c.close(3 * time.Second)

	assert.EqualValues(t, 1, res.Caller.ComfortNoise)
	assert.EqualValues(t, 25, res.Caller.Skipped)
	assertTone(t, a, left, 0, time.Second, 440, 1000)
	assertSilent(t, a, left, time.Second, 2500*time.Millisecond)
	assertTone(t, a, left, 2500*time.Millisecond, 3*time.Second, 440, 1000)

	assert.EqualValues(t, 7, res.Callee.EventPackets)
	assert.EqualValues(t, 1, res.Callee.DTMFEvents)
	assert.Zero(t, res.Callee.Lost+res.Callee.Late+res.Callee.Reanchors)
	require.Len(t, res.DTMF, 1)
	assert.Equal(t, recorder.DTMFEvent{Side: recorder.SideCallee, Event: 5, Digit: '5', At: 1500 * time.Millisecond, Duration: 100 * time.Millisecond}, res.DTMF[0])
	assertTone(t, a, right, 0, 1500*time.Millisecond, 1000, 440)
	assertSilent(t, a, right, 1500*time.Millisecond, 1600*time.Millisecond)
	assertTone(t, a, right, 1600*time.Millisecond, 3*time.Second, 1000, 440)
}

// TestJitterWindow delays one caller packet by 150 ms: a 200 ms window
// still plays it, the default 60 ms window drops it as late.
func TestJitterWindow(t *testing.T) {
	tests := map[string]struct {
		window time.Duration
		late   uint64
	}{
		"default window": {window: 0, late: 1},
		"200 ms window":  {window: 200 * time.Millisecond, late: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := newCall(t, func(cfg *recorder.Config) { cfg.JitterWindow = tt.window })
			for i := range 50 {
				due := time.Duration(i) * 20 * time.Millisecond
				switch i {
				case 20:
					c.held = c.caller.Next()
				case 27:
					c.send(c.rec.Caller(), c.caller.Next(), due)
					c.send(c.rec.Caller(), c.held, due+10*time.Millisecond)
				default:
					c.send(c.rec.Caller(), c.caller.Next(), due)
				}
				c.send(c.rec.Callee(), c.callee.Next(), due)
			}
			res, a := c.close(time.Second)
			assert.Equal(t, tt.late, res.Caller.Late)
			assert.Zero(t, res.Caller.Lost)
			if tt.late == 0 {
				assertContinuous(t, a, left, 0, time.Second)
			} else {
				assertSilent(t, a, left, 400*time.Millisecond, 420*time.Millisecond)
			}
		})
	}
}

// TestLongPackets records a caller sending 120 ms packets against a callee
// sending 20 ms ones: both are played whole, nothing is late. The caller is
// heard from its first packet's arrival, 100 ms in.
func TestLongPackets(t *testing.T) {
	c := newCall(t, nil)
	const per = 6 // 20 ms packets in a caller packet
	for i := range 150 {
		d := time.Duration(i) * 20 * time.Millisecond
		if i%per == per-1 { // sent once its 120 ms are captured
			p := c.caller.Next()
			for range per - 1 {
				q := c.caller.Next()
				p.Payload = append(p.Payload, q.Payload...)
			}
			p.SequenceNumber = uint16(i / per)
			c.send(c.rec.Caller(), p, d)
		}
		c.send(c.rec.Callee(), c.callee.Next(), d)
	}
	res, a := c.close(3 * time.Second)
	assert.EqualValues(t, 25, res.Caller.Decoded)
	assert.Zero(t, res.Caller.Late+res.Callee.Late+res.Caller.Lost+res.Caller.Reanchors)
	assertSilent(t, a, left, 0, 100*time.Millisecond)
	assertContinuous(t, a, left, 100*time.Millisecond, 3*time.Second)
	assertContinuousTone(t, a, right, 0, 3*time.Second, 1000)
}
