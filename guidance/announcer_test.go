package guidance

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecorderGetsNoGuidanceAudio simulates the relay and a recorder that
// records what RelayRecord says to record. Early media is not recorded. While the
// guidance plays, both parties keep talking: none of their audio may be
// relayed or recorded, and no guidance audio may reach the recorder. The
// GuidanceEnded event and Play's return come before the first recorded
// packet, and the recording then has both parties' audio from the end of
// the guidance on.
func TestRecorderGetsNoGuidanceAudio(t *testing.T) {
	for _, mode := range []Mode{ModeBoth, ModeCallerOnly, ModeCalleeOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toCaller := newDirection(t, PCMU, 0)
				toCallee := newDirection(t, PCMA, 0)
				callee := &party{ssrc: 1, pt: 0, seq: 10, ts: 10, code: 0x5A}
				caller := &party{ssrc: 2, pt: 8, seq: 20, ts: 20, code: 0x3C}

				var events []Event
				var ended bool
				a, err := NewAnnouncer(Config{Mode: mode, OnEvent: func(e Event) {
					events = append(events, e)
					ended = ended || e.Type == GuidanceEnded
				}})
				require.NoError(t, err)

				// Early media is relayed but not recorded.
				for range 3 {
					require.True(t, toCaller.forward(callee.next()))
					time.Sleep(PacketDuration)
				}
				require.Empty(t, toCaller.recorded)
				tick := 0
				talk := func(*rtp.Packet) {
					tick++
					assert.False(t, toCaller.forward(callee.next()))
					assert.False(t, toCallee.forward(caller.next()))
				}
				listener := toCaller
				if mode == ModeCalleeOnly {
					listener = toCallee
				}
				listener.out.hook = talk
				res, err := a.Play(context.Background(), 4, toCaller.s, toCallee.s)
				require.NoError(t, err)
				listener.out.hook = nil
				require.True(t, ended, "GuidanceEnded reported before Play returns")
				require.Positive(t, tick)
				assert.Empty(t, toCaller.recorded, "recorded during guidance")
				assert.Empty(t, toCallee.recorded, "recorded during guidance")

				for range 10 {
					require.True(t, toCaller.forward(callee.next()))
					require.True(t, toCallee.forward(caller.next()))
					time.Sleep(PacketDuration)
				}
				for _, d := range []*direction{toCaller, toCallee} {
					require.Len(t, d.recorded, 10)
					pkts := d.out.packets()
					assert.Equal(t, pkts[len(pkts)-10].pkt.SequenceNumber, d.recorded[0].SequenceNumber,
						"recording starts with the first packet after the guidance")
					for _, p := range d.recorded {
						code := p.Payload[0]
						assert.True(t, code == 0x5A || code == 0x3C, "recorded non-party audio")
						for _, b := range p.Payload {
							require.Equal(t, code, b)
						}
					}
					assert.Equal(t, uint64(tick), d.s.Stats().Dropped)
				}
				require.Len(t, events, 2)
				assert.Equal(t, Event{Type: GuidanceStarted, Time: res.Started, Announcement: 4, Mode: mode, ToCaller: toCaller.s, ToCallee: toCallee.s}, events[0])
				assert.Equal(t, Event{Type: GuidanceEnded, Time: res.Ended, Announcement: 4, Mode: mode, ToCaller: toCaller.s, ToCallee: toCallee.s}, events[1])

				// Only the parties the mode selects heard the prompt.
				p, err := a.Prompt(4)
				require.NoError(t, err)
				for _, c := range []struct {
					d     *direction
					hears bool
				}{{toCaller, mode != ModeCalleeOnly}, {toCallee, mode != ModeCallerOnly}} {
					want := 0
					if c.hears {
						want = p.Packets()
					}
					assert.Equal(t, uint64(want), c.d.s.Stats().Injected)
					pkts := c.d.out.packets()
					if c.hears {
						checkContinuity(t, pkts, 0)
						continue
					}
					// A muted direction sends nothing during the guidance: the
					// sequence continues and the timestamp advances by the time
					// elapsed, with the marker on the first packet after.
					for i := 1; i < len(pkts); i++ {
						prev, cur := pkts[i-1], pkts[i]
						require.Equal(t, prev.pkt.SequenceNumber+1, cur.pkt.SequenceNumber)
						elapsed := uint32(cur.at.Sub(prev.at) * SampleRate / time.Second)
						require.Equal(t, prev.pkt.Timestamp+elapsed, cur.pkt.Timestamp, "packet %d", i)
						require.Equal(t, elapsed > SamplesPerPacket, cur.pkt.Marker, "packet %d", i)
					}
				}
			})
		})
	}
}

// TestPlayBothLegsSimultaneously checks that the two parties receive each
// prompt packet at the same instant, packet n at Started + n×20 ms, and
// that the events carry the billing and recording start times.
func TestPlayBothLegsSimultaneously(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toCaller := newDirection(t, PCMA, 0)
		// The first leg's writes are late by up to 6 ms, the wake-ups of a
		// loaded machine; the second leg is written at the same instant.
		toCaller.out.late = func(n int) time.Duration { return time.Duration(n%7) * time.Millisecond }
		toCallee := newDirection(t, PCMU, 0)
		var events []Event
		a, err := NewAnnouncer(Config{OnEvent: func(e Event) { events = append(events, e) }})
		require.NoError(t, err)
		start := time.Now()
		res, err := a.Play(context.Background(), 1, toCaller.s, toCallee.s)
		require.NoError(t, err)
		p, err := EmbeddedPrompt(1)
		require.NoError(t, err)

		assert.Equal(t, Result{Announcement: 1, Started: start, Ended: res.Ended, Packets: p.Packets()}, res)
		assert.GreaterOrEqual(t, res.Ended.Sub(res.Started), p.Duration())
		assert.Less(t, res.Ended.Sub(res.Started), p.Duration()+PacketDuration+7*time.Millisecond)
		a1, a2 := toCaller.out.packets(), toCallee.out.packets()
		require.Len(t, a1, p.Packets())
		require.Len(t, a2, p.Packets())
		for n := range a1 {
			require.Equal(t, a1[n].at, a2[n].at, "packet %d", n)
			late := a1[n].at.Sub(start.Add(time.Duration(n) * PacketDuration))
			require.True(t, late >= 0 && late < 7*time.Millisecond, "packet %d late %v", n, late)
		}
		require.Len(t, events, 2)
		assert.Equal(t, GuidanceStarted, events[0].Type)
		assert.Equal(t, start, events[0].Time)
		assert.Equal(t, GuidanceEnded, events[1].Type)
		assert.Equal(t, res.Ended, events[1].Time)
		assert.False(t, events[1].Interrupted)
	})
}

func TestPlayModeOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toCaller := newDirection(t, PCMU, 0)
		var events []Event
		a, err := NewAnnouncer(Config{Mode: ModeOff, OnEvent: func(e Event) { events = append(events, e) }})
		require.NoError(t, err)
		res, err := a.Play(context.Background(), 5, toCaller.s, nil)
		require.NoError(t, err)
		assert.Equal(t, res.Started, res.Ended)
		assert.Zero(t, res.Packets)
		require.Len(t, events, 2)
		assert.Equal(t, events[0].Time, events[1].Time)
		assert.Empty(t, toCaller.out.packets())
		relay, record := toCaller.s.RelayRecord((&party{ssrc: 1}).next())
		assert.True(t, relay, "relaying is never interrupted")
		assert.True(t, record, "recording starts at once")
	})
}

// TestPlayInterrupted hangs up mid-guidance: Play reports ErrInterrupted
// and context.Canceled, GuidanceEnded says so, and the streams relay again
// with continuity (the context may have ended for another reason).
func TestPlayInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toCaller := newDirection(t, PCMU, 0)
		toCallee := newDirection(t, PCMU, 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sent := 0
		toCaller.out.hook = func(*rtp.Packet) {
			if sent++; sent == 31 {
				cancel()
			}
		}
		var last Event
		a, err := NewAnnouncer(Config{OnEvent: func(e Event) { last = e }})
		require.NoError(t, err)
		res, err := a.Play(ctx, 3, toCaller.s, toCallee.s)
		require.ErrorIs(t, err, ErrInterrupted)
		require.ErrorIs(t, err, context.Canceled)
		assert.True(t, res.Interrupted)
		assert.Equal(t, 31, res.Packets)
		assert.Equal(t, GuidanceEnded, last.Type)
		assert.True(t, last.Interrupted)
		assert.Equal(t, res.Ended, last.Time)

		time.Sleep(PacketDuration)
		src := &party{ssrc: 9, seq: 4, ts: 4, code: 1}
		for range 3 {
			require.True(t, toCaller.forward(src.next()))
			time.Sleep(PacketDuration)
		}
		checkContinuity(t, toCaller.out.packets(), 0)

		_, err = a.Play(ctx, 3, toCaller.s, toCallee.s)
		assert.ErrorIs(t, err, ErrInterrupted, "already-ended context")
	})
}

func TestPlayBusyAndStreamErrors(t *testing.T) {
	synctest.Test(t, testPlayBusyAndStreamErrors)
}

func testPlayBusyAndStreamErrors(t *testing.T) {
	toCaller := newDirection(t, PCMU, 0)
	toCallee := newDirection(t, PCMU, 0)
	a, err := NewAnnouncer(Config{})
	require.NoError(t, err)

	var nested error
	other := newDirection(t, PCMU, 0)
	toCaller.out.hook = func(p *rtp.Packet) {
		if p.Marker {
			_, nested = a.Play(context.Background(), 1, other.s, toCallee.s)
		}
	}
	_, err = a.Play(context.Background(), 1, toCaller.s, toCallee.s)
	require.NoError(t, err)
	assert.ErrorIs(t, nested, ErrBusy)
	assert.True(t, other.forward((&party{ssrc: 1}).next()), "stream switched before the failure is restored")

	tests := map[string]struct {
		mode             Mode
		toCaller, callee *Stream
	}{
		"both, nil callee":        {ModeBoth, toCaller.s, nil},
		"both, nil caller":        {ModeBoth, nil, toCallee.s},
		"caller-only, nil caller": {ModeCallerOnly, nil, toCallee.s},
		"callee-only, nil callee": {ModeCalleeOnly, toCaller.s, nil},
		"same stream twice":       {ModeBoth, toCaller.s, toCaller.s},
	}
	for name, tc := range tests { // no t.Run in a synctest bubble
		a, err := NewAnnouncer(Config{Mode: tc.mode})
		require.NoError(t, err, name)
		_, err = a.Play(context.Background(), 1, tc.toCaller, tc.callee)
		assert.ErrorIs(t, err, ErrNoStream, name)
	}
	_, err = a.Play(context.Background(), 0, toCaller.s, toCallee.s)
	assert.ErrorIs(t, err, ErrUnknownAnnouncement)
	_, err = a.PlayPrompt(context.Background(), nil, toCaller.s, toCallee.s)
	assert.ErrorIs(t, err, ErrPromptLength)
}

// TestPlayWriteErrors: a failing leg does not stop the other leg's guidance.
func TestPlayWriteErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad, err := NewStream(StreamConfig{Writer: WriterFunc(func(*rtp.Packet) error { return errors.New("icmp unreachable") })})
		require.NoError(t, err)
		good := newDirection(t, PCMU, 0)
		a, err := NewAnnouncer(Config{})
		require.NoError(t, err)
		res, err := a.PlayPrompt(context.Background(), tonePrompt(t, 440, 1000, 200*time.Millisecond), bad, good.s)
		require.NoError(t, err)
		assert.Equal(t, 10, res.WriteErrors)
		assert.Len(t, good.out.packets(), 10)
		assert.Zero(t, res.Announcement)
	})
}

func TestNewAnnouncerConfig(t *testing.T) {
	custom := tonePrompt(t, 440, 1000, 300*time.Millisecond)
	tests := map[string]struct {
		cfg   Config
		field string // "" = valid
	}{
		"zero value":            {Config{}, ""},
		"all options":           {Config{Mode: ModeCalleeOnly, Beep: Beep{Interval: 15 * time.Second, Frequency: 1400, Length: 500 * time.Millisecond, Level: -20}}, ""},
		"unknown mode":          {Config{Mode: 9}, "Config.Mode"},
		"carrier newline":       {Config{Carrier: "ACME\n"}, "Config.Carrier"},
		"carrier spaces":        {Config{Carrier: " ACME"}, "Config.Carrier"},
		"prompt id 0":           {Config{Prompts: map[int]*Prompt{0: custom}}, "Config.Prompts"},
		"nil prompt":            {Config{Prompts: map[int]*Prompt{2: nil}}, "Config.Prompts"},
		"beep negative":         {Config{Beep: Beep{Interval: -time.Second}}, "Beep.Interval"},
		"beep ultrasonic":       {Config{Beep: Beep{Interval: time.Second, Frequency: 5000}}, "Beep.Frequency"},
		"beep longer than gap":  {Config{Beep: Beep{Interval: time.Second, Length: time.Second}}, "Beep.Length"},
		"beep too short":        {Config{Beep: Beep{Interval: time.Second, Length: time.Millisecond}}, "Beep.Length"},
		"beep above full scale": {Config{Beep: Beep{Interval: time.Second, Level: 3}}, "Beep.Level"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := NewAnnouncer(tc.cfg)
			if tc.field == "" {
				require.NoError(t, err)
				require.NotNil(t, a)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestAnnouncerCustomCarrierAndPrompts(t *testing.T) {
	custom := tonePrompt(t, 440, 1000, 300*time.Millisecond)
	a, err := NewAnnouncer(Config{Carrier: "ExampleTel", Prompts: map[int]*Prompt{3: custom}})
	require.NoError(t, err)
	p, err := a.Prompt(3)
	require.NoError(t, err)
	assert.Same(t, custom, p)
	_, err = a.Prompt(1)
	assert.ErrorIs(t, err, ErrNoPrompt, "embedded prompts say KDDI")
	_, err = a.Play(context.Background(), 1, newDirection(t, PCMU, 0).s, newDirection(t, PCMU, 0).s)
	assert.ErrorIs(t, err, ErrNoPrompt)

	// With the default carrier, a custom prompt replaces only its own ID.
	a, err = NewAnnouncer(Config{Prompts: map[int]*Prompt{3: custom}})
	require.NoError(t, err)
	p, err = a.Prompt(3)
	require.NoError(t, err)
	assert.Same(t, custom, p)
	embedded, err := EmbeddedPrompt(1)
	require.NoError(t, err)
	p, err = a.Prompt(1)
	require.NoError(t, err)
	assert.Equal(t, embedded.Samples(), p.Samples())
}

// TestBeep mixes the beep into relayed silence after the guidance: a
// 1400 Hz burst of the configured length and level at the start and then
// every Interval, and untouched audio in between.
func TestBeep(t *testing.T) {
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newDirection(t, codec, 0)
				a, err := NewAnnouncer(Config{Mode: ModeOff, Beep: Beep{Interval: time.Second, Length: 200 * time.Millisecond, Level: -20}})
				require.NoError(t, err)
				_, err = a.Play(context.Background(), 1, d.s, nil)
				require.NoError(t, err)
				silence := codec.Encode(0)
				src := &party{ssrc: 3, pt: codec.PayloadType(), code: silence}
				dtmf := &party{ssrc: 3, pt: 101, code: 0x0A}
				var audio []int16
				for i := range 125 { // 2.5 s
					require.True(t, d.forward(src.next()))
					if i == 3 {
						p := dtmf.next()
						p.SequenceNumber, p.Timestamp = src.seq, src.ts // interleaved event packet
						src.seq++
						require.True(t, d.forward(p))
						assert.Equal(t, byte(0x0A), p.Payload[0], "non-audio payload untouched")
					}
					time.Sleep(PacketDuration)
				}
				for _, sp := range d.out.packets() {
					if sp.pkt.PayloadType == codec.PayloadType() {
						for _, b := range sp.pkt.Payload {
							audio = append(audio, codec.Decode(b))
						}
					}
				}
				require.Len(t, audio, 125*SamplesPerPacket)
				want := 32767 * math.Pow(10, -20.0/20)
				for _, start := range []int{0, 8000, 16000} {
					beep := toFloat(audio[start+80 : start+1520]) // inside the ramps
					assert.InDelta(t, want, goertzel(beep, 1400, 8000), want*0.05, "beep at sample %d", start)
					gap := audio[start+1600 : start+8000]
					assert.LessOrEqual(t, rms(gap), 8.0, "silence between beeps at %d", start)
				}
			})
		})
	}
}

// TestPlayConcurrentRelaySystemClock runs a short guidance on the real
// clock while two goroutines relay both directions, for the race detector.
func TestPlayConcurrentRelaySystemClock(t *testing.T) {
	toCaller := newDirection(t, PCMU, 0)
	toCallee := newDirection(t, PCMA, 0)
	a, err := NewAnnouncer(Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range []*direction{toCaller, toCallee} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := &party{ssrc: 42, pt: d.s.pt}
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					d.forward(src.next())
				}
			}
		}()
	}
	res, err := a.PlayPrompt(context.Background(), tonePrompt(t, 440, 1000, 200*time.Millisecond), toCaller.s, toCallee.s)
	require.NoError(t, err)
	time.Sleep(30 * time.Millisecond)
	cancel()
	wg.Wait()
	assert.Equal(t, 10, res.Packets)
	for _, d := range []*direction{toCaller, toCallee} {
		st := d.s.Stats()
		assert.Equal(t, uint64(10), st.Injected)
		assert.Positive(t, st.Dropped, "party audio arriving during guidance is dropped")
		assert.Positive(t, st.Relayed)
	}
}

func TestStringers(t *testing.T) {
	assert.Equal(t, "both", ModeBoth.String())
	assert.Equal(t, "off", ModeOff.String())
	assert.Equal(t, "Mode(7)", Mode(7).String())
	assert.Equal(t, "GuidanceStarted", GuidanceStarted.String())
	assert.Equal(t, "GuidanceEnded", GuidanceEnded.String())
	assert.Equal(t, "EventType(0)", EventType(0).String())
	assert.Equal(t, "PCMA", PCMA.String())
	assert.Equal(t, "Codec(3)", Codec(3).String())
}
