package guidance

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// g711Tolerance bounds the G.711 quantisation error of sample v: both laws
// quantise with 16 steps per power-of-two segment, so the error is below
// 1/32 of the magnitude plus the smallest step.
func g711Tolerance(v int16) int {
	return int(math.Abs(float64(v)))/32 + 16
}

// TestPlayerPacketsDecodeToPrompt packetises a prompt and decodes the RTP
// payloads with the same codec: the audio must equal the prompt within
// G.711 quantisation, then silence to the end of the last packet.
func TestPlayerPacketsDecodeToPrompt(t *testing.T) {
	embedded, err := EmbeddedPrompt(3)
	require.NoError(t, err)
	prompts := map[string]*Prompt{
		"embedded 3":           embedded,
		"full-scale tone":      tonePrompt(t, 700, 32767, 1010*time.Millisecond), // partial last packet
		"quiet tone":           tonePrompt(t, 300, 100, 400*time.Millisecond),
		"exactly one packet":   tonePrompt(t, 1000, 5000, PacketDuration),
		"one sample past four": tonePrompt(t, 1000, 5000, 80*time.Millisecond+time.Second/SampleRate),
	}
	for _, codec := range []Codec{PCMU, PCMA} {
		for name, p := range prompts {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				cfg := PlayerConfig{Codec: codec, SSRC: 0xCAFEBABE, SequenceNumber: 65500, Timestamp: 0xFFFFF000}
				pl, err := NewPlayer(p, cfg)
				require.NoError(t, err)
				require.Equal(t, (p.Len()+159)/160, pl.Packets())

				var got []int16
				for n := 0; ; n++ {
					pkt, ok := pl.Next()
					if !ok {
						require.Equal(t, pl.Packets(), n)
						break
					}
					assert.Equal(t, uint8(2), pkt.Version)
					assert.Equal(t, codec.PayloadType(), pkt.PayloadType)
					assert.Equal(t, uint32(0xCAFEBABE), pkt.SSRC)
					assert.Equal(t, n == 0, pkt.Marker, "marker on the first packet only")
					assert.Equal(t, uint16(65500+n), pkt.SequenceNumber) // wraps after 35
					assert.Equal(t, uint32(0xFFFFF000+uint32(n)*160), pkt.Timestamp)
					require.Len(t, pkt.Payload, SamplesPerPacket)
					raw, err := pkt.Marshal()
					require.NoError(t, err)
					var wire rtp.Packet
					require.NoError(t, wire.Unmarshal(raw))
					for _, b := range wire.Payload {
						got = append(got, codec.Decode(b))
					}
				}
				want := p.Samples()
				for i, w := range want {
					if d := int(got[i]) - int(w); d > g711Tolerance(w) || -d > g711Tolerance(w) {
						t.Fatalf("sample %d: got %d want %d (error %d)", i, got[i], w, d)
					}
				}
				for i := len(want); i < len(got); i++ {
					require.LessOrEqual(t, math.Abs(float64(got[i])), 8.0, "padding must be silence")
				}
				_, ok := pl.Next()
				assert.False(t, ok)
				assert.Equal(t, pl.Packets(), pl.Sent())
			})
		}
	}
}

func TestNewPlayerErrors(t *testing.T) {
	p := tonePrompt(t, 440, 1000, 100*time.Millisecond)
	tests := map[string]struct {
		prompt *Prompt
		cfg    PlayerConfig
		want   error
	}{
		"nil prompt":        {nil, PlayerConfig{}, ErrPromptLength},
		"empty prompt":      {&Prompt{}, PlayerConfig{}, ErrPromptLength},
		"unknown codec":     {p, PlayerConfig{Codec: 7}, ErrInvalidConfig},
		"payload type >127": {p, PlayerConfig{PayloadType: 128}, ErrInvalidConfig},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewPlayer(tc.prompt, tc.cfg)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	pl, err := NewPlayer(p, PlayerConfig{Codec: PCMA, PayloadType: 98})
	require.NoError(t, err)
	pkt, _ := pl.Next()
	assert.Equal(t, uint8(98), pkt.PayloadType, "dynamic payload type kept")
}

// TestPlayerPacingNoDrift plays a ten-minute prompt in a synctest bubble
// where every write is late by up to 15 ms, with occasional 70 ms stalls
// (the writer sleeps before the packet counts as sent). Packet
// n must still leave at start + n×20 ms plus at most that wake-up's
// lateness: lateness never accumulates into drift.
func TestPlayerPacingNoDrift(t *testing.T) {
	const maxLate = 15 * time.Millisecond
	const stall = 70 * time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	synctest.Test(t, func(t *testing.T) {
		prompt := &Prompt{samples: make([]int16, 10*60*SampleRate)}
		pl, err := NewPlayer(prompt, PlayerConfig{Codec: PCMU})
		require.NoError(t, err)
		w := &capture{late: func(n int) time.Duration {
			if n%997 == 500 {
				return stall
			}
			return time.Duration(rng.Int64N(int64(maxLate)))
		}}
		start := time.Now()
		require.NoError(t, pl.Play(context.Background(), w))

		pkts := w.packets()
		require.Len(t, pkts, 30000)
		var worst time.Duration
		for n, sp := range pkts {
			due := start.Add(time.Duration(n) * PacketDuration)
			late := sp.at.Sub(due)
			require.GreaterOrEqual(t, late, time.Duration(0), "packet %d early", n)
			require.LessOrEqual(t, late, stall+maxLate, "packet %d late by %v", n, late)
			worst = max(worst, late)
			assert.Equal(t, uint32(n)*160, sp.pkt.Timestamp-pkts[0].pkt.Timestamp)
		}
		lastLate := pkts[len(pkts)-1].at.Sub(start.Add(29999 * PacketDuration))
		assert.Less(t, lastLate, maxLate, "drift at the end of ten minutes")
		end := time.Now().Sub(start)
		assert.GreaterOrEqual(t, end, 30000*PacketDuration, "Play returns once the last packet has played out")
		assert.Less(t, end, 30000*PacketDuration+maxLate)
		t.Logf("worst lateness %v, final %v", worst, lastLate)
	})
}

func TestPlayerPlayInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, err := NewPlayer(tonePrompt(t, 440, 1000, time.Second), PlayerConfig{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		w := &capture{}
		w.hook = func(p *rtp.Packet) {
			if p.SequenceNumber == 10 {
				cancel()
			}
		}
		err = pl.Play(ctx, w)
		require.ErrorIs(t, err, ErrInterrupted)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 11, pl.Sent())
	})
}

func TestPlayerPlayWriteError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, err := NewPlayer(tonePrompt(t, 440, 1000, time.Second), PlayerConfig{SequenceNumber: 1})
		require.NoError(t, err)
		boom := errors.New("socket closed")
		err = pl.Play(context.Background(), WriterFunc(func(p *rtp.Packet) error {
			if p.SequenceNumber == 5 {
				return boom
			}
			return nil
		}))
		require.ErrorIs(t, err, boom)
		assert.Equal(t, 5, pl.Sent())
	})
}

func TestPlayerPlaySystemClock(t *testing.T) {
	pl, err := NewPlayer(tonePrompt(t, 440, 1000, 60*time.Millisecond), PlayerConfig{})
	require.NoError(t, err)
	n := 0
	require.NoError(t, pl.Play(context.Background(), WriterFunc(func(*rtp.Packet) error { n++; return nil })))
	assert.Equal(t, 3, n)
}

func TestPlayerNextAllocatesNothing(t *testing.T) {
	p := &Prompt{samples: make([]int16, MaxPromptDuration/time.Second*SampleRate)}
	for _, codec := range []Codec{PCMU, PCMA} {
		pl, err := NewPlayer(p, PlayerConfig{Codec: codec})
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(1000, func() { pl.Next() })
		assert.Zero(t, allocs, codec.String())
	}
}

// BenchmarkPlayer measures the packetiser: one op is one 20 ms packet
// (160 samples G.711-encoded into a reused RTP packet).
func BenchmarkPlayer(b *testing.B) {
	prompt, err := EmbeddedPrompt(1)
	if err != nil {
		b.Fatal(err)
	}
	for _, codec := range []Codec{PCMU, PCMA} {
		b.Run(codec.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(SamplesPerPacket * 2)
			pl, err := NewPlayer(prompt, PlayerConfig{Codec: codec})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, ok := pl.Next(); !ok {
					pl.next = 0
				}
			}
		})
	}
}

// BenchmarkPlayerPaced measures packetising, pacing and writing through the
// pacing loop with every packet already due (its start an hour ago), so that
// it never sleeps: one op is one packet.
func BenchmarkPlayerPaced(b *testing.B) {
	b.ReportAllocs()
	prompt := &Prompt{samples: make([]int16, MaxPromptDuration/time.Second*SampleRate)}
	pl, err := NewPlayer(prompt, PlayerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	w := WriterFunc(func(*rtp.Packet) error { return nil })
	for sent := 0; sent < b.N; sent += pl.Packets() {
		pl.next = max(0, pl.Packets()-(b.N-sent))
		if err := pl.playFrom(context.Background(), w, time.Now().Add(-24*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
